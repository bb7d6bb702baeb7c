"""A fresh-eyes review of the console (pt-BR), through Django's test client: once the policy requires DPoP,
the partner's Bearer tokens are shown as refused (token list, token page, community page), not "ativo"; the
new secret page says a request without a DPoP proof gets a 401; the note on retiring a key reads right for
a security officer too; the open-request form names a lone listed community."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR
from tests.keyfactory import private_key, public_pem
from tests.test_admin import form_key, url
from tests.test_console_dpop_and_request_truths import _keys_only_request_with_a_key_token, _token
from tests.test_console_keys_and_lockout_causes import _text, _warning
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login

pytestmark = pytest.mark.django_db
REFUSED = "recusado: a política exige DPoP"


def _require_dpop(community) -> None:
    client_auth_policy_set(community=community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)


def _two_bearer_tokens_and_one_bound_then_dpop_required(community) -> None:
    """Three live tokens, of which the policy, now requiring DPoP, refuses the two Bearer ones."""
    _token(community, jti="bearer-one")
    _token(community, jti="bearer-two")
    _token(community, jti="bound-one", dpop_jkt="x" * 43)
    _require_dpop(community)


def _fresh_key(created) -> None:
    """A key of its own (``_with_key`` gives every community the same one, refused the second time)."""
    change = PolicyChange(methods=["client_secret", "private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)
    key = public_pem(private_key("ES256", fresh=True))
    client_key_add(community=created.community, key_text=key, actor=TEST_ACTOR)


def _row(page: str, jti: str) -> str:
    return _text(page.split(f'title="{jti}"', 1)[1].split("</tr>", 1)[0])


# --- 1. Bearer tokens refused by a policy that requires DPoP -----------------------------------------


def test_bearer_tokens_show_as_refused_by_the_policy_in_the_list_with_revoke_kept(client, acme):
    _token(acme.community, jti="bearer-one")
    _token(acme.community, jti="bound-one", dpop_jkt="x" * 43)
    login(client, "sue", "security")
    tokens = url("tokens_issuedtoken_changelist")
    assert REFUSED not in client.get(tokens).content.decode()  # DPoP off: the Bearer token works

    _require_dpop(acme.community)
    page = client.get(tokens).content.decode()
    bearer, bound = _row(page, "bearer-one"), _row(page, "bound-one")
    assert REFUSED in bearer and " ativo " not in bearer and "Revogar" in bearer
    assert REFUSED not in bound and " ativo " in bound

    active = client.get(f"{tokens}?state=active").content.decode()
    refused = client.get(f"{tokens}?state=refused").content.decode()
    assert 'title="bound-one"' in active and 'title="bearer-one"' not in active
    assert 'title="bearer-one"' in refused and 'title="bound-one"' not in refused
    assert "recusado (DPoP obrigatório ou comunidade desativada)" in (
        _text(refused)  # the filter's choice
    )


def test_the_token_list_reads_the_policy_with_the_tokens_not_once_per_row(client, acme, globex):
    _require_dpop(acme.community)
    _token(acme.community, jti="a1")
    login(client, "sue", "security")
    tokens = url("tokens_issuedtoken_changelist")
    client.get(tokens)
    with CaptureQueriesContext(connection) as one:
        client.get(tokens)
    for jti in ("a2", "a3"):
        _token(acme.community, jti=jti)
    _token(globex.community, jti="g1")
    with CaptureQueriesContext(connection) as four:
        page = client.get(tokens).content.decode()
    assert page.count(REFUSED) == 3 and len(four) == len(one)


def test_the_token_page_says_the_policy_refuses_it(client, acme):
    token = _token(acme.community)
    _require_dpop(acme.community)
    login(client, "sam", "support")
    page = _text(client.get(url("tokens_issuedtoken_change", token.pk)).content.decode())
    assert REFUSED in page


def test_the_community_page_and_list_do_not_count_refused_tokens_as_working(client, acme):
    _token(acme.community, jti="bearer-one")
    _token(acme.community, jti="bound-one", dpop_jkt="x" * 43)
    login(client, "sam", "support")
    page = url("communities_community_change", acme.community.pk)
    listed = url("communities_community_changelist")
    assert "recusado pela API:" not in _text(client.get(page).content.decode())

    _require_dpop(acme.community)
    said = _text(client.get(page).content.decode())
    assert "2 tokens (1 recusado pela API: DPoP obrigatório)" in said
    # The list's live-token column counts the working one, the refused one apart.
    assert "1 (e 1 recusado pela API: DPoP obrigatório)" in _text(client.get(listed).content.decode())


# --- 2. the new secret page under a policy that requires DPoP ----------------------------------------


def test_the_new_secret_page_says_a_request_without_a_dpop_proof_gets_401(client, acme):
    _require_dpop(acme.community)
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    done = client.post(rotate, {"grace": "0s", "reason": "planned", "form_key": form_key(client, rotate)})
    page = client.get(done["Location"]).content.decode()
    line = _text(page.split('id="secret-dpop">', 1)[1].split("</p>", 1)[0])
    assert "A política da comunidade exige DPoP" in line
    assert "com este segredo, mas sem prova DPoP, recebe 401" in line


def test_the_new_secret_page_says_nothing_of_dpop_when_it_is_not_required(client, acme):
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    done = client.post(rotate, {"grace": "0s", "reason": "planned", "form_key": form_key(client, rotate)})
    assert 'id="secret-dpop"' not in client.get(done["Location"]).content.decode()


# --- 3. retiring a key, said to whoever reads it ------------------------------------------------------


def test_a_security_officer_is_not_told_the_security_group_must_retire_the_key(client, acme):
    _key, revocation = _keys_only_request_with_a_key_token(acme)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    note = _text(page.split('id="request-keys-still-work">', 1)[1].split("</p>", 1)[0])
    assert "aposentá-la é uma ação à parte (grupo de segurança)" in note
    assert "precisa aposentá-la" not in note


# --- 4. the open-request form names a lone listed community ------------------------------------------


def test_the_first_view_names_the_one_listed_community_and_counts_its_keys(client, acme):
    _with_key(acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    first = _text(_warning(client.get(page).content.decode()))
    assert "a comunidade abaixo" not in first
    assert "Se você escolher acme, a chave ativa dela aceita pela política continua obtendo" in first

    _fresh_key(acme)
    first = _text(_warning(client.get(page).content.decode()))
    assert "Se você escolher acme, as 2 chaves ativas dela aceitas pela política continuam" in first


def test_the_first_view_speaks_of_several_listed_communities_together(client, acme, globex):
    _with_key(acme)
    _fresh_key(globex)
    login(client, "sam", "support")
    first = _text(_warning(client.get(url("tokens_revocationrequest_add")).content.decode()))
    assert "Se você escolher uma destas comunidades, as chaves ativas dela" in first
    assert "acme (1 chave ativa)" in first and "globex (1 chave ativa)" in first
