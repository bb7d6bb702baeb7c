"""The production stack under load and faults: gunicorn (2 workers) on a private PostgreSQL and Redis.

The private instances belong to these tests alone, so stopping them never disturbs the machine's own
services or the rest of the suite. Nothing here is mocked: real processes are killed and restarted.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.client import HTTPException

import pytest

from tests.stack import (
    ROOT,
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    http,
    manage,
    partner_create,
    private_services_available,
    server_env,
)

pytestmark = [
    pytest.mark.production_stack,
    pytest.mark.skipif(private_services_available() is not None, reason=str(private_services_available())),
]


class Stack:
    def __init__(self) -> None:
        self.postgres = PrivatePostgres()
        self.redis = PrivateRedis()
        self.env = {
            "DATABASE_URL": self.postgres.url,
            "CACHE_URL": self.redis.url,
            "THROTTLE_TOKEN_CLIENT": "100000/min",
            "THROTTLE_TOKEN_IP": "100000/min",
            "THROTTLE_TOKEN_FAILURES": "100000/min",
            "THROTTLE_API": "1000000/min",
            "CONN_MAX_AGE": "60",
        }
        manage("migrate", "--no-input", "-v", "0", **self.env)
        self.credentials = partner_create("loadco", "Load Co", bflus=1500, **self.env)
        self.server = Gunicorn(workers=2, **self.env)

    def token(self) -> tuple[int, dict]:
        return http("POST", f"{self.server.url}/auth/token", self.credentials)

    def bflus(self, token: str) -> int:
        return http("GET", f"{self.server.url}/communities/hub/client/123/get-bflus", token=token)[0]

    def destroy(self) -> None:
        self.server.stop()
        self.redis.stop()
        self.postgres.destroy()


@pytest.fixture(scope="module")
def stack():
    built = Stack()
    try:
        yield built
    finally:
        built.destroy()


def _issued_without_audit(stack) -> int:
    return stack.postgres.query(
        "SELECT count(*) FROM tokens_issuedtoken t WHERE NOT EXISTS (SELECT 1 FROM tokens_auditevent a "
        "WHERE a.jti = t.jti AND a.event_type = 'token_issued')"
    )[0][0]


def _audit_without_issued(stack) -> int:
    return stack.postgres.query(
        "SELECT count(*) FROM tokens_auditevent a WHERE a.event_type = 'token_issued' AND NOT EXISTS "
        "(SELECT 1 FROM tokens_issuedtoken t WHERE t.jti = a.jti)"
    )[0][0]


def test_load_without_loss(stack):
    """The load script, bounded: 8 s, 4 client threads, 127.0.0.1 only."""
    result = subprocess.run(
        [
            sys.executable,
            "bench/load_check.py",
            "--base-url",
            stack.server.url,
            "--seconds",
            "8",
            "--threads",
            "4",
            "--client-id",
            stack.credentials["client_id"],
            "--client-secret",
            stack.credentials["client_secret"],
        ],
        cwd=ROOT,
        env=server_env(**stack.env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    print("load report:", json.dumps(report))
    assert report["server_errors"] == 0 and report["violations"] == []
    assert report["tokens_received"] > 20 and report["tokens_revoked"] > 0
    assert report["records_checked"] == report["tokens_received"] == report["audit_rows_checked"]


def test_worker_killed_mid_request_leaves_no_half_written_rows(stack):
    stop = threading.Event()
    statuses = []

    def hammer():
        while not stop.is_set():
            try:
                statuses.append(stack.token()[0])
            except (OSError, HTTPException):
                statuses.append(0)  # the connection died with its worker

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(6):
            time.sleep(0.4)
            for pid in stack.server.worker_pids():
                os.kill(pid, signal.SIGKILL)
    finally:
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
    assert statuses.count(200) > 0
    assert not [status for status in statuses if status >= 500]
    assert _issued_without_audit(stack) == 0
    assert _audit_without_issued(stack) == 0
    assert stack.token()[0] == 200  # gunicorn replaced the killed workers


def test_redis_down_revocation_holds_and_answers_stay_clean(stack):
    status, body = stack.token()
    assert status == 200
    token = body["access_token"]
    stack.redis.stop()
    try:
        assert stack.bflus(token) == 200  # private calls go on, uncounted
        status, body = stack.token()
        assert (status, body["error"]) == (503, "service_unavailable")  # no unthrottled brute force
        ready_status, ready = http("GET", f"{stack.server.url}/readyz")
        assert (ready_status, ready["checks"]["cache"]) == (503, "down")
        manage("revoke_tokens", "loadco", "--all", **stack.env)
        assert stack.bflus(token) == 401  # revocation never depended on the cache
    finally:
        stack.redis.start()
    assert _recovers(lambda: stack.token()[0])  # by itself, once the breaker's pause is over


def _recovers(call, seconds: float = 10) -> bool:
    """True once ``call`` answers 200 within ``seconds``, having answered nothing but 503 before (the
    cache breaker's pause, a worker's first call after the outage)."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(call())
        if seen[-1] == 200:
            return set(seen[:-1]) <= {503}
        time.sleep(0.2)
    return False


def test_postgres_restart_gives_clean_503s_then_recovers_by_itself(stack):
    # A worker that met the previous test's Redis outage may still be in its breaker pause: 503, then 200.
    deadline = time.monotonic() + 10
    status, body = stack.token()
    while status == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = stack.token()
    assert status == 200, body
    token = body["access_token"]
    stack.postgres.stop()
    try:
        during = [stack.bflus(token) for _ in range(5)] + [stack.token()[0] for _ in range(5)]
        ready_status, ready = http("GET", f"{stack.server.url}/readyz")
    finally:
        stack.postgres.start()
    assert set(during) == {503}, during
    assert (ready_status, ready["checks"]["database"]) == (503, "down")
    after = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        after.append(stack.bflus(token))
        if after[-1] == 200:
            break
        time.sleep(0.2)
    assert after[-1] == 200 and not [s for s in after if s >= 500 and s != 503], after
    assert _recovers(lambda: stack.token()[0])
