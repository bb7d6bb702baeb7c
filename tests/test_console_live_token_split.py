"""A fresh-eyes review of the console (pt-BR), through Django's test client: "revoke all tokens",
"deactivate" and "revoke selected" count as active only the tokens the API takes, whatever refuses the
others (an allowlist applied to API calls as much as DPoP), and name the reasons really present, as the
token list does; one rule (``tokens.services.live_token_split``) for all of them."""

import pytest
from django.utils import timezone

from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_policy_refused_tokens_and_reader_wording import _require_dpop
from tests.test_console_refusal_counts_and_allowlisted_tokens import _allowlist, _issued_from
from tests.test_console_safety import login
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db

OUTSIDE = "127.0.0.1"
INSIDE = "203.0.113.9"


def _one_inside_one_outside(community) -> None:
    _issued_from(community, "inside", INSIDE)
    _issued_from(community, "outside", OUTSIDE)
    _allowlist(community, applies_to_api=True)


def _page(client, name: str, community) -> str:
    return _text(client.get(url(name, community.pk)).content.decode())


@pytest.mark.parametrize(
    "page_name, active_said",
    [
        ("communities_community_revoke_tokens", "Revogar 1 token ativo de"),
        ("communities_community_deactivate", "revogar o único token ativo da comunidade?"),
    ],
)
def test_revoke_all_and_deactivate_count_a_token_issued_outside_the_api_allowlist_as_refused(
    client, acme, page_name, active_said
):
    _one_inside_one_outside(acme.community)
    login(client, "sue", "security")
    page = _page(client, page_name, acme.community)
    assert active_said in page and "2 tokens ativos" not in page
    assert "Outro token, já recusado pela API (fora da lista de IPs permitidos), também é revogado." in page


def test_with_a_dpop_refused_token_too_the_questions_name_both_reasons(client, acme):
    _one_inside_one_outside(acme.community)
    _token(acme.community, jti="bound", dpop_jkt="x" * 43)
    _require_dpop(acme.community)  # "inside" and "outside" are bearer tokens: refused now ("outside" twice)
    login(client, "sue", "security")
    both = (
        "Outros 2 tokens, já recusados pela API (DPoP obrigatório e fora da lista de IPs permitidos), "
        "também são revogados."
    )
    revoke_all = _page(client, "communities_community_revoke_tokens", acme.community)
    assert "Revogar 1 token ativo de" in revoke_all and both in revoke_all
    deactivate = _page(client, "communities_community_deactivate", acme.community)
    assert "revogar o único token ativo da comunidade?" in deactivate and both in deactivate


def test_revoke_all_with_only_allowlist_refused_tokens_names_no_active_one(client, acme):
    _issued_from(acme.community, "outside", OUTSIDE)
    _allowlist(acme.community, applies_to_api=True)
    login(client, "sue", "security")
    page = _page(client, "communities_community_revoke_tokens", acme.community)
    assert "Revogar o token de" in page and "já recusa (fora da lista de IPs permitidos)" in page
    assert "token ativo" not in page


def test_revoking_selected_tokens_counts_and_names_the_allowlist_refusal(client, acme):
    _one_inside_one_outside(acme.community)
    login(client, "sue", "security")
    selected = {"action": "revoke_selected", "_selected_action": ["inside", "outside"]}
    page = _text(client.post(url("tokens_issuedtoken_changelist"), selected).content.decode())
    assert "Revogar 1 token ativo?" in page and "2 tokens ativos" not in page
    assert "Outro token, já recusado pela API (fora da lista de IPs permitidos), também é revogado." in page


def test_the_split_counts_a_token_refused_several_ways_once_and_agrees_with_each_token(acme):
    from tokens.services import TokenRefusal, live_token_split, token_refusals  # the rule under test

    _one_inside_one_outside(acme.community)
    _token(acme.community, jti="bound", dpop_jkt="x" * 43)
    _require_dpop(acme.community)
    now = timezone.now()
    tokens = IssuedToken.objects.filter(community=acme.community)
    split = live_token_split(tokens, now=now)
    assert (split.working, split.refused) == (1, 2)
    assert split.reasons == {TokenRefusal.DPOP_REQUIRED, TokenRefusal.OUTSIDE_ALLOWLIST}
    judged = tokens.select_related("community", "community__auth_policy")
    assert {token.jti for token in judged if token_refusals(token, now=now)} == {"inside", "outside"}
