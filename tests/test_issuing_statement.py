"""The one-statement issuing path (tokens/services/issuing_statement.py) is as strict as the transaction.

A token request whose credential's ``last_used_at`` is fresh writes its token and audit row in one
PostgreSQL statement, on condition that the community's ``entitlement_revision`` is still the one read
when the client authenticated. These tests pin what that rests on, against a real PostgreSQL:
- every change that decides who gets a token moves the revision, whoever makes it, and the partner's own
  ``last_used_at`` writes do not;
- a token request meeting a cut-off that holds the community row waits for it, and is then refused;
- a cut-off meeting the statement waits for it, and then revokes the token it wrote;
- the partner's token requests do not wait for each other.
The fall-back cases (a change between authentication and issue) run on every backend.
"""

import importlib
import json
import threading
import time
from datetime import timedelta

import jwt
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from communities.models import Community
from communities.services import community_update
from tests.conftest import TEST_ACTOR, make_community, request_token
from tests.keyfactory import private_key, public_pem
from tokens.models import ClientAuthPolicy, ClientKey, ClientSecret, IssuedToken
from tokens.services import (
    PolicyChange,
    client_auth_policy_set,
    client_key_add,
    client_key_retire,
    community_deactivate,
    secret_rotate,
    token_issue,
    tokens_revoke_all,
)
from tokens.services.issuance import ClientCredentials, client_authenticate

ISSUING_CALL = "SELECT tokens_issue_if_entitled("  # the issuing statement (tokens migration 0012)
HELD_SOURCE = "192.0.2.77"  # the address whose token insert the test's trigger holds
HOLD_LOCK = 4_242_001  # the advisory lock it waits on


def _revision(created) -> int:
    return Community.objects.values_list("entitlement_revision", flat=True).get(pk=created.community.pk)


def _authenticated(created):
    return client_authenticate(
        credentials=ClientCredentials(created.community.client_id, created.client_secret),
        source_ip="127.0.0.1",
    )


@pytest.mark.django_db
def test_every_change_that_decides_who_gets_a_token_moves_the_revision(postgresql_only):
    created = make_community("revised")
    community = created.community
    changes = {
        "staff edit of permissions": lambda: community_update(
            community=community, actor=TEST_ACTOR, name="x", permissions=[], token_lifetime=None
        ),
        "revoke all": lambda: tokens_revoke_all(community=community, actor=TEST_ACTOR, reason="test"),
        "rotation": lambda: secret_rotate(community=community, actor=TEST_ACTOR, grace=timedelta(hours=1)),
        "a secret's expiry, by any path": lambda: ClientSecret.objects.filter(community=community).update(
            valid_until=timezone.now()
        ),
        "key added": lambda: client_key_add(
            community=community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR
        ),
        "key retired": lambda: client_key_retire(
            community=community, kid=ClientKey.objects.get(community=community).kid, actor=TEST_ACTOR
        ),
        "policy set": lambda: client_auth_policy_set(
            community=community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR
        ),
        "policy row deleted": lambda: ClientAuthPolicy.objects.filter(community=community).delete(),
        "deactivation": lambda: community_deactivate(community=community, actor=TEST_ACTOR),
    }
    for change, make in changes.items():
        before = _revision(created)
        make()
        assert _revision(created) > before, change


@pytest.mark.django_db
def test_the_partners_own_last_used_writes_do_not_move_the_revision(postgresql_only):
    created = make_community("quiet")
    before = _revision(created)
    ClientSecret.objects.filter(community=created.community).update(last_used_at=timezone.now())
    ClientKey.objects.filter(community=created.community).update(last_used_at=timezone.now())
    assert _revision(created) == before


@pytest.mark.django_db
def test_each_version_of_a_community_has_a_revision_of_its_own(postgresql_only):
    first, second = make_community("first"), make_community("second")
    revisions = {_revision(first), _revision(second)}
    community_update(
        community=first.community, actor=TEST_ACTOR, name="first", permissions=[], token_lifetime=None
    )
    revisions.add(_revision(first))
    assert len(revisions) == 3  # one sequence for all rows: a revision names one state of one community


@pytest.mark.django_db
def test_a_process_that_knows_a_community_sees_its_changes_at_once(api):
    """This process keeps a community and its policy by revision (issuance._entitlement): the next
    authentication after a change reads them again, on every backend."""
    created = make_community("known", permissions=("bflus:read", "bflus:write"))
    assert request_token(api, created).json()["scope"] == "bflus:read bflus:write"
    community_update(
        community=Community.objects.get(pk=created.community.pk),
        actor=TEST_ACTOR,
        name="known",
        permissions=["bflus:read"],
        token_lifetime=timedelta(minutes=5),
    )
    body = request_token(api, created).json()
    assert (body["scope"], body["expires_in"]) == ("bflus:read", 300)

    client_auth_policy_set(
        community=created.community, change=PolicyChange(allowed_ips=["203.0.113.0/24"]), actor=TEST_ACTOR
    )
    refused = request_token(api, created)
    assert refused.status_code == 401
    reason = AuditEvent.objects.filter(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED).latest("id")
    assert reason.details["reason"] == "ip_not_allowed"  # refused by the policy now, not the one kept


@pytest.mark.django_db
def test_a_change_between_authentication_and_issue_falls_back_and_is_judged_again(api):
    created = make_community("changed", permissions=("bflus:read", "bflus:write"))
    request_token(api, created)  # last_used_at now fresh: the next token takes the one-statement path
    client = _authenticated(created)
    community_update(
        community=Community.objects.get(pk=created.community.pk),
        actor=TEST_ACTOR,
        name="changed",
        permissions=["bflus:read"],
        token_lifetime=None,
    )

    issued = token_issue(client=client, requested_scope=None, source_ip="127.0.0.1")

    assert issued.permissions == ["bflus:read"]  # the withdrawn permission is not minted
    assert IssuedToken.objects.get(jti=issued.jti).scope == "bflus:read"


@pytest.mark.django_db
def test_a_cut_off_between_authentication_and_issue_is_refused(api):
    from bfluence.errors import InvalidClient

    created = make_community("gone")
    request_token(api, created)
    client = _authenticated(created)
    community_deactivate(community=created.community, actor=TEST_ACTOR)
    tokens_before = IssuedToken.objects.count()

    with pytest.raises(InvalidClient):
        token_issue(client=client, requested_scope=None, source_ip="127.0.0.1")

    assert IssuedToken.objects.count() == tokens_before
    refusal = AuditEvent.objects.filter(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED).latest("id")
    assert refusal.details["reason"] == "cut_off_while_issuing"


@pytest.mark.django_db
def test_the_statement_writes_the_rows_the_transaction_writes(api, postgresql_only):
    created = make_community("same")
    first = request_token(api, created).json()  # last_used_at due: the issuing transaction
    second = request_token(api, created).json()  # the one statement
    records = [IssuedToken.objects.get(jti=_jti(body)) for body in (first, second)]
    audits = [AuditEvent.objects.get(jti=_jti(body), event_type="token_issued") for body in (first, second)]

    # Every column, bar the token's own identity and times (compared as its lifetime): a column the
    # function's JSON left out would be NULL here and not there.
    def record_fields(record):
        fields = [f.attname for f in IssuedToken._meta.concrete_fields]
        skipped = {"jti", "issued_at", "expires_at"}
        return [getattr(record, name) for name in fields if name not in skipped] + [
            record.expires_at - record.issued_at
        ]

    def audit_fields(audit):
        fields = [f.attname for f in AuditEvent._meta.concrete_fields]
        return [getattr(audit, name) for name in fields if name not in {"id", "occurred_at", "jti"}]

    assert record_fields(records[0]) == record_fields(records[1])
    assert audit_fields(audits[0]) == audit_fields(audits[1])
    assert second["token_type"] == first["token_type"] and second["scope"] == first["scope"]
    # The times as signed, through the function's JSON: to the second in the token, to the microsecond
    # between the record and its audit row's details.
    claims = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert records[1].expires_at.timestamp() // 1 == claims["exp"]
    assert records[1].issued_at.timestamp() // 1 == claims["iat"]


def _jti(body) -> str:
    return jwt.decode(body["access_token"], options={"verify_signature": False})["jti"]


def test_the_function_locks_shared_and_writes_only_if_everything_holds():
    """The issuing function's shape, on every backend (it exists on PostgreSQL only): one shared lock, on
    the community row alone; the revision, the community's state and either credential checked under
    it; the revision triggers required; the token and its audit row written only past that check, from
    the rows the app sends, by column name."""
    source = importlib.import_module("tokens.migrations.0012_issue_token_function").FORWARD
    check, writes = source.split("IF NOT FOUND THEN\n        RETURN false;\n    END IF;")

    assert check.count("FOR SHARE OF c;") == 1 and "FOR UPDATE" not in source
    for condition in ("c.entitlement_revision = wanted_revision", "c.is_active", "pg_trigger"):
        assert condition in check
    assert all(f"'{name}'" in check for name in TRIGGER_TABLES)
    assert f"= {len(TRIGGER_TABLES)}" in check
    assert "s.valid_until IS NULL OR s.valid_until > issued_at_time" in check
    assert "s.salt = wanted_salt AND s.digest = wanted_digest" in check
    assert "k.retired_at IS NULL" in check
    assert "INSERT" not in check and writes.count("INSERT INTO") == 2
    assert "jsonb_populate_record(NULL::tokens_issuedtoken, token_row)" in writes
    assert "jsonb_populate_record(\n            NULL::tokens_auditevent" in writes


# --- Real concurrency: threads with their own connections ---------------------------------------------


def _in_thread(action) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = action()
        except Exception as error:  # the test asserts on it
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _waiting_on_a_row_lock(statement_start: str, within: float = 5.0) -> bool:
    """Whether another backend is running a statement starting so, waiting for a lock."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [statement_start + "%"],
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


@pytest.fixture
def held_statement(postgresql_only):
    """A trigger that holds the token insert of requests from HELD_SOURCE (inside the one statement, after
    its shared lock) until the test's advisory lock is released; dropped afterwards."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_hold_token_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.source_ip = '{HELD_SOURCE}' THEN PERFORM pg_advisory_lock_shared({HOLD_LOCK}); "
            f"PERFORM pg_advisory_unlock_shared({HOLD_LOCK}); END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_hold_token_insert BEFORE INSERT ON tokens_issuedtoken "
            "FOR EACH ROW EXECUTE FUNCTION test_hold_token_insert()"
        )
        cursor.execute("SELECT pg_advisory_lock(%s)", [HOLD_LOCK])
    released = False

    def release():
        nonlocal released
        if not released:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [HOLD_LOCK])
            released = True

    yield release
    release()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_hold_token_insert ON tokens_issuedtoken")
        cursor.execute("DROP FUNCTION test_hold_token_insert()")


def _token_from(created, source_ip: str):
    def ask():
        from rest_framework.test import APIClient

        return request_token(APIClient(REMOTE_ADDR=source_ip), created)

    return ask


CUT_OFFS = {
    # the community row itself changes: PostgreSQL's re-check of the locked row would see it anyway
    "deactivation": lambda community: community_deactivate(community=community, actor=TEST_ACTOR),
    # only the secret changes: the statement's snapshot still sees it valid; the revision catches it
    "rotation ending the old secret now": lambda community: secret_rotate(
        community=community, actor=TEST_ACTOR
    ),
}


@pytest.mark.parametrize("cut_off_kind", CUT_OFFS)
@pytest.mark.django_db(transaction=True)
def test_a_token_request_meeting_a_cut_off_in_progress_waits_and_is_refused(
    api, postgresql_only, cut_off_kind
):
    created = make_community("midcut")
    assert request_token(api, created).status_code == 200  # last_used_at fresh from here on
    tokens_before = IssuedToken.objects.filter(community=created.community).count()
    cut_off_done, release_cut_off = threading.Event(), threading.Event()

    def cut_off_and_hold():
        with transaction.atomic():
            CUT_OFFS[cut_off_kind](Community.objects.get(pk=created.community.pk))
            cut_off_done.set()
            assert release_cut_off.wait(10)

    cut_off, _ = _in_thread(cut_off_and_hold)
    assert cut_off_done.wait(10)
    request, outcome = _in_thread(_token_from(created, "127.0.0.1"))
    waited = _waiting_on_a_row_lock(ISSUING_CALL)
    release_cut_off.set()
    cut_off.join(10)
    request.join(10)

    assert waited, "the token statement did not wait for the cut-off holding the community row"
    assert outcome["result"].status_code == 401
    assert outcome["result"].json()["error"] == "invalid_client"
    assert IssuedToken.objects.filter(community=created.community).count() == tokens_before


@pytest.mark.django_db(transaction=True)
def test_a_cut_off_meeting_the_statement_waits_for_it_and_then_revokes_its_token(api, held_statement):
    created = make_community("midissue")
    assert request_token(api, created).status_code == 200
    request, outcome = _in_thread(_token_from(created, HELD_SOURCE))
    assert _waiting_on_a_row_lock(ISSUING_CALL), "the token statement was never held"
    rotation, rotated = _in_thread(
        lambda: secret_rotate(community=created.community, actor=TEST_ACTOR, revoke_tokens=True)
    )
    rotation_waited = _waiting_on_a_row_lock("SELECT")
    held_statement()
    request.join(10)
    rotation.join(10)

    assert rotation_waited, "the rotation did not wait for the token being written"
    assert outcome["result"].status_code == 200
    assert "error" not in rotated
    token = IssuedToken.objects.get(jti=_jti(outcome["result"].json()))
    assert token.revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_partners_statements_do_not_wait_for_each_other(api, held_statement):
    created = make_community("twins")
    assert request_token(api, created).status_code == 200
    held, held_outcome = _in_thread(_token_from(created, HELD_SOURCE))
    assert _waiting_on_a_row_lock(ISSUING_CALL), "the token statement was never held"

    other, outcome = _in_thread(_token_from(created, "127.0.0.1"))
    other.join(5)
    finished_first = not other.is_alive()
    held_statement()
    held.join(10)

    assert finished_first, "a token request waited for another one of the same community"
    assert outcome["result"].status_code == 200 and held_outcome["result"].status_code == 200


# --- Found by review: each failed before its fix ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_secret_written_by_hand_does_not_deadlock_with_an_issuing_transaction(api, held_statement):
    """A secret written without locking the community first (shell, data migration, psql) locks the
    secret's row, then, through the revision trigger, waits for the community's. The issuing transaction
    holds the community's (shared) and used to update that secret's ``last_used_at`` before its commit:
    each waited for the other (PostgreSQL's "deadlock detected"). It now writes ``last_used_at`` after."""
    created = make_community("deadlock")
    secret_id = ClientSecret.objects.get(community=created.community).pk
    # The first token: last_used_at is due, so the issuing transaction runs, held at its token insert.
    issuing, issued = _in_thread(_token_from(created, HELD_SOURCE))
    assert _waiting_on_a_row_lock('INSERT INTO "tokens_issuedtoken"'), "the issuing transaction never paused"
    writing, written = _in_thread(
        lambda: ClientSecret.objects.filter(pk=secret_id).update(valid_until=timezone.now())
    )
    assert _waiting_on_a_row_lock('UPDATE "tokens_clientsecret"'), "the secret write did not wait"
    held_statement()
    issuing.join(15)
    writing.join(15)

    assert "error" not in written and "error" not in issued, (written.get("error"), issued.get("error"))
    assert issued["result"].status_code == 200
    assert ClientSecret.objects.get(pk=secret_id).last_used_at is not None


TRIGGER_TABLES = {
    "communities_community_revise": "communities_community",
    "tokens_clientsecret_revise": "tokens_clientsecret",
    "tokens_clientkey_revise": "tokens_clientkey",
    "tokens_clientauthpolicy_revise": "tokens_clientauthpolicy",
}


@pytest.mark.parametrize("missing", TRIGGER_TABLES)
@pytest.mark.django_db
def test_without_all_its_triggers_the_statement_is_not_trusted(api, postgresql_only, missing):
    """A revision that may not be renewed means nothing (tokens 0010 not applied yet, reverted while this
    code runs, a trigger disabled): the statement writes nothing and the issuing transaction decides.
    (DDL is transactional: the test's rollback restores the trigger.)"""
    created = make_community("untriggered")
    assert request_token(api, created).status_code == 200  # last_used_at fresh from here on
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending: ALTER TABLE refuses
        cursor.execute(f"ALTER TABLE {TRIGGER_TABLES[missing]} DISABLE TRIGGER {missing}")

    with CaptureQueriesContext(connection) as captured:
        assert request_token(api, created).status_code == 200

    statements = [query["sql"] for query in captured.captured_queries]
    assert any(sql.startswith(ISSUING_CALL) for sql in statements)  # tried, wrote nothing
    assert any(sql.startswith("SELECT 1 FROM") and sql.endswith(" FOR SHARE") for sql in statements)


ISSUING_FUNCTION = "tokens_issue_if_entitled(bigint, bigint, bigint, text, text, timestamp with time zone, bigint, jsonb, jsonb)"


@pytest.mark.django_db(transaction=True)
def test_without_its_function_the_issuing_transaction_issues(api, postgresql_only):
    """Tokens migration 0012 reverted while this code runs: the call fails in autocommit, writing
    nothing, and the issuing transaction issues the token (no 500)."""
    created = make_community("unfunctioned")
    assert request_token(api, created).status_code == 200  # last_used_at fresh from here on
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER FUNCTION {ISSUING_FUNCTION} RENAME TO tokens_issue_if_entitled_away")
    try:
        with CaptureQueriesContext(connection) as captured:
            response = request_token(api, created)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER FUNCTION {ISSUING_FUNCTION.replace('entitled(', 'entitled_away(')} "
                "RENAME TO tokens_issue_if_entitled"
            )

    assert response.status_code == 200
    assert IssuedToken.objects.filter(jti=_jti(response.json()), community=created.community).exists()
    statements = [query["sql"] for query in captured.captured_queries]
    assert any(sql.startswith(ISSUING_CALL) for sql in statements)  # tried, failed
    assert any(sql.startswith("SELECT 1 FROM") and sql.endswith(" FOR SHARE") for sql in statements)


@pytest.mark.django_db
def test_a_policy_change_unseen_by_a_disabled_trigger_is_still_judged(api, postgresql_only):
    created = make_community("untriggered")
    assert request_token(api, created).status_code == 200  # the community now kept by revision
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tokens_clientauthpolicy DISABLE TRIGGER tokens_clientauthpolicy_revise")
    client_auth_policy_set(
        community=created.community, change=PolicyChange(allowed_ips=["203.0.113.0/24"]), actor=TEST_ACTOR
    )
    tokens_before = IssuedToken.objects.filter(community=created.community).count()

    refused = request_token(api, created)  # from 127.0.0.1, outside the new allowlist

    assert refused.status_code == 401
    assert IssuedToken.objects.filter(community=created.community).count() == tokens_before


@pytest.mark.django_db
def test_a_revision_never_comes_back_even_with_the_sequence_set_back(api, postgresql_only):
    """A restore, or a copy that does not carry sequences over, sets the sequence back: an update still
    gives the row a revision it never had, so a process keeping the old state by revision never takes a
    new state for it."""
    created = make_community("reused")
    assert request_token(api, created).status_code == 200
    assert request_token(api, created).status_code == 200
    kept = _revision(created)  # what this process keeps
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SEQUENCE communities_entitlement_revision RESTART WITH {int(kept)}")
    ClientAuthPolicy.objects.create(community=created.community, allowed_ips=["203.0.113.0/24"])
    assert _revision(created) > kept

    assert request_token(api, created).status_code == 401  # from 127.0.0.1, outside the allowlist


def test_the_rows_json_keeps_each_value_as_its_column_reads_it():
    """Every backend: datetimes to the microsecond with their offset, addresses as text, a JSON column's
    value as itself; anything else is refused rather than guessed."""
    from datetime import UTC, datetime
    from ipaddress import ip_address

    from psycopg.types.json import Jsonb

    from tokens.services.issuing_statement import _json

    row = {
        "at": datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC),
        "ip": ip_address("2001:db8::1"),
        "details": Jsonb({"scope": "bflus:read", "é": [1, None]}),
        "none": None,
    }
    assert json.loads(_json(row)) == {
        "at": "2026-11-28T12:00:00.123456+00:00",
        "ip": "2001:db8::1",
        "details": {"scope": "bflus:read", "é": [1, None]},
        "none": None,
    }
    with pytest.raises(TypeError):
        _json({"odd": object()})
