"""What the console says about a community's registered public keys and about a community with no way in,
read in pt-BR through Django's test client: the revocation-request form says from its first view which
keys outlast the suspended secrets; the page showing a new secret says a key still works; a lock-out
names its real cause; the community page lists its keys; keys are "aposentadas", secrets "do parceiro"."""

import re

import pytest

from audit.models import AuditEvent
from clients.models import ClientKey, ClientSecret
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, issue_token
from tests.test_admin import form_key, url
from tests.test_console_review_followups import _messages, _with_key
from tests.test_console_safety import login
from tokens.models import RevocationRequest
from tokens.services import community_retire_key, revocation_request_open

pytestmark = pytest.mark.django_db


def _warning(page: str) -> str:
    return page.split('id="form-warning">', 1)[1].split("</div>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _danger(response) -> str:
    return _text(response.content.decode().split('id="form-danger">', 1)[1].split("</div>", 1)[0])


def _keys_link(community) -> str:
    return f"/admin/clients/clientkey/?community__id__exact={community.pk}"


def _keys_only_with_its_key_retired(created) -> None:
    key = _with_key(created)
    change = PolicyChange(methods=["private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)
    community_retire_key(community=created.community, kid=key.kid, actor=TEST_ACTOR, reason="rotated out")


# --- 1. the revocation-request form says the same true thing on its first view and after an error ------


def test_the_request_forms_first_view_names_the_keys_that_keep_working_with_a_link(client, acme, globex):
    _with_key(acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    first = _warning(client.get(page).content.decode())
    said = _text(first)
    assert "fica sem acesso" not in said and "devolve o acesso" not in said
    assert "só a conclusão do pedido entrega um novo segredo ao parceiro" in said
    assert "um pedido de token feito com segredo recebe 401" in said
    assert "acme (1 chave ativa)" in said and _keys_link(acme.community) in first
    assert "aposentá-la é uma ação à parte (grupo de segurança)" in said
    assert "globex" not in said  # no key: not an exception

    # The same facts once a community is chosen, as after a validation error (no reason given).
    error = client.post(
        page, {"community": acme.community.pk, "reason": "", "form_key": form_key(client, page)}
    )
    again = _warning(error.content.decode())
    assert error.status_code == 200 and "fica sem acesso" not in _text(again)
    assert "a chave ativa da comunidade continua funcionando" in _text(again)
    assert (
        "aposentá-la é uma ação à parte (grupo de segurança)" in _text(again)
        and _keys_link(acme.community) in again
    )


def test_with_no_key_anywhere_the_first_view_still_says_the_partner_is_cut_off(client, acme):
    login(client, "sam", "support")
    said = _text(_warning(client.get(url("tokens_revocationrequest_add")).content.decode()))
    assert "O parceiro fica sem acesso" in said and "Exceção" not in said


def test_the_new_secret_page_says_the_registered_key_still_works_with_a_link(client, acme):
    _with_key(acme)
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    done = client.post(handle, {"reason": "confirmed", "form_key": form_key(client, handle)})
    page = client.get(done["Location"]).content.decode()
    line = page.split('id="secret-keys">', 1)[1].split("</p>", 1)[0]
    assert "A chave pública registrada da comunidade também continua funcionando" in _text(line)
    assert _keys_link(acme.community) in line
    assert RevocationRequest.objects.get().status == "done"


def test_the_new_secret_page_says_nothing_of_keys_when_none_works(client, acme):
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    done = client.post(rotate, {"grace": "0s", "reason": "planned", "form_key": form_key(client, rotate)})
    page = client.get(done["Location"]).content.decode()
    assert 'id="client-secret"' in page and 'id="secret-keys"' not in page


# --- 2. "no way in" names its real cause --------------------------------------------------------------


def test_a_keys_only_policy_whose_key_was_retired_blames_the_policy_and_the_key_not_the_secrets(
    api, client, acme
):
    issue_token(api, acme)  # with the secret: the key's retirement leaves it live, to revoke
    _keys_only_with_its_key_retired(acme)
    assert ClientSecret.objects.get(community=acme.community).valid_until is None  # the secret is fine
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["private_key_jwt"], "dpop": "required", "allowed_ips": "", "reason": "dpop"}
    danger = _danger(client.post(page, posted))
    assert "a política não aceita o segredo do parceiro e a comunidade não tem chave ativa" in danger
    assert "até que uma chave seja registrada" in danger and "suspens" not in danger
    assert "1 token ativo do parceiro não tem DPoP" in danger  # and DPoP required stops it, asked apart

    saved = client.post(page, {**posted, "confirm_lockout": "on", "confirm_dpop_required": "on"}, follow=True)
    said = _messages(saved)
    assert "a política não aceita o segredo do parceiro e a comunidade não tem chave ativa" in said

    revoke = client.get(url("communities_community_revoke_tokens", acme.community.pk)).content.decode()
    question = _text(revoke.split('id="confirm-question">', 1)[1].split("</div>", 1)[0])
    assert "NÃO vai conseguir pedir tokens novos" in question
    assert "a política não aceita o segredo do parceiro" in question and "suspens" not in question


def test_a_secrets_only_policy_with_its_secrets_suspended_says_so_and_that_keys_are_refused(client, acme):
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["client_secret"], "dpop": "optional", "allowed_ips": "", "reason": "dpop"}
    danger = _danger(client.post(page, posted))
    assert "nenhum segredo do parceiro é válido (um pedido de revogação os suspendeu" in danger
    assert "a política não aceita chaves" in danger and "até que um novo segredo seja entregue" in danger


# --- 3. the community page lists its keys as it lists its secrets --------------------------------------


def test_the_community_page_lists_its_keys_with_links_fingerprints_and_states(client, acme):
    retired = _with_key(acme)
    community_retire_key(community=acme.community, kid=retired.kid, actor=TEST_ACTOR, reason="old")
    active = _with_key(acme)
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    table = page.split('id="keys"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 2 and active.kid[:12] in rows[0] and retired.kid[:12] in rows[1]  # active first
    assert url("clients_clientkey_change", active.pk) in rows[0]
    assert f"{active.thumbprint[:12]}…" in rows[0] and ">ativa<" in rows[0] and "nunca usada" in rows[0]
    assert "aposentada em" in rows[1]
    assert 'id="community-keys-list"' in page and _keys_link(acme.community) in page
    links = page.split('id="history-links"', 1)[1].split("</ul>", 1)[0]
    assert 'href="#keys"' in links and "chaves públicas" in links


def test_a_community_without_keys_says_none_is_registered(client, acme):
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert "Nenhuma chave pública registrada." in page


# --- 4 and 5. one word for each thing ------------------------------------------------------------------


def test_retiring_a_key_is_aposentar_in_every_note(client, acme):
    _with_key(acme)
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    note = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    note = _text(note.split('id="keys-still-work">', 1)[1].split("</p>", 1)[0])
    assert "aposentá-la é uma ação à parte" in note and "retir" not in note


def test_staff_texts_say_segredo_do_parceiro_and_chave_publica_do_parceiro(api, client, acme):
    _with_key(acme)
    issue_token(api, acme)  # with the secret: turning secrets off asks first
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "keys now"}
    danger = _danger(client.post(page, posted))
    assert "Isto desliga os segredos do parceiro" in danger and "segredos de cliente" not in danger

    event = AuditEvent.objects.filter(event_type="client_auth_policy_set").latest("id")
    details = client.get(url("audit_auditevent_change", event.pk)).content.decode()
    assert "segredo do parceiro (client_secret)" in details

    add = client.get(url("clients_clientkey_add")).content.decode()
    assert "Registrar uma chave pública do parceiro" in add and "chave pública de parceiro" not in add
    assert ClientKey.objects.filter(community=acme.community).count() == 1
