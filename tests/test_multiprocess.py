"""Two app servers, one truth (SPEC §2.2, non-negotiable 7).

Two real gunicorn servers, one worker each, share the test database with this process. In the SQLite
run each keeps its counters in its own local memory, which proves revocation never depends on the
cache; in the PostgreSQL + Redis run they share Redis as in production, and rate-limit counts are shared
too. A token is used on both, revoked by every route, and the next request to the *other* process fails.
"""

import itertools
import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tests.conftest import make_community
from tests.stack import Gunicorn, http

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]
SHARED_CACHE = os.environ.get("CACHE_URL", "").startswith("redis://")
_client_ids = (f"multi{n}" for n in itertools.count())


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        env = {"DATABASE_URL": _database_url(), "THROTTLE_TOKEN_CLIENT": "4/h"}
    if SHARED_CACHE:
        env["CACHE_URL"] = os.environ["CACHE_URL"]
    pair = []
    try:
        pair.append(Gunicorn(**env))
        pair.append(Gunicorn(**env))
        yield pair
    finally:
        for server in pair:
            server.stop()


def get_token(server: Gunicorn, created) -> str:
    status, body = http(
        "POST",
        f"{server.url}/auth/token",
        {"client_id": created.community.client_id, "client_secret": created.client_secret},
    )
    assert status == 200, body
    return body["access_token"]


def bflus_status(server: Gunicorn, token: str) -> int:
    return http("GET", f"{server.url}/communities/hub/client/123/get-bflus", token=token)[0]


@pytest.fixture
def partner(servers):
    created = make_community(next(_client_ids), members={"123": 10})
    a, b = servers
    token = get_token(a, created)
    assert bflus_status(a, token) == 200 and bflus_status(b, token) == 200  # a token from A works on B
    return created, token


def test_revoke_endpoint_on_b_is_refused_on_a(servers, partner):
    (a, b), (created, token) = servers, partner
    status, _ = http(
        "POST",
        f"{b.url}/auth/revoke",
        {"client_id": created.community.client_id, "client_secret": created.client_secret, "token": token},
    )
    assert status == 200
    assert bflus_status(a, token) == 401


def test_revocation_request_on_a_is_refused_on_b(servers, partner):
    (a, b), (created, token) = servers, partner
    status, body = http(
        "POST",
        f"{a.url}/auth/revocation-requests",
        {"client_id": created.community.client_id, "client_secret": created.client_secret, "reason": "leak"},
    )
    assert (status, body["tokens_revoked"]) == (202, 1)
    assert bflus_status(b, token) == 401


@pytest.mark.parametrize(
    "command",
    [
        ["revoke_tokens", "--all"],
        ["rotate_secret", "--revoke-tokens"],
        ["deactivate_community"],
    ],
)
def test_operator_commands_are_refused_on_both_servers(servers, partner, command):
    (a, b), (created, token) = servers, partner
    call_command(command[0], created.community.client_id, *command[1:], stdout=StringIO())
    assert bflus_status(a, token) == 401
    assert bflus_status(b, token) == 401


def test_rotated_secret_is_refused_on_every_server(servers, partner):
    (a, b), (created, _token) = servers, partner
    call_command("rotate_secret", created.community.client_id, stdout=StringIO())
    for server in (a, b):
        status, body = http(
            "POST",
            f"{server.url}/auth/token",
            {"client_id": created.community.client_id, "client_secret": created.client_secret},
        )
        assert (status, body["error"]) == (401, "invalid_client")


@pytest.mark.skipif(
    not SHARED_CACHE, reason="rate-limit counts are shared only through Redis (CI's second run)"
)
def test_rate_limit_counts_are_shared_between_servers(servers):
    a, b = servers
    created = make_community(next(_client_ids))
    statuses = [
        http(
            "POST",
            f"{server.url}/auth/token",
            {"client_id": created.community.client_id, "client_secret": created.client_secret},
        )[0]
        for server in (a, b, a, b, a)
    ]
    assert statuses == [200, 200, 200, 200, 429]
