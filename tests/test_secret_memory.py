"""A secret a process saw confirmed skips the secrets read, and is never trusted past a change
(tokens/services/secret_memory.py, issue 14).

A partner's third token request in a minute (the first writes ``last_used_at``, the second is read and
confirmed by the issuing statement) is authenticated from the process's memory: one statement in all. Each
test below makes that memory hold the partner's secret first, then changes something in the database the
way staff, a command or a hand in psql would, and checks that the next request is answered exactly as a
process without a memory would answer it: the same status, the same audit reason, the same counts.
"""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from communities.services import community_update
from tests.conftest import TEST_ACTOR, basic, make_community, request_token
from tests.keyfactory import dpop_proof, private_key
from tokens.models import ClientSecret, IssuedToken
from tokens.services import (
    PolicyChange,
    client_auth_policy_set,
    community_deactivate,
    secret_memory,
    secret_rotate,
)

pytestmark = [pytest.mark.django_db]


def _remembered(api, created) -> None:
    """Three tokens: after them this process keeps the partner's secret; the third was issued from it."""
    for _ in range(3):
        assert request_token(api, created).status_code == 200
    if connection.vendor == "postgresql":
        assert (connection.alias, created.community.client_id) in secret_memory._rows


def _failures(created) -> list[str]:
    return list(
        AuditEvent.objects.filter(event_type="client_auth_failed", client_id=created.community.client_id)
        .order_by("id")
        .values_list("details__reason", flat=True)
    )


def test_a_remembered_secret_costs_one_statement(api, acme, postgresql_only, django_assert_num_queries):
    _remembered(api, acme)
    with django_assert_num_queries(1) as captured:
        assert request_token(api, acme).status_code == 200
    [statement] = [query["sql"] for query in captured.captured_queries]
    assert statement.startswith("WITH entitled AS") and "FOR SHARE" in statement


def test_a_secret_ended_by_rotation_is_refused_at_once(api, acme):
    _remembered(api, acme)
    tokens_before = IssuedToken.objects.count()
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    response = request_token(api, acme)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert IssuedToken.objects.count() == tokens_before
    assert _failures(acme) == ["invalid_client"]
    assert (connection.alias, "acme") not in secret_memory._rows


def test_a_digest_changed_by_hand_refuses_the_old_secret(api, acme):
    _remembered(api, acme)
    ClientSecret.objects.filter(community=acme.community).update(digest="0" * 64)
    assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["invalid_client"]


def test_an_ip_allowlist_set_since_is_refused_for_its_own_reason(api, acme):
    _remembered(api, acme)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["192.0.2.0/24"]), actor=TEST_ACTOR
    )
    response = request_token(api, acme)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert _failures(acme) == ["ip_not_allowed"]


def test_a_deactivated_community_is_refused(api, acme):
    _remembered(api, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["invalid_client"]


def test_a_permission_change_is_in_the_next_token(api):
    created = make_community("scoped", permissions=("bflus:read",))
    _remembered(api, created)
    community_update(
        community=created.community, actor=TEST_ACTOR, name="scoped", permissions=[], token_lifetime=None
    )
    response = request_token(api, created)
    assert response.status_code == 200 and response.json()["scope"] == ""
    assert IssuedToken.objects.filter(community=created.community).latest("issued_at").scope == ""


def test_a_request_checked_again_is_counted_once(api, acme, one_window):
    limits = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_client": "5/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limits}):
        _remembered(api, acme)  # 3 of 5
        community_update(
            community=acme.community,
            actor=TEST_ACTOR,
            name="renamed",
            permissions=["bflus:read"],
            token_lifetime=None,
        )
        # The memory is out of date: checked again from the database, and counted once (4 of 5).
        assert request_token(api, acme).status_code == 200
        assert request_token(api, acme).status_code == 200  # 5 of 5
        assert request_token(api, acme).status_code == 429


def test_a_dpop_proof_is_not_spent_twice(api, acme):
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    _remembered(api, acme)
    community_update(
        community=acme.community,
        actor=TEST_ACTOR,
        name="renamed",
        permissions=["bflus:read"],
        token_lifetime=None,
    )
    proof = dpop_proof(private_key("ES256"), "POST", "http://testserver/auth/token")
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    response = api.post("/auth/token", body, format="json", HTTP_DPOP=proof)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"


def test_revocation_never_trusts_the_memory(api, acme):
    token = request_token(api, acme).json()["access_token"]
    _remembered(api, acme)
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    response = api.post("/auth/revoke", {"token": token}, format="json", **basic("acme", acme.client_secret))
    assert response.status_code == 401
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert IssuedToken.objects.get(pk=jti).revoked_at is None


def test_a_wrong_secret_for_a_remembered_client_is_refused_like_any(api, acme, globex):
    _remembered(api, acme)
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json"
    )
    assert response.status_code == 401
    assert _failures(acme) == ["invalid_client"]


def test_an_expiry_passed_in_the_memory_is_not_trusted(api, acme):
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(seconds=40))
    with time_machine.travel(timezone.now(), tick=True):
        _remembered(api, acme)  # the old secret, in its grace window
    with time_machine.travel(timezone.now() + timedelta(seconds=45), tick=True):  # last use not due yet
        assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["invalid_client"]
