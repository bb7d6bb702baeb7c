"""Revocation holds on the very next request on every server process (SPEC §2.2, non-negotiable 7).

Two real gunicorn servers, one worker each, each with its own local-memory cache, share the test
database with this process. A token is used on both, revoked by every route, and the next request to
the *other* process must fail.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests.conftest import make_community

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class Server:
    def __init__(self, database_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bfluence.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "false",
        }
        env.pop("CACHE_URL", None)  # local memory: nothing shared between the servers but the database
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "bfluence.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if http("GET", f"{self.url}/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start in 30s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        database_url = _database_url()
    pair = [Server(database_url), Server(database_url)]
    try:
        for server in pair:
            server.wait_until_up()
        yield pair
    finally:
        for server in pair:
            server.stop()


def get_token(server: Server, created) -> str:
    status, body = http("POST", f"{server.url}/auth/token",
                        {"client_id": created.community.client_id, "client_secret": created.client_secret})
    assert status == 200, body
    return body["access_token"]


def bflus_status(server: Server, token: str) -> int:
    return http("GET", f"{server.url}/communities/hub/client/123/get-bflus", token=token)[0]


@pytest.fixture
def partner(servers):
    created = make_community("multi", members={"123": 10})
    a, b = servers
    token = get_token(a, created)
    assert bflus_status(a, token) == 200 and bflus_status(b, token) == 200  # a token from A works on B
    return created, token


def test_revoke_endpoint_on_b_is_refused_on_a(servers, partner):
    (a, b), (created, token) = servers, partner
    status, _ = http("POST", f"{b.url}/auth/revoke", {"client_id": "multi", "client_secret": created.client_secret,
                                                       "token": token})
    assert status == 200
    assert bflus_status(a, token) == 401


def test_revocation_request_on_a_is_refused_on_b(servers, partner):
    (a, b), (created, token) = servers, partner
    status, body = http("POST", f"{a.url}/auth/revocation-requests",
                        {"client_id": "multi", "client_secret": created.client_secret, "reason": "leak"})
    assert (status, body["tokens_revoked"]) == (202, 1)
    assert bflus_status(b, token) == 401


@pytest.mark.parametrize("command", [
    ["revoke_tokens", "multi", "--all"],
    ["rotate_secret", "multi", "--revoke-tokens"],
    ["deactivate_community", "multi"],
])
def test_operator_commands_are_refused_on_both_servers(servers, partner, command):
    (a, b), (_created, token) = servers, partner
    call_command(*command, stdout=StringIO())
    assert bflus_status(a, token) == 401
    assert bflus_status(b, token) == 401


def test_rotated_secret_is_refused_on_every_server(servers, partner):
    (a, b), (created, _token) = servers, partner
    call_command("rotate_secret", "multi", stdout=StringIO())
    for server in (a, b):
        status, body = http("POST", f"{server.url}/auth/token",
                            {"client_id": "multi", "client_secret": created.client_secret})
        assert (status, body["error"]) == (401, "invalid_client")
