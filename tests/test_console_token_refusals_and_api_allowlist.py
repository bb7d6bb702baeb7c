"""A fresh-eyes review of the console (pt-BR), through Django's test client: "revoke all tokens" counts the
tokens the policy already refuses apart from the active ones; a token refused for several reasons says
every one of them (list and page, no query per row); the allowlist warning says that, applied to API
calls, it refuses the tokens the partner already holds from its next call."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import ClientAuthPolicy
from communities.models import Community
from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_policy_refused_tokens_and_reader_wording import (
    _require_dpop,
    _row,
    _two_bearer_tokens_and_one_bound_then_dpop_required,
)
from tests.test_console_safety import login

pytestmark = pytest.mark.django_db


def _deactivate_in_place(community) -> None:
    """Inactive, its tokens left as they are (as a restore's re-applied deactivation can leave them)."""
    Community.objects.filter(pk=community.pk).update(is_active=False)


# --- A. "revoke all tokens" counts the refused tokens apart ------------------------------------------


def test_revoke_all_counts_the_tokens_the_policy_refuses_apart_from_the_active_ones(client, acme):
    _two_bearer_tokens_and_one_bound_then_dpop_required(acme.community)
    login(client, "sue", "security")
    page = _text(client.get(url("communities_community_revoke_tokens", acme.community.pk)).content.decode())
    assert "Revogar 1 token ativo de" in page and "3 tokens ativos" not in page
    assert "Outros 2 tokens, já recusados pela API (DPoP obrigatório), também são revogados." in page


def test_revoke_all_with_only_refused_tokens_names_no_active_one(client, acme):
    _token(acme.community, jti="bearer-one")
    _require_dpop(acme.community)
    login(client, "sue", "security")
    page = _text(client.get(url("communities_community_revoke_tokens", acme.community.pk)).content.decode())
    assert "Revogar o token de" in page and "que a API já recusa (DPoP obrigatório)" in page
    assert "token ativo" not in page and "0 tokens" not in page


def test_deactivate_counts_the_tokens_the_policy_refuses_apart_too(client, acme):
    _token(acme.community, jti="bearer-one")
    _token(acme.community, jti="bound-one", dpop_jkt="x" * 43)
    _require_dpop(acme.community)
    login(client, "sue", "security")
    page = _text(client.get(url("communities_community_deactivate", acme.community.pk)).content.decode())
    assert "revogar o único token ativo da comunidade?" in page
    assert "Outro token, já recusado pela API (DPoP obrigatório), também é revogado." in page


# --- B. every reason a token is refused, in the list and on its page --------------------------------


def test_a_token_refused_by_an_inactive_community_and_by_dpop_says_both(client, acme):
    _token(acme.community, jti="bearer-one")
    _require_dpop(acme.community)
    _deactivate_in_place(acme.community)
    login(client, "sue", "security")
    row = _row(client.get(url("tokens_issuedtoken_changelist")).content.decode(), "bearer-one")
    assert "recusado: a comunidade está desativada e a política exige DPoP" in row
    token_page = _text(client.get(url("tokens_issuedtoken_change", "bearer-one")).content.decode())
    assert "recusado: a comunidade está desativada e a política exige DPoP" in token_page


def test_a_revoked_and_expired_token_says_both_and_why_it_would_be_refused_anyway(client, acme):
    token = _token(acme.community, jti="old-one")
    past = timezone.now() - timedelta(minutes=5)
    token.revoked_at, token.expires_at = past, past
    token.save()
    _require_dpop(acme.community)
    login(client, "sam", "support")
    row = _row(client.get(url("tokens_issuedtoken_changelist")).content.decode(), "old-one")
    assert "revogado; expirado; recusado: a política exige DPoP" in row


def test_the_state_filters_follow_every_reason(client, acme, globex):
    _token(acme.community, jti="inactive-bound", dpop_jkt="x" * 43)
    _token(globex.community, jti="working-one")
    _deactivate_in_place(acme.community)
    login(client, "sue", "security")
    tokens = url("tokens_issuedtoken_changelist")
    active = client.get(f"{tokens}?state=active").content.decode()
    refused = client.get(f"{tokens}?state=refused").content.decode()
    assert 'title="working-one"' in active and 'title="inactive-bound"' not in active
    assert 'title="inactive-bound"' in refused and 'title="working-one"' not in refused


def test_the_token_list_says_every_reason_at_no_query_per_row(
    client, acme, globex, django_assert_max_num_queries
):
    _require_dpop(acme.community)
    _deactivate_in_place(acme.community)
    _token(acme.community, jti="a0")
    login(client, "sue", "security")
    tokens = url("tokens_issuedtoken_changelist")
    client.get(tokens)  # sessions, permissions and the like read once before counting
    with CaptureQueriesContext(connection) as few:
        client.get(tokens)
    for n in range(1, 12):
        _token(acme.community, jti=f"a{n}")
        _token(globex.community, jti=f"g{n}")
    with django_assert_max_num_queries(len(few)):
        page = client.get(tokens).content.decode()
    assert page.count("recusado: a comunidade está desativada e a política exige DPoP") == 12


# --- C. an allowlist applied to API calls refuses the tokens already held ---------------------------


def _allowlist_leaving_out_the_partner(api, client, acme, *, applies_to_api: bool) -> str:
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 200
    login(client, "sue", "security")
    posted = {
        "methods": ["client_secret"],
        "dpop": "off",
        "allowed_ips": "203.0.113.0/24",
        "reason": "office",
    }
    if applies_to_api:
        posted["allowlist_applies_to_api"] = "on"
    first = client.post(url("clients_clientauthpolicy_set", acme.community.pk), posted)
    assert first.status_code == 200 and not ClientAuthPolicy.objects.filter(community=acme.community).exists()
    return _text(first.content.decode())


def test_an_allowlist_for_api_calls_too_says_the_tokens_already_held_are_refused(api, client, acme):
    page = _allowlist_leaving_out_the_partner(api, client, acme, applies_to_api=True)
    assert (
        "Como a lista vale também para as chamadas à API, os tokens que o parceiro já tem são recusados "
        "a partir da próxima chamada feita de lá" in page
    )
    assert "os pedidos de token e as chamadas à API (com os tokens já emitidos) vindos dos endereços" in page


def test_an_allowlist_for_token_requests_only_says_nothing_of_the_tokens_held(api, client, acme):
    page = _allowlist_leaving_out_the_partner(api, client, acme, applies_to_api=False)
    assert "no próximo pedido de token" in page
    assert "os tokens que o parceiro já tem são recusados" not in page
    assert "chamadas à API (com os tokens já emitidos)" not in page


def test_revoking_selected_tokens_counts_the_refused_ones_apart(client, acme):
    _two_bearer_tokens_and_one_bound_then_dpop_required(acme.community)
    login(client, "sue", "security")
    selected = {"action": "revoke_selected", "_selected_action": ["bearer-one", "bearer-two", "bound-one"]}
    page = _text(client.post(url("tokens_issuedtoken_changelist"), selected).content.decode())
    assert "Revogar 1 token ativo?" in page and "3 tokens ativos" not in page
    assert "Outros 2 tokens, já recusados pela API (DPoP obrigatório), também são revogados." in page


def test_revoking_only_refused_tokens_names_no_active_one(client, acme):
    _token(acme.community, jti="bearer-one")
    _require_dpop(acme.community)
    login(client, "sue", "security")
    selected = {"action": "revoke_selected", "_selected_action": ["bearer-one"]}
    page = _text(client.post(url("tokens_issuedtoken_changelist"), selected).content.decode())
    assert "Revogar o token já recusado pela API (DPoP obrigatório)?" in page
    assert "token ativo" not in page
