"""A fresh-eyes review of the console (pt-BR), through Django's test client: requiring DPoP asks first when
the partner's tokens have none; the community page says what DPoP asks; completing a request says which
tokens it revokes (those obtained with a key the request left working), and the new secret page says when
the policy refuses secrets; a request's own page says the partner still gets tokens with its key; the
open-request form speaks of the listed communities before one is chosen; result messages count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import ClientAuthPolicy, ClientSecret
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, issue_token
from tests.test_admin import form_key, url
from tests.test_console_keys_and_lockout_causes import _danger, _keys_link, _text, _warning
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.models import IssuedToken
from tokens.services import community_rotate_secret, revocation_request_open

pytestmark = pytest.mark.django_db
DPOP_REQUIRED = {"methods": ["client_secret"], "dpop": "required", "allowed_ips": "", "reason": "dpop"}


def _token(community, *, key=None, dpop_jkt="", jti="t1") -> IssuedToken:
    now = timezone.now()
    return IssuedToken.objects.create(
        jti=jti,
        community=community,
        client_key=key,
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        **({"dpop_jkt": dpop_jkt} if dpop_jkt else {}),  # a Bearer token: the field's default
    )


# --- 1. DPoP required: a cut-off asked like the others ------------------------------------------------


def test_requiring_dpop_while_the_partner_holds_bearer_tokens_asks_and_names_what_stops(api, client, acme):
    issue_token(api, acme)  # a Bearer token: the policy has DPoP off
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    refused = client.post(page, DPOP_REQUIRED)
    danger = _danger(refused)
    assert refused.status_code == 200 and 'name="confirm_dpop_required"' in refused.content.decode()
    assert "1 token ativo do parceiro não tem DPoP: ele para de funcionar na hora" in danger
    assert (
        "Último token emitido sem DPoP:" in danger and "pedido de token sem prova DPoP recebe 401" in danger
    )
    assert ClientAuthPolicy.objects.filter(community=acme.community, dpop="required").count() == 0

    saved = client.post(page, {**DPOP_REQUIRED, "confirm_dpop_required": "on"})
    assert saved.status_code == 302
    assert ClientAuthPolicy.objects.get(community=acme.community).dpop == "required"


def test_requiring_dpop_with_only_dpop_bound_tokens_saves_without_asking(client, acme):
    _token(acme.community, dpop_jkt="x" * 43)
    login(client, "sue", "security")
    saved = client.post(url("clients_clientauthpolicy_set", acme.community.pk), DPOP_REQUIRED)
    assert saved.status_code == 302
    assert ClientAuthPolicy.objects.get(community=acme.community).dpop == "required"


def test_the_community_page_says_what_dpop_asks_when_it_is_on(client, acme):
    login(client, "sam", "support")
    page = url("communities_community_change", acme.community.pk)
    assert "DPoP" not in _text(client.get(page).content.decode().split('id="client-auth-policy">')[1][:400])
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    line = _text(client.get(page).content.decode().split('id="client-auth-policy">')[1].split("</p>")[0])
    assert "DPoP obrigatório" in line and "sem prova DPoP recebe 401" in line
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    line = _text(client.get(page).content.decode().split('id="client-auth-policy">')[1].split("</p>")[0])
    assert "DPoP opcional" in line


# --- 2. completing a request of a keys-only community -------------------------------------------------


def _keys_only_request_with_a_key_token(created):
    key = _with_key(created)
    change = PolicyChange(methods=["private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)
    revocation = revocation_request_open(community=created.community, reason="leak", actor=TEST_ACTOR)
    _token(created.community, key=key, jti="after-opening")  # obtained with the key, after opening
    return key, revocation


def test_completing_says_it_revokes_the_tokens_obtained_with_the_key_and_the_secret_page_the_policy(
    client, acme
):
    _key, revocation = _keys_only_request_with_a_key_token(acme)
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    form = _text(client.get(handle).content.decode())
    assert "Concluí-lo não encerra mais nada" not in form
    assert "Concluí-lo revoga o token ativo que o parceiro obteve com a chave dele" in form
    assert "A chave em si continua funcionando" in form

    done = client.post(handle, {"reason": "confirmed", "form_key": form_key(client, handle)})
    page = client.get(done["Location"]).content.decode()
    line = page.split('id="secret-keys">', 1)[1].split("</p>", 1)[0]
    assert "A política da comunidade não aceita segredos do parceiro" in _text(line)
    assert "só funciona se o grupo de segurança voltar a permitir segredos" in _text(line)
    assert url("clients_clientauthpolicy_set", acme.community.pk) in line
    assert "também continua funcionando" not in _text(line) and "continua funcionando" in _text(line)
    assert _keys_link(acme.community) in line
    assert IssuedToken.objects.get(jti="after-opening").revoked_at is not None


# --- 3. the request's own page says the key still works ----------------------------------------------


def test_the_requests_page_tells_support_the_partner_still_gets_tokens_with_its_key(client, acme):
    key, revocation = _keys_only_request_with_a_key_token(acme)
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    note = _text(page.split('id="request-keys-still-work">', 1)[1].split("</p>", 1)[0])
    assert f"O parceiro ainda consegue obter tokens com a chave {key.kid}" in note
    assert "não está sem acesso" in note


def test_the_requests_page_says_nothing_of_keys_when_none_works(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    assert 'id="request-keys-still-work"' not in page


# --- 4. the open-request form before a community is chosen ------------------------------------------


def test_the_first_view_speaks_of_the_listed_communities_and_a_chosen_one_gets_its_own_text(client, acme):
    _with_key(acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    first = _text(_warning(client.get(page).content.decode()))
    assert "esta comunidade" not in first and "Se você escolher acme, a chave ativa dela" in first
    assert "acme (1 chave ativa)" in first

    chosen = _text(_warning(client.get(f"{page}?community={acme.community.pk}").content.decode()))
    assert "Se você escolher" not in chosen and "a chave ativa da comunidade continua funcionando" in chosen


# --- 5. result messages count ------------------------------------------------------------------------


def test_a_rotation_that_ended_two_older_secrets_counts_and_names_them(client, acme):
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=1))
    hints = list(
        ClientSecret.objects.filter(community=acme.community)
        .order_by("-created_at")
        .values_list("hint", flat=True)
    )
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "0s", "end_secret_in_grace": "on", "ending_hint": hints[1], "reason": "leak"}
    done = client.post(rotate, {**posted, "form_key": form_key(client, rotate)})
    note = _text(
        client.get(done["Location"]).content.decode().split('id="secret-note">', 1)[1].split("</p>")[0]
    )
    assert f"Os 2 segredos antigos que começam com {hints[0]} e {hints[1]} pararam de valer" in note
    assert "O segredo antigo parou de valer" not in note


def test_completing_a_request_that_opened_with_no_live_token_says_there_was_none(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    assert revocation.tokens_revoked == 0
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    done = client.post(handle, {"reason": "confirmed", "form_key": form_key(client, handle)})
    note = _text(
        client.get(done["Location"]).content.decode().split('id="secret-note">', 1)[1].split("</p>")[0]
    )
    assert "Nenhum token ativo para revogar." in note and "foram revogados quando o pedido" not in note
