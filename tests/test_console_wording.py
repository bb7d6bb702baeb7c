"""What pt-BR staff read: plurals that treat 0 as plural, people by their names, Django's own phrases
overridden where they read badly; one word per secret state, keys "registradas" and "criadas", roles by
name, "—" for nothing and a header on every column."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.models import ClientSecret
from tests.conftest import TEST_ACTOR
from tests.test_admin import url
from tests.test_console_safety import login
from tokens.services import community_rotate_secret, revocation_request_open

pytestmark = pytest.mark.django_db


def test_zero_reads_as_plural_in_the_console_counts():
    with translation.override("pt-br"):
        assert ngettext("%(count)s token", "%(count)s tokens", 0) % {"count": 0} == "0 tokens"
        assert (
            ngettext("%(count)s revocation request", "%(count)s revocation requests", 0) % {"count": 0}
            == "0 pedidos de revogação"
        )
        assert str(AuditEvent._meta.verbose_name_plural) == "eventos da trilha de auditoria"
        # Django admin's own, whose pt_BR catalogue treats 0 as singular: overridden in ours.
        assert ngettext("%(counter)s result", "%(counter)s results", 0) % {"counter": 0} == "0 resultados"


def test_the_admin_selection_counter_says_zero_selected_in_the_plural(admin_client):
    script = admin_client.get(reverse("admin:jsi18n"), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "const v = (n != 1)" in script or "(n != 1)" in script
    assert '"%(sel)s de %(cnt)s selecionados"' in script


def test_django_phrases_are_overridden():
    with translation.override("pt-br"):
        logged_out = gettext("Thanks for spending some quality time with the web site today.")
        wrong = gettext(
            "Please enter the correct %(username)s and password for a staff account. Note that both "
            "fields may be case-sensitive."
        )
        rotated = gettext("The secret of %(name)s was rotated; the new one starts with %(hint)s.")
    assert logged_out == "Sessão encerrada."
    assert "os dois campos" in wrong
    assert not (rotated % {"name": "acme", "hint": "bfl_sk_P3vr…"}).endswith("….")


def test_singular_revoke_question_does_not_speak_of_them():
    with translation.override("pt-br"):
        question = ngettext(
            "Deactivate %(name)s and revoke its %(count)s live token?",
            "Deactivate %(name)s and revoke its %(count)s live tokens?",
            1,
        ) % {"name": "acme", "count": 1}
        after = gettext("Their next request gets a 401. Tokens already revoked or expired stay as they are.")
    assert "o seu 1" not in question
    assert "com eles" not in after


def test_the_audit_event_page_names_the_staff_member(admin_client):
    User.objects.create_user("sup1", first_name="Sueli", last_name="Prado", is_staff=True)
    audit_record(event_type=AuditEvent.EventType.STAFF_SIGNED_OUT, actor=Actor.staff(User(username="sup1")))
    event = AuditEvent.objects.get(event_type=AuditEvent.EventType.STAFF_SIGNED_OUT, actor="sup1")
    page = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()
    assert "Sueli Prado" in page
    heading = page.split("<h2>", 1)[1].split("</h2>", 1)[0]
    assert heading.endswith("por Sueli Prado"), heading
    crumbs = page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert "por Sueli Prado" in crumbs and "sup1" not in crumbs, crumbs
    assert event.actor == "sup1"  # the row keeps the username


def _column_header(page: str, column: str) -> str:
    return page.split(f"column-{column}", 1)[1].split("</th>", 1)[0]


def _secret_states(page: str) -> dict[str, str]:
    """The community page's secrets table: hint → state."""
    table = page.split('id="secrets"', 1)[1].split("</table>", 1)[0]
    rows = [row.split("</tr>", 1)[0] for row in table.split("<tr>")[2:]]
    cells = [[cell.split("</td>", 1)[0] for cell in row.split("<td>")[1:]] for row in rows]
    return {row[0].removeprefix("<code>").removesuffix("</code>"): row[2] for row in cells}


def test_a_secret_a_request_suspended_reads_suspended_and_one_whose_grace_ended_reads_ended(client, acme):
    community = acme.community
    first = ClientSecret.objects.get(community=community)
    community_rotate_secret(community=community, actor=TEST_ACTOR, grace=timedelta(0))
    second = ClientSecret.objects.filter(community=community).latest("created_at")
    revocation_request_open(community=community, reason="leaked", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    states = _secret_states(page)
    assert states == {first.hint: "encerrado", second.hint: "suspenso"}, states
    opened = AuditEvent.objects.get(event_type="revocation_request_opened")
    row = client.get(url("audit_auditevent_change", opened.pk)).content.decode()
    labels = row.split('class="audit-details"', 1)[1].split("</dl>", 1)[0]
    assert "segredos suspensos" in labels and "encerrad" not in labels, labels


def test_a_key_list_says_criada_em_beside_aposentada_em(client, acme):
    from clients.services import client_key_add
    from tests.keyfactory import private_key, public_pem

    client_key_add(community=acme.community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("clients_clientkey_changelist")).content.decode()
    assert "criada em" in _column_header(page, "created_at").lower()
    assert "aposentada em" in _column_header(page, "retired_at").lower()
    assert "criado em" not in page.lower()


def test_keys_are_registered_never_cadastradas(client, acme):
    from tests.keyfactory import private_key, public_pem

    login(client, "sue", "security")
    add = url("clients_clientkey_add")
    pages = [
        client.get(add),
        client.post(add, {"community": acme.community.pk, "public_key": public_pem(private_key("ES256"))}),
        client.post(add, {"community": acme.community.pk, "public_key": "-----BEGIN PRIVATE KEY-----"}),
        client.get(url("clients_clientauthpolicy_set", acme.community.pk)),
    ]
    for response in pages:
        text = response.content.decode()
        assert response.status_code == 200 and "registr" in text.lower()
        assert "adastr" not in text, text[text.find("adastr") - 200 : text.find("adastr") + 50]


def test_a_pending_or_closed_request_says_concluido_once_with_the_em_dash(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leaked", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    completed = page.split("field-completed", 1)[1].split('<div class="readonly">', 1)[1].split("</div>")[0]
    assert completed == "—"
    assert "concluído em" not in page.lower()
    assert '<div class="readonly">-</div>' not in page  # nothing reads "—" everywhere, never "-"


def test_every_list_column_with_buttons_has_a_header(api, client, acme):
    from clients.services import client_key_add
    from tests.conftest import issue_token
    from tests.keyfactory import private_key, public_pem

    issue_token(api, acme)
    client_key_add(community=acme.community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    login(client, "sue", "security")
    tokens = client.get(url("tokens_issuedtoken_changelist")).content.decode()
    assert "ações" in _column_header(tokens, "revoke_button").lower()
    keys = client.get(url("clients_clientkey_changelist")).content.decode()
    assert "ações" in _column_header(keys, "retire_link").lower()


def test_groups_show_as_roles_never_by_their_raw_names(admin_client):
    someone = User.objects.create_user("sam", is_staff=True)
    someone.groups.add(Group.objects.get(name="support"))
    shown = {
        "user list": admin_client.get(url("auth_user_changelist")).content.decode(),
        "user page": admin_client.get(url("auth_user_change", someone.pk)).content.decode(),
        "group list": admin_client.get(url("auth_group_changelist")).content.decode(),
        "staff accounts": admin_client.get(url("console_staffaccount_changelist")).content.decode(),
    }
    for where, page in shown.items():
        assert ">security<" not in page and ">support<" not in page, where
        assert "suporte" in page, where
