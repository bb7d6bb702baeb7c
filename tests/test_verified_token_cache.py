"""Each process remembers the tokens it has fully verified (issue 14): the signature and claim work is
done once per token, never the expiry check nor the database's revocation check."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import TEST_ACTOR, get_bflus, issue_token
from tests.test_bearer_auth import assert_invalid_token, b64, claims_of
from tokens.jwt import VERIFIED_CACHE_SIZE, PartnerAccessToken, token_backend
from tokens.services import tokens_revoke_all

pytestmark = pytest.mark.django_db


def other_signature(token: str) -> str:
    """The token with six signature characters changed (never a no-op, whatever they were)."""
    tail = "AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"
    return token[:-6] + tail


@pytest.fixture
def verified_token(api, acme):
    token = issue_token(api, acme)
    assert get_bflus(api, token).status_code == 200  # verified once: remembered from now on
    assert token in token_backend()._verified
    return token


def test_a_remembered_token_still_expires(api, verified_token):
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=5)):  # within the leeway
        assert get_bflus(api, verified_token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=11)):
        assert_invalid_token(get_bflus(api, verified_token), says="expired")


def test_a_remembered_token_is_still_checked_for_revocation_every_time(
    api, acme, verified_token, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert get_bflus(api, verified_token).status_code == 200
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="test")
    assert_invalid_token(get_bflus(api, verified_token), says="revoked")


def test_a_changed_copy_of_a_remembered_token_is_verified_from_scratch(api, verified_token):
    header, _payload, signature = verified_token.split(".")
    claims = claims_of(verified_token) | {
        "permissions": ["bflus:read", "bflus:write"],
        "scope": "bflus:read bflus:write",
    }
    assert_invalid_token(get_bflus(api, f"{header}.{b64(json.dumps(claims).encode())}.{signature}"))
    assert_invalid_token(get_bflus(api, other_signature(verified_token)))


def test_claims_handed_out_are_copies_that_cannot_change_the_remembered_ones(verified_token):
    backend = token_backend()
    backend.decode(verified_token)["permissions"].append("bflus:write")
    backend.decode(verified_token)["sub"] = "globex"
    claims = backend.decode(verified_token)
    assert claims["permissions"] == ["bflus:read"] and claims["sub"] == "acme"


def test_the_memory_is_bounded_and_forgets_the_least_recently_used(verified_token):
    backend = token_backend()
    for _ in range(VERIFIED_CACHE_SIZE + 50):
        fresh = PartnerAccessToken.for_community(
            client_id="acme", permissions=["bflus:read"], lifetime=timedelta(hours=1)
        )
        backend.decode(str(fresh))
        backend.decode(verified_token)  # in constant use: never the one forgotten
    assert len(backend._verified) == VERIFIED_CACHE_SIZE
    assert verified_token in backend._verified


def test_tokens_that_fail_verification_are_never_remembered(api, acme, verified_token):
    with time_machine.travel(timezone.now() + timedelta(hours=30)):
        expired = issue_token(api, acme)
    backend = token_backend()
    before = len(backend._verified)
    assert_invalid_token(get_bflus(api, "x" * 5000))
    assert_invalid_token(get_bflus(api, other_signature(verified_token)))
    assert len(backend._verified) == before
    assert expired not in backend._verified
