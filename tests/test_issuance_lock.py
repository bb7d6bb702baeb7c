"""The issue-time lock (issue 10, item 7) holds off cut-offs, not the partner's other token requests.

Every token request locks its community's row until its token record and audit row are committed, so
that a rotation, a deactivation or a compromise report landing meanwhile either is seen or revokes the
token (tests/test_compromise_report.py). That lock is a shared one: two token requests of one community
do not wait for each other, or a busy partner's requests would queue behind each other's disk flush.
PostgreSQL only: SQLite serialises every writer anyway.
"""

import threading

import pytest
from django.db import connection

from tests.conftest import TEST_ACTOR, make_community, request_token
from tokens.models import IssuedToken
from tokens.services import issuance, secret_rotate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers anyway)")


@pytest.fixture
def held_issue(monkeypatch, api, postgresql_only):
    """A token request of ``created`` started in a thread and held inside its issuing transaction, after
    the lock and before it mints; ``release()`` lets it finish and returns its response."""
    real_mint = issuance._token_mint
    inside, release = threading.Event(), threading.Event()
    holder: dict = {}

    def mint_holding(**kwargs):
        if threading.current_thread() is holder.get("thread"):
            inside.set()
            assert release.wait(10)
        return real_mint(**kwargs)

    monkeypatch.setattr(issuance, "_token_mint", mint_holding)

    def start(created):
        def ask():
            try:
                holder["response"] = request_token(type(api)(), created)
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


def test_a_partners_token_requests_do_not_wait_for_each_other(api, held_issue):
    created = make_community("busy")
    finish_held = held_issue(created)
    outcome = {}

    def ask_meanwhile():
        try:
            outcome["response"] = request_token(type(api)(), created)
        finally:
            connection.close()

    meanwhile = threading.Thread(target=ask_meanwhile)
    meanwhile.start()
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
    rotated = threading.Event()

    def rotate():
        try:
            secret_rotate(community=created.community, actor=TEST_ACTOR, revoke_tokens=True)
            rotated.set()
        finally:
            connection.close()

    rotation = threading.Thread(target=rotate)
    rotation.start()
    rotation.join(1.0)
    waited = not rotated.is_set()
    held = finish_held()
    rotation.join(10)

    assert waited, "the rotation did not wait for the token being issued"
    assert rotated.is_set()
    assert held.status_code == 200
    token = IssuedToken.objects.get(community=created.community)
    assert token.revoked_at is not None
