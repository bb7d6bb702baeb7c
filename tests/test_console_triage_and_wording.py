"""A fresh-eyes review of the console (pt-BR), through Django's test client: a partner's "we get 401"
found from its community's page (refusals that name only its client_id, every secret suspended said at
the top); the policy page in the console's words; an unauthenticated actor in words, never "-"; "pelo
parceiro" and no pronoun agreeing with a community's name; a lock page that names no one to an anonymous
visitor; one public key for one partner; someone else's secret link told truthfully."""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from clients.crypto import generate_secret
from clients.models import ClientKey
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, issue_token
from tests.keyfactory import private_key, public_pem
from tests.test_admin import url
from tests.test_console_safety import login
from tokens.models import IssuedToken
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _refused_with_a_wrong_secret(api, created) -> None:
    """A well-formed secret that is none of the community's: refused, and the row names only the client_id
    (a known and an unknown client_id cost the same at request time). A real secret that was suspended
    names the community instead: tests/test_true_credential_refusals_and_audit_allowance.py."""
    response = api.post(
        "/auth/token",
        {"client_id": created.community.client_id, "client_secret": generate_secret()},
        format="json",
    )
    assert response.status_code == 401


# --- 1. "we get 401": the community's trail and history hold the refusals its page counts -------------


def test_a_refusal_naming_only_the_client_id_is_in_the_communitys_trail_and_counted_on_its_history(
    api, client, acme
):
    _refused_with_a_wrong_secret(api, acme)
    api.post("/auth/token", {"client_id": "nobody", "client_secret": acme.client_secret}, format="json")
    refused = AuditEvent.objects.get(event_type="client_auth_failed", client_id="acme")
    assert refused.community is None  # as written at request time: unchanged

    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    trail_link = re.search(r'href="(/admin/audit/auditevent/\?[^"]+)">(\d+) eventos de auditoria', page)
    counted = AuditEvent.objects.filter(community=acme.community).count() + 1
    assert trail_link and int(trail_link.group(2)) == counted

    trail = _text(client.get(trail_link.group(1).replace("&amp;", "&")).content.decode())
    assert "chamador não autenticado (client_id: acme)" in trail
    assert "nobody" not in trail  # another client_id's refusal is not this community's

    # The history counts it apart from the rows (an outsider must not push staff actions off the page).
    history = client.get(f"/admin/communities/community/{acme.community.pk}/history/").content.decode()
    summary = _text(history.split('id="outsider-refusals">', 1)[1].split("</div>", 1)[0])
    assert "chamador sem credencial válida (client_id: acme)" in summary and "1 no total" in summary, summary
    assert "client_id: nobody" not in history


def test_the_community_page_says_at_its_top_when_every_secret_is_suspended(client, acme, globex):
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    # A secrets-only policy: no way in is left, so the no-token banner says it (one banner, not two).
    assert 'id="secrets-suspended"' not in page
    top = page.split('id="no-token">', 1)[1].split("</p>", 1)[0]
    assert "todos os segredos estão suspensos" in _text(top) and "recebe 401" in _text(top)
    assert page.index('id="no-token"') < page.index('id="usage"')  # above the charts
    other = client.get(url("communities_community_change", globex.community.pk)).content.decode()
    assert 'id="secrets-suspended"' not in other and 'id="no-token"' not in other


# --- 2. the policy's own pages in the console's words ---------------------------------------------------


def test_the_policy_page_and_its_history_speak_the_consoles_words(client, acme):
    change = PolicyChange(methods=["client_secret", "private_key_jwt"])
    client_auth_policy_set(community=acme.community, change=change, actor=TEST_ACTOR)
    login(client, "sam", "support")  # support reads the page; security is sent to the set page
    base = f"/admin/clients/clientauthpolicy/{acme.community.pk}"
    page = _text(client.get(f"{base}/change/").content.decode())
    assert "auth policy" not in page and "Política de acme community (acme)" in page
    assert "Segredo do parceiro (client_secret) aceito" in page
    assert "Assinatura com a chave do parceiro (private_key_jwt) aceita" in page
    assert "Client_secret permitido" not in page and "Private_key_jwt permitido" not in page
    assert "IPs de origem permitidos: qualquer lugar" in page
    history = _text(client.get(f"{base}/history/").content.decode())
    assert "auth policy" not in history and "Política de acme community (acme)" in history


# --- 3. an actor with no name reads as words, never "-" -------------------------------------------------


def test_an_unauthenticated_actor_reads_as_words_on_the_list_and_the_event_page(api, client, acme):
    _refused_with_a_wrong_secret(api, acme)
    Client(REMOTE_ADDR="198.51.100.9").post("/admin/login/", {"username": "ghost", "password": "wrong"})
    login(client, "sue", "security")
    listed = _text(client.get("/admin/audit/auditevent/").content.decode())
    assert "chamador não autenticado (client_id: acme)" in listed and "alguém não identificado" in listed
    assert " - chamador não autenticado" not in listed

    refused = AuditEvent.objects.get(event_type="client_auth_failed")
    page = _text(client.get(url("audit_auditevent_change", refused.pk)).content.decode())
    assert "autenticação do parceiro recusada por chamador não autenticado (client_id: acme)" in page
    assert "por -" not in page and "Quem: -" not in page
    failed = AuditEvent.objects.get(event_type="staff_sign_in_failed")
    page = _text(client.get(url("audit_auditevent_change", failed.pk)).content.decode())
    assert "por alguém não identificado" in page and "por -" not in page and "Quem: -" not in page


# --- 4. grammar -------------------------------------------------------------------------------------------


def test_a_token_the_partner_revoked_reads_pelo_parceiro(api, client, acme):
    issue_token(api, acme)
    IssuedToken.objects.update(revoked_at=timezone.now(), revoked_by="partner:acme")
    login(client, "sam", "support")
    listed = _text(client.get(url("tokens_issuedtoken_changelist")).content.decode())
    assert "pelo parceiro (acme)" in listed and "por o parceiro" not in listed


def test_the_deactivate_page_says_da_comunidade_not_a_pronoun_agreeing_with_the_name(api, client, acme):
    issue_token(api, acme)
    issue_token(api, acme)
    login(client, "sue", "security")
    page = _text(client.get(url("communities_community_deactivate", acme.community.pk)).content.decode())
    assert "revogar os 2 tokens ativos da comunidade?" in page
    assert "A comunidade não recebe tokens novos até que alguém do grupo de segurança a reative: sue." in page
    assert "dela?" not in page and "Ela não recebe" not in page


def test_the_security_contacts_form_labels_are_capitalised(client):
    login(client, "sue", "security")
    page = client.get(url("notifications_securitycontacts_add")).content.decode()
    assert "Endereços de e-mail:" in page and "endereços de e-mail:" not in page


# --- 5. the public lock page names no one -------------------------------------------------------------


def test_the_public_lock_page_says_who_helps_by_role_and_names_no_one(client):
    for name in ("seg1", "seg2"):
        user = User.objects.create_user(name, password="pw-123456789", is_staff=True, first_name=name.title())
        user.groups.add(Group.objects.get(name="security"))
    outsider = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        outsider.post("/admin/login/", {"username": "nobody-here", "password": "wrong"})
    locked = outsider.post("/admin/login/", {"username": "nobody-here", "password": "wrong"})
    page = _text(locked.content.decode())
    assert locked.status_code == 429 and "Seg1" not in page and "Seg2" not in page
    assert "Membros do grupo de segurança:" not in page
    assert "qualquer membro do grupo de segurança" in page and "axes_reset_username" in page
    assert "Tente de novo em 15 minutos" in page


# --- 6. one public key, one partner -------------------------------------------------------------------


def test_a_key_registered_for_another_community_is_refused_in_the_console(client, acme, globex):
    key = private_key("ES256", fresh=True)
    client_key_add(community=acme.community, key_text=public_pem(key), actor=TEST_ACTOR)
    login(client, "sue", "security")
    pasted = client.post(
        url("clients_clientkey_add"), {"community": globex.community.pk, "public_key": public_pem(key)}
    )
    said = _text(pasted.content.decode())
    assert pasted.status_code == 200 and 'id="key-fingerprint"' not in pasted.content.decode()
    assert "Esta chave já está registrada para acme community (acme)." in said
    assert "poderia agir pelas duas comunidades" in said
    confirmed = client.post(
        url("clients_clientkey_add"),
        {
            "community": globex.community.pk,
            "step": "confirm",
            "public_key": public_pem(key),
            "thumbprint": key.thumbprint(),
            "confirmed": "on",
        },
    )
    assert "já está registrada para acme community (acme)." in _text(confirmed.content.decode())
    assert list(ClientKey.objects.values_list("community__client_id", flat=True)) == ["acme"]


def test_add_client_key_refuses_a_key_of_another_community(tmp_path, acme, globex):
    key = private_key("ES256", fresh=True)
    path = tmp_path / "key.pem"
    path.write_text(public_pem(key))
    call_command("add_client_key", "acme", "--public-key", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="acme community \\(acme\\)"):
        call_command("add_client_key", "globex", "--public-key", str(path), stdout=StringIO())
    assert ClientKey.objects.filter(community=globex.community).count() == 0
