"""What pt-BR staff read: plurals that treat 0 as plural, people by their names, Django's own phrases
overridden where they read badly; one word per secret state, keys "registradas" and "criadas", roles by
name, "—" for nothing and a header on every column; titles, filters and dates that read naturally, one
word for each thing (parceiro, janela de tolerância, autenticações recusadas), times in "horário de
Brasília"."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
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
    assert logged_out == "Você saiu do console da equipe."  # the page's title already says "Sessão encerrada"
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


# --- round 3, fresh-eyes review: Django's phrases, titles and filters ---------------------------------


def _content(page: str) -> str:
    """The page's #content, without its tags: what the staff member reads below the header."""
    body = page.split('id="content"', 1)[1].split('id="footer"', 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def _filters(page: str) -> str:
    return " ".join(
        re.sub(r"<[^>]+>", " ", page.split('id="changelist-filter"', 1)[1].split(">", 1)[1]).split()
    )


def test_the_header_has_no_view_site_link_and_names_the_zone_as_staff_say_it(client):
    login(client, "sue", "security")
    page = client.get(reverse("admin:index")).content.decode()
    assert "Ver o site" not in page and "/api/docs" not in page  # the partners' docs, in English
    zone = page.split('id="console-zone">', 1)[1].split("</div>", 1)[0]
    assert zone == "Horário de Brasília" and "Sao_Paulo" not in page
    assert "Nenhuma ação recente." in page and "Nenhum disponível" not in page


def test_a_section_and_each_list_are_titled_by_what_they_hold(client, acme):
    login(client, "sue", "security")
    section = client.get(reverse("admin:app_list", args=["communities"])).content.decode()
    assert "<h1>Parceiros</h1>" in section and "administração" not in section
    lists = {
        "communities_community": "Comunidades",
        "tokens_issuedtoken": "Tokens emitidos",
        "clients_clientkey": "Chaves públicas do parceiro",
        "audit_auditevent": "Eventos da trilha de auditoria",
    }
    for name, title in lists.items():
        page = client.get(url(f"{name}_changelist")).content.decode()
        assert f"<h1>{title}</h1>" in page, name
        assert "Selecione" not in page.split("<title>", 1)[1].split("</title>", 1)[0], name


def test_an_action_with_nothing_ticked_says_what_to_do(client, api, acme):
    from tests.conftest import issue_token

    issue_token(api, acme)
    login(client, "sue", "security")
    page = client.post(
        url("tokens_issuedtoken_changelist"), {"action": "revoke_selected", "index": 0}, follow=True
    ).content.decode()
    assert "Selecione ao menos um item para executar uma ação." in page
    assert "em ordem a fim de" not in page


def test_filters_are_titled_by_a_label_and_todas_agrees_with_a_feminine_one(client, api, acme, globex):
    from tests.conftest import issue_token

    issue_token(api, acme)
    issue_token(api, globex)  # two communities: the community filter shows
    login(client, "sue", "security")
    communities = _filters(client.get(url("communities_community_changelist")).content.decode())
    assert "Situação Todas ativas inativas" in communities
    tokens = _filters(client.get(url("tokens_issuedtoken_changelist")).content.decode())
    assert "Situação Todas" in tokens and "Comunidade Todas" in tokens
    audit = _filters(client.get(url("audit_auditevent_changelist")).content.decode())
    assert "Evento Todos" in audit and "Comunidade Todas" in audit and "Data Qualquer data" in audit
    for text in (communities, tokens, audit):
        assert "Por " not in text and "ocorreu em" not in text.lower(), text


def test_month_names_are_lower_case(client, api, acme):
    from tests.conftest import issue_token

    with translation.override("pt-br"):
        assert date_format(date(2026, 12, 7), "MONTH_DAY_FORMAT") == "7 de dezembro"
        assert date_format(date(2026, 3, 1), "YEAR_MONTH_FORMAT") == "março de 2026"
    issue_token(api, acme)
    login(client, "sue", "security")
    hierarchy = client.get(url("audit_auditevent_changelist")).content.decode()
    hierarchy = hierarchy.split('<nav class="toplinks">', 1)[1].split("</nav>", 1)[0]
    assert re.search(r"\d+ de [a-zç]+<", hierarchy), hierarchy


def test_the_sign_out_page_says_so_once_and_a_stale_form_has_expired(acme):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    login(browser, "sue", "security")
    stale = browser.post(url("clients_clientauthpolicy_set", acme.community.pk), {"reason": "x"})
    assert "Esta página expirou" in stale.content.decode() and "tinha expirado" not in stale.content.decode()
    browser = Client()
    login(browser, "sam", "support")
    content = _content(browser.post(reverse("admin:logout")).content.decode())
    assert content.count("Sessão encerrada") == 1, content
    assert "Você saiu do console da equipe." in content


# --- one word for one thing ---------------------------------------------------------------------------


def test_the_partner_is_the_parceiro_and_its_id_the_client_id(client, acme):
    login(client, "sue", "security")
    keys = client.get(url("clients_clientkey_changelist")).content.decode()
    assert "Chaves públicas do parceiro" in keys and "do cliente" not in keys
    communities = client.get(url("communities_community_changelist")).content.decode()
    assert "ID do cliente (client_id)" in _column_header(communities, "client_id")
    onboard = client.get(url("communities_community_add")).content.decode()
    assert "ID do cliente (client_id)" in onboard
    policy = client.get(url("clients_clientauthpolicy_set", acme.community.pk)).content.decode()
    assert "Assinatura com a chave do parceiro (private_key_jwt)" in policy
    assert "Segredo do parceiro (client_secret)" in policy
    assert "Chave assinada" not in policy and "do cliente" not in policy
    assert "com o seu nome e o seu IP" in policy  # the audit row records both
    with translation.override("pt-br"):
        prompt = gettext("This action creates or shows a client secret. Confirm it is you to go on.")
    assert "segredo do parceiro" in prompt


def test_each_add_button_says_what_its_page_says(client):
    login(client, "sue", "security")
    for name in ("communities_community", "clients_clientauthpolicy", "clients_clientkey"):
        listing = client.get(url(f"{name}_changelist")).content.decode()
        button = listing.split('class="addlink">', 1)[1].split("</a>", 1)[0].strip()
        added = client.get(url(f"{name}_add")).content.decode()
        assert f"<h1>{button}</h1>" in added, (name, button)
    listing = client.get(url("communities_community_changelist")).content.decode()
    assert "Cadastrar uma comunidade" in listing and "Adicionar comunidade" not in listing


def test_a_community_page_reads_criada_recusadas_and_em_branco(client, acme):
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert "Criada em" in page and "Atualizada em" in page and "Criado em" not in page
    assert "Autenticações recusadas" in page and "com falha" not in page
    assert "em branco: o padrão" in page and "vazio" not in page


def test_the_grace_window_has_one_name_and_one_duration_form(client, acme):
    login(client, "sue", "security")
    form = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    assert "Janela de tolerância" in form and "continua valendo" not in form
    # timesince's words, kept together by a no-break space ("1\xa0dia"), as in the audit trail
    assert re.search(r">1\xa0dia: até \d\d/\d\d/\d{4} \d\d:\d\d \(horário de Brasília\)<", form), form
    assert "24 horas" not in form and "Sao_Paulo" not in form
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=24))
    rotated = AuditEvent.objects.get(event_type="secret_rotated")
    details = client.get(url("audit_auditevent_change", rotated.pk)).content.decode()
    labels = details.split('class="audit-details"', 1)[1].split("</dl>", 1)[0]
    assert "<dt>janela de tolerância</dt><dd>1\xa0dia</dd>" in labels, labels


def test_audit_details_name_secrets_by_their_start_and_revoked_tokens_by_one_label(client, acme):
    from tokens.services import tokens_revoke_all

    first = ClientSecret.objects.get(community=acme.community)
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=1))
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="leak")
    login(client, "sue", "security")
    rotated = AuditEvent.objects.get(event_type="secret_rotated")
    labels = client.get(url("audit_auditevent_change", rotated.pk)).content.decode()
    labels = labels.split('class="audit-details"', 1)[1].split("</dl>", 1)[0]
    assert first.hint in labels and "número" not in labels, labels
    revoked = AuditEvent.objects.filter(details__has_key="revoked").first()
    assert revoked is not None
    labels = client.get(url("audit_auditevent_change", revoked.pk)).content.decode()
    labels = labels.split('class="audit-details"', 1)[1].split("</dl>", 1)[0]
    assert "<dt>tokens revogados</dt>" in labels and "<dt>revogado</dt>" not in labels, labels


# --- round 6: a fresh-eyes review (support and security) -------------------------------------------------


def test_a_missing_community_or_key_is_said_without_a_gender(client, acme):
    login(client, "sue", "security")
    said = client.get(url("communities_community_change", 999), follow=True).content.decode()
    assert "Não há registro de comunidade com o ID “999”. Talvez tenha sido excluído." in said
    assert "O comunidade" not in said and "removido" not in said


def test_recent_actions_never_show_a_request_as_pending_once_it_is_completed(client, acme):
    from console.once import form_key_new
    from tokens.models import RevocationRequest

    sam = login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    opened = client.post(
        page, {"community": acme.community.pk, "reason": "phoned", "form_key": form_key_new()}
    )
    assert opened.status_code == 302
    revocation = RevocationRequest.objects.get()
    RevocationRequest.objects.filter(pk=revocation.pk).update(status=RevocationRequest.Status.DONE)

    client.force_login(sam)
    home = client.get(url("index")).content.decode()
    recent = home.split('id="recent-actions-module"', 1)[1].split("</div>", 1)[0]
    assert f"Pedido #{revocation.pk} de acme" in recent, recent
    assert "pendente" not in recent, recent
    listing = client.get(url("tokens_revocationrequest_changelist")).content.decode()
    assert f"Pedido #{revocation.pk} de acme (concluído)" in listing  # the list says the state now


def test_a_revoked_token_page_names_who_revoked_it_as_the_list_does(api, client, acme):
    from tests.conftest import issue_token
    from tokens.models import IssuedToken
    from tokens.services import tokens_revoke

    issue_token(api, acme)
    token = IssuedToken.objects.get()
    support = User.objects.create_user("suporte24", first_name="Sueli", last_name="Prado", is_staff=True)
    tokens_revoke(community=acme.community, jtis=[token.jti], actor=Actor.staff(support), reason="phoned")
    login(client, "sue", "security")
    listing = client.get(url("tokens_issuedtoken_changelist")).content.decode()
    assert "por Sueli Prado" in listing
    page = client.get(url("tokens_issuedtoken_change", token.pk)).content.decode()
    revoked_by = page.split("Revogado por:</label>", 1)[1].split('<div class="readonly">', 1)[1]
    assert revoked_by.split("</div>", 1)[0] == "Sueli Prado" and "staff:" not in page, revoked_by


def test_the_policy_list_says_atualizada_em_and_the_community_page_has_one_historico(client, acme):
    from clients.services import PolicyChange, client_auth_policy_set

    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    login(client, "sue", "security")
    policies = client.get(url("clients_clientauthpolicy_changelist")).content.decode()
    assert "Atualizada em" in _column_header(policies, "updated_at")
    assert "Atualizado em" not in policies
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    assert "Datas" in headings and "Histórico" not in headings, headings
    assert page.count(">Histórico<") == 1  # the button to the community's whole history


def test_a_valid_secret_the_policy_refuses_reads_not_usable_on_the_community_page_and_list(client, acme):
    """Support answering "we get 401": a keys-only policy makes the current secret useless, and the
    secrets tables say so, as the keys table does for a policy that refuses keys."""
    from clients.services import PolicyChange, client_auth_policy_set

    community = acme.community
    secret = ClientSecret.objects.get(community=community)
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    assert _secret_states(page) == {secret.hint: "atual"}

    client_auth_policy_set(
        community=community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    refused = "válido, mas não utilizável: a política não aceita segredos"
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    assert _secret_states(page) == {secret.hint: refused}
    listing = client.get(url("communities_community_changelist")).content.decode()
    assert refused in listing and "atual" not in listing.split('id="result_list"', 1)[1]


def test_a_refused_page_tells_a_security_member_to_ask_a_superuser_not_their_own_group(client):
    """Staff accounts are a superuser's screen: "ask someone in the security group" would send a security
    member to their own group; support is still sent to security."""
    login(client, "sue", "security")
    refused = client.get(reverse("admin:auth_user_changelist"))
    assert refused.status_code == 403
    body = refused.content.decode()
    assert "superusuário" in body and "grupo de segurança" not in body

    client.logout()
    login(client, "sam", "support")
    assert "grupo de segurança" in client.get(reverse("admin:auth_user_changelist")).content.decode()
