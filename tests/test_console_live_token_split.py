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
    "page_name", ["communities_community_revoke_tokens", "communities_community_deactivate"]
)
def test_revoke_all_and_deactivate_count_a_token_issued_outside_the_api_allowlist_as_active(
    client, acme, page_name
):
    """The allowlist refuses calls from outside it, whatever the token: a token issued outside it still
    works from inside it (a leaked one too), so it is counted active, not "already refused"."""
    _one_inside_one_outside(acme.community)
    login(client, "sue", "security")
    page = _page(client, page_name, acme.community)
    assert "2 tokens ativos" in page
    assert "já recusado" not in page and "fora da lista de IPs permitidos" not in page


def test_with_a_dpop_refused_token_too_the_questions_name_only_dpop(client, acme):
    _one_inside_one_outside(acme.community)
    _token(acme.community, jti="bound", dpop_jkt="x" * 43)
    _require_dpop(acme.community)  # "inside" and "outside" are bearer tokens: refused now
    login(client, "sue", "security")
    dpop_only = "Outros 2 tokens, já recusados pela API (DPoP obrigatório), também são revogados."
    revoke_all = _page(client, "communities_community_revoke_tokens", acme.community)
    assert "Revogar 1 token ativo de" in revoke_all and dpop_only in revoke_all
    deactivate = _page(client, "communities_community_deactivate", acme.community)
    assert "revogar o único token ativo da comunidade?" in deactivate and dpop_only in deactivate


def test_revoke_all_with_only_tokens_issued_outside_the_allowlist_counts_them_active(client, acme):
    _issued_from(acme.community, "outside", OUTSIDE)
    _allowlist(acme.community, applies_to_api=True)
    login(client, "sue", "security")
    page = _page(client, "communities_community_revoke_tokens", acme.community)
    assert "Revogar 1 token ativo de" in page
    assert "já recusa" not in page and "fora da lista de IPs permitidos" not in page


def test_revoking_selected_tokens_counts_a_token_issued_outside_the_allowlist_as_active(client, acme):
    _one_inside_one_outside(acme.community)
    login(client, "sue", "security")
    selected = {"action": "revoke_selected", "_selected_action": ["inside", "outside"]}
    page = _text(client.post(url("tokens_issuedtoken_changelist"), selected).content.decode())
    assert "Revogar 2 tokens ativos?" in page
    assert "já recusado" not in page and "fora da lista de IPs permitidos" not in page


def test_the_split_counts_a_token_refused_several_ways_once_and_agrees_with_each_token(acme):
    from tokens.services import TokenRefusal, live_token_split, token_refusals  # the rule under test

    _one_inside_one_outside(acme.community)
    _token(acme.community, jti="bound", dpop_jkt="x" * 43)
    _require_dpop(acme.community)
    now = timezone.now()
    tokens = IssuedToken.objects.filter(community=acme.community)
    split = live_token_split(tokens, now=now)
    assert (split.working, split.refused) == (1, 2)
    assert split.reasons == {TokenRefusal.DPOP_REQUIRED}
    judged = tokens.select_related("community", "community__auth_policy")
    assert {token.jti for token in judged if token_refusals(token, now=now)} == {"inside", "outside"}


def test_a_token_issued_outside_the_allowlist_is_working_in_the_split_and_for_each_token(acme):
    from tokens.services import live_token_split, token_refusals

    _one_inside_one_outside(acme.community)
    now = timezone.now()
    tokens = IssuedToken.objects.filter(community=acme.community)
    split = live_token_split(tokens, now=now)
    assert (split.working, split.refused, split.reasons) == (2, 0, frozenset())
    judged = tokens.select_related("community", "community__auth_policy")
    assert [token_refusals(token, now=now) for token in judged] == [[], []]
