"""A secret a process saw confirmed skips the secrets read, and is never trusted past a change
(tokens/services/secret_memory.py, issue 14).

A partner's third token request in a minute (the first writes ``last_used_at``, the second is read and
confirmed by the issuing statement) is authenticated from the process's memory: one statement in all. Each
test below makes that memory hold the partner's secret first, then changes something in the database the
way staff, a command or a hand in psql would, and checks that the next request is answered exactly as a
process without a memory would answer it: the same status, the same audit reason, the same counts.
"""

import math
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from communities.services import community_update
from tests.conftest import TEST_ACTOR, basic, make_community, request_token
from tests.keyfactory import dpop_proof, private_key
from tokens.crypto import digest_secret, generate_secret
from tokens.models import ClientSecret, IssuedToken
from tokens.services import (
    PolicyChange,
    client_auth_policy_set,
    community_deactivate,
    secret_memory,
    secret_rotate,
)

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _empty_memory():
    """Rows kept by earlier tests (rolled-back communities) play no part."""
    secret_memory._rows.clear()
    yield
    secret_memory._rows.clear()


def _token_client_limit(rate: str):
    limits = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_client": rate}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limits})


def _remembered(api, created) -> None:
    """Three tokens: after them this process keeps the partner's secret; the third was issued from it."""
    for _ in range(3):
        assert request_token(api, created).status_code == 200
    if connection.vendor == "postgresql":
        assert (connection.alias, created.community.client_id) in secret_memory._rows


def _renamed(created) -> None:
    """A staff edit that changes nothing a token depends on, but moves the revision all the same."""
    community_update(
        community=created.community,
        actor=TEST_ACTOR,
        name="renamed",
        permissions=["bflus:read"],
        token_lifetime=None,
    )


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
    assert statement.startswith("SELECT tokens_issue_if_entitled(")


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
        _renamed(acme)
        # The memory is out of date: checked again from the database, and counted once (4 of 5).
        assert request_token(api, acme).status_code == 200
        assert request_token(api, acme).status_code == 200  # 5 of 5
        assert request_token(api, acme).status_code == 429


def test_a_dpop_proof_is_not_spent_twice(api, acme):
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    _remembered(api, acme)
    _renamed(acme)
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


# --- Found in review: nothing kept may refuse, count or trust what the database would not ----------------
# Each test failed before its fix (a helper attacked the memory); each states what a process without the
# memory answers.


def test_an_ip_allowlist_widened_since_admits_the_new_address(api, acme):
    """Without the memory the secrets read returns the new revision, and the new policy admits the new
    address. With it, the kept (older) policy refuses it: 401 and an ``ip_not_allowed`` audit row, for as
    long as the kept row's last use is under a minute old. The memory is not even forgotten."""
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["127.0.0.1/32"]), actor=TEST_ACTOR
    )
    _remembered(api, acme)
    client_auth_policy_set(
        community=acme.community,
        change=PolicyChange(allowed_ips=["127.0.0.1/32", "198.51.100.0/24"]),
        actor=TEST_ACTOR,
    )
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    response = api.post("/auth/token", body, format="json", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200, response.content
    assert _failures(acme) == []


def test_dpop_no_longer_required_admits_a_bearer_request(api, acme):
    """The secret is kept from DPoP requests (only their *use* of the memory is off). Once staff set DPoP
    to optional, a request without a proof gets a Bearer token from a process without the memory; with
    it, the kept policy still says ``required``: 401 ``dpop_proof_required``."""
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    key = private_key("ES256")
    for _ in range(3):
        proof = dpop_proof(key, "POST", "http://testserver/auth/token")
        body = {"client_id": "acme", "client_secret": acme.client_secret}
        assert api.post("/auth/token", body, format="json", HTTP_DPOP=proof).status_code == 200
    if connection.vendor == "postgresql":
        assert (connection.alias, "acme") in secret_memory._rows
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    response = request_token(api, acme)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"
    assert _failures(acme) == []


def test_a_permission_granted_since_can_be_requested(api):
    """``_mint`` checks the requested scope against the kept community before the issuing statement runs:
    a permission granted since is refused with 400 invalid_scope instead of issued."""
    created = make_community("scoped", permissions=("bflus:read",))
    _remembered(api, created)
    community_update(
        community=created.community,
        actor=TEST_ACTOR,
        name="scoped",
        permissions=["bflus:read", "bflus:write"],
        token_lifetime=None,
    )
    response = request_token(api, created, scope="bflus:write")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "bflus:write"


def test_an_ended_secret_does_not_use_up_the_partners_own_limit(api, acme, one_window):
    """Whoever still holds a rotated-out secret is refused, and a refusal never counts against the
    partner's ``token_client`` limit (client_auth_limits docstring). Through the memory the request first
    passes, ``record_success`` adds it to ``token_client``, and only then is it refused: the partner's own
    next request, the 4th of its 4, is answered 429."""
    old_secret = acme.client_secret
    with _token_client_limit("4/min"):
        _remembered(api, acme)  # 3 of 4
        rotated = secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
        body = {"client_id": "acme", "client_secret": old_secret}
        assert api.post("/auth/token", body, format="json").status_code == 401
        new_body = {"client_id": "acme", "client_secret": rotated.client_secret}
        response = api.post("/auth/token", new_body, format="json")
        assert response.status_code == 200, response.content  # 4 of 4


def test_an_ended_secret_is_refused_and_audited_even_when_the_partner_is_at_its_limit(api, acme, one_window):
    """Without the memory: 401 and an ``invalid_client`` audit row (failures never touch ``token_client``).
    With it: 429 from the partner's count, and no audit row of the attempt at all."""
    old_secret = acme.client_secret
    with _token_client_limit("3/min"):
        _remembered(api, acme)  # 3 of 3
        secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
        body = {"client_id": "acme", "client_secret": old_secret}
        response = api.post("/auth/token", body, format="json")
    assert response.status_code == 401, response.content
    assert _failures(acme) == ["invalid_client"]


def test_a_digest_changed_without_the_triggers_firing_refuses_the_old_secret(api, acme, postgresql_only):
    """A by-hand fix under ``session_replication_role = replica`` (as pg_restore --disable-triggers, a
    logical-replication apply, or a DBA's bulk fix do) leaves the revision as it was; the catalogue still
    says the triggers are enabled, so the statement's trigger check passes. A process without the memory
    reads the digest and refuses the old secret; the memory accepts it, and the statement, which checks
    the secret's id and expiry but not its digest, issues a token."""
    _remembered(api, acme)
    tokens_before = IssuedToken.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    ClientSecret.objects.filter(community=acme.community).update(digest="0" * 64)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = origin")
    response = request_token(api, acme)
    assert response.status_code == 401, response.content
    assert IssuedToken.objects.count() == tokens_before


def test_a_digest_changed_while_the_trigger_was_disabled_refuses_the_old_secret(api, acme, postgresql_only):
    """The same with the trigger disabled for the fix and enabled again (ALTER TABLE … DISABLE TRIGGER):
    the statement refuses while it is off, but once it is on again the revision is the kept one."""
    _remembered(api, acme)
    table = ClientSecret._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending deferred checks: ALTER TABLE may run
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER tokens_clientsecret_revise")
    ClientSecret.objects.filter(community=acme.community).update(digest="0" * 64)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER tokens_clientsecret_revise")
    assert request_token(api, acme).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_does_not_fail_a_remembered_request(api, postgresql_only):
    """bfluence/postgresql probes a connection idle for a second before its first query, through
    ``_cursor``. A remembered request's only query is the issuing statement, whose cursor is made from
    ``connection.connection`` directly: no probe, so a connection that died while the worker was idle
    (a PostgreSQL restart, a failover, an idle timeout) fails the request (503) instead of being replaced.
    Without the memory the secrets read goes through ``connection.cursor()``: probed, reconnected, 200."""
    created = make_community("acme")
    _remembered(api, created)
    dead = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [dead])
    finally:
        other.close()
    # What Django does at the next request, after the worker waited two seconds for it.
    connection.health_check_done = False
    connection.last_cursor_at = -math.inf
    response = request_token(api, created)
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != dead


def test_an_allowlist_set_under_the_replica_role_still_moves_the_revision(api, acme, postgresql_only):
    """The triggers fire ALWAYS (tokens 0011): a policy written where ordinary triggers do not fire (a
    logical-replication apply, a fix under ``session_replication_role = replica``) still renews the
    revision, so nothing kept survives it."""
    _remembered(api, acme)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["192.0.2.0/24"]), actor=TEST_ACTOR
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["ip_not_allowed"]


def test_the_memory_recalls_a_row_only_for_its_secret_and_stays_bounded(monkeypatch):
    """The memory itself, on any backend: a row comes back only for the secret it was kept for, forgotten
    rows are gone, and a full memory starts afresh rather than grow."""
    secret, other = generate_secret(), generate_secret()
    stored = digest_secret(secret)
    row = (stored.salt, stored.digest, 7, None, timezone.now(), 1, 5)
    assert secret_memory.secret_recall("kept", secret) is None  # nothing kept: a dummy comparison
    secret_memory.secret_remember("kept", row)
    assert secret_memory.secret_recall("kept", secret) == row
    assert secret_memory.secret_recall("kept", other) is None
    assert secret_memory.secret_recall("someone-else", secret) is None
    secret_memory.secret_forget("kept")
    assert secret_memory.secret_recall("kept", secret) is None
    monkeypatch.setattr(secret_memory, "_KEPT", 2)
    for client_id in ("a", "b", "c"):
        secret_memory.secret_remember(client_id, row)
    assert secret_memory.secret_recall("c", secret) == row
    assert secret_memory.secret_recall("a", secret) is None and len(secret_memory._rows) == 1
