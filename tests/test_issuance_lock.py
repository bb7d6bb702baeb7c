"""The issue-time lock (issue 10, item 7) holds off cut-offs, not the partner's other token requests.

Every token request locks its community's row until its token record and audit row are committed, so
that a rotation, a deactivation or a compromise report landing meanwhile either is seen or revokes the
token (tests/test_compromise_report.py). That lock is a shared one: two token requests of one community
do not wait for each other, or a busy partner's requests would queue behind each other's disk flush.
PostgreSQL only: SQLite serialises every writer anyway.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from clients.models import ClientKey
from clients.services import (
    PolicyChange,
    client_auth_policy_set,
    client_key_add,
    client_key_retire,
    secret_rotate,
)
from communities.models import Community
from tests.conftest import TEST_ACTOR, make_community, post_form, request_token
from tests.keyfactory import ASSERTION_TYPE, assertion, private_key, public_pem
from tokens.models import IssuedToken
from tokens.services import community_deactivate, community_rotate_secret, issuance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_issue(monkeypatch, api, postgresql_only):
    """A token request of ``created`` started in a thread and held inside its issuing transaction, after
    the lock and before it writes its token; ``release()`` lets it finish and returns its response."""
    real_record = issuance._token_record
    inside, release = threading.Event(), threading.Event()
    holder: dict = {}

    def record_holding(*args):
        if threading.current_thread() is holder.get("thread"):
            inside.set()
            assert release.wait(10)
        return real_record(*args)

    monkeypatch.setattr(issuance, "_token_record", record_holding)

    def start(created, ask_with=request_token):
        def ask():
            try:
                holder["response"] = ask_with(type(api)(), created)
            finally:
                connection.close()

        holder["thread"] = threading.Thread(target=ask)
        holder["thread"].start()
        assert inside.wait(10), "the held request never reached its issuing transaction"

        def finish():
            release.set()
            holder["thread"].join(10)
            return holder["response"]

        return finish

    return start


def _beside(action) -> tuple[threading.Thread, threading.Event]:
    """``action`` started in a thread of its own (its own database connection); the event is set once
    it has returned."""
    done = threading.Event()

    def run():
        try:
            action()
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


def test_a_partners_token_requests_do_not_wait_for_each_other(api, held_issue):
    created = make_community("busy")
    finish_held = held_issue(created)
    outcome: dict = {}
    meanwhile, _answered = _beside(lambda: outcome.update(response=request_token(type(api)(), created)))
    meanwhile.join(5)
    finished_first = not meanwhile.is_alive()
    held = finish_held()
    meanwhile.join(10)

    assert finished_first, "a token request waited for another one of the same community"
    assert outcome["response"].status_code == 200
    assert held.status_code == 200
    assert IssuedToken.objects.filter(community=created.community).count() == 2


def test_a_cut_off_still_waits_for_a_token_being_issued_and_then_revokes_it(api, held_issue):
    created = make_community("cutoff")
    finish_held = held_issue(created)
    rotation, rotated = _beside(
        lambda: community_rotate_secret(community=created.community, actor=TEST_ACTOR, revoke_tokens=True)
    )
    rotation.join(1.0)
    waited = not rotated.is_set()
    held = finish_held()
    rotation.join(10)

    assert waited, "the rotation did not wait for the token being issued"
    assert rotated.is_set()
    assert held.status_code == 200
    token = IssuedToken.objects.get(community=created.community)
    assert token.revoked_at is not None


def test_a_key_retirement_waits_for_a_token_being_issued_with_that_key(api, held_issue):
    # Retiring a key is a cut-off too (SECURITY.md item 7): it must not slip in between the issuing
    # re-read, which found the key active, and the token's commit, leaving a token issued under a key
    # after the moment the key is recorded as retired.
    created = make_community("keyed")
    key = private_key("ES256")
    client_key_add(community=created.community, key_text=public_pem(key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    kid = ClientKey.objects.get(community=created.community).kid

    def with_the_key(client, created):
        signed = assertion(key, "keyed", "http://testserver/auth/token")
        fields = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
        return post_form(client, "/auth/token", {**fields, "client_assertion": signed})

    finish_held = held_issue(created, ask_with=with_the_key)
    retirement, retired = _beside(
        lambda: client_key_retire(community=created.community, kid=kid, actor=TEST_ACTOR)
    )
    retirement.join(1.0)
    waited = not retired.is_set()
    held = finish_held()
    retirement.join(10)

    assert waited, "the key was retired while a token was being issued with it"
    assert retired.is_set()
    assert held.status_code == 200, held.content
    token = IssuedToken.objects.get(community=created.community)
    assert token.issued_at <= ClientKey.objects.get(kid=kid).retired_at


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


CUT_OFFS = {
    "deactivation": lambda community: community_deactivate(community=community, actor=TEST_ACTOR),
    # only the secret changes: the issuing transaction must read it again after its lock
    "rotation ending the old secret now": lambda community: secret_rotate(
        community=community, actor=TEST_ACTOR
    ),
}


@pytest.mark.parametrize("cut_off_kind", CUT_OFFS)
def test_a_token_request_meeting_a_cut_off_in_progress_waits_and_is_refused(
    api, postgresql_only, cut_off_kind
):
    created = make_community("midcut")
    assert request_token(api, created).status_code == 200
    tokens_before = IssuedToken.objects.filter(community=created.community).count()
    cut_off_done, release_cut_off = threading.Event(), threading.Event()

    def cut_off_and_hold():
        with transaction.atomic():
            CUT_OFFS[cut_off_kind](Community.objects.get(pk=created.community.pk))
            cut_off_done.set()
            assert release_cut_off.wait(10)

    cut_off, _ = _beside(cut_off_and_hold)
    assert cut_off_done.wait(10)
    outcome: dict = {}
    request, _ = _beside(lambda: outcome.update(response=request_token(type(api)(), created)))
    # The secrets read does not wait (a cut-off only locks the community row): the issuing lock does.
    waited = _waiting_on_a_row_lock("SELECT 1 FROM")
    release_cut_off.set()
    cut_off.join(10)
    request.join(10)

    assert waited, "the token request did not wait for the cut-off holding the community row"
    assert outcome["response"].status_code == 401
    assert outcome["response"].json()["error"] == "invalid_client"
    assert IssuedToken.objects.filter(community=created.community).count() == tokens_before
