"""With the cache (Redis) unreachable or silent, correctness holds, answers stay clean and no worker waits
(SPEC §2.7, §6).

A real Redis client pointed at a closed port (every call refused, as in an outage), or at a listener that
accepts connections and never answers (a stalled Redis: every call waits for its timeout).
"""

import logging
import socket
import threading
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from audit.models import AuditEvent
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, request_token
from tokens.services import community_deactivate, tokens_revoke_all

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # released: nothing listens there


@pytest.fixture
def redis_down():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    backend = {
        "BACKEND": "django_redis.cache.RedisCache",  # what production runs (bfluence/settings.py)
        "LOCATION": url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
    with override_settings(CACHES={"default": backend}):
        yield
    cache.close()


class SilentListener:
    """A TCP listener on 127.0.0.1 that accepts every connection and never answers a byte."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.server.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


def _redis_at(port: int, **settings_overrides):
    backend = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        # What bfluence/settings.py sets from CACHE_CONNECT_TIMEOUT / CACHE_TIMEOUT by default.
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
    }
    return override_settings(CACHES={"default": backend}, **settings_overrides)


@pytest.fixture
def silent_redis():
    listener = SilentListener()
    with _redis_at(listener.port):
        yield listener
    cache.close()
    listener.close()


@pytest.fixture(params=["closed_port", "silent"])
def cache_outage(request):
    """Both ways a cache fails: refused at once, or never answering."""
    if request.param == "silent":
        yield request.getfixturevalue("silent_redis")
    else:
        yield request.getfixturevalue("redis_down")


@pytest.fixture
def token_before_outage(api, acme):
    return issue_token(api, acme)


def test_private_calls_keep_working_uncounted(api, token_before_outage, redis_down):
    assert get_bflus(api, token_before_outage).status_code == 200


def test_a_private_call_the_throttle_must_count_is_let_through_and_said(
    api, token_before_outage, redis_down, caplog
):
    """A small API limit counts every call (no local batch): the count fails, the call is answered, and
    the outage is logged, not hidden."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "50/min"}
    with (
        override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}),
        caplog.at_level(logging.WARNING, logger="bfluence.throttling"),
    ):
        answered = get_bflus(api, token_before_outage)

    assert answered.status_code == 200 and answered.json()["bflus"] == 1500
    assert "rate-limit cache unavailable" in caplog.text and "request allowed" in caplog.text


def test_revocation_still_holds_with_the_cache_down(api, acme, token_before_outage, redis_down):
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="outage drill")
    response = get_bflus(api, token_before_outage)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_deactivation_still_holds_with_the_cache_down(api, acme, token_before_outage, redis_down):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert get_bflus(api, token_before_outage).status_code == 401


def test_token_endpoint_answers_a_clean_503_rather_than_skip_brute_force_limits(api, acme, redis_down):
    response = request_token(api, acme)
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


def test_token_endpoint_gives_no_verdict_it_could_not_count(api, acme, globex, redis_down):
    """The secret is checked before the one count; with the count lost, no 401 tells a guesser anything."""
    wrong = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json"
    )
    unreadable = api.post("/auth/token", "{not json", content_type="application/json")
    for response in (wrong, unreadable):
        assert response.status_code == 503
        assert response.json()["error"] == "service_unavailable"


def test_readyz_names_the_cache_as_down(api, redis_down):
    response = api.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "cache": "down"}
    assert body["error"] == "service_unavailable"


def test_an_outage_does_not_let_outsiders_reach_the_database(
    api, acme, globex, redis_down, django_assert_num_queries
):
    """The count comes after the credential check; once this process has seen the cache fail, it asks
    the cache first, so guesses during an outage cost no read and write no audit row before their 503."""
    guess = {"client_id": "acme", "client_secret": globex.client_secret}
    assert api.post("/auth/token", guess, format="json").status_code == 503  # discovers the outage
    audited = AuditEvent.objects.filter(event_type="client_auth_failed").count()

    with django_assert_num_queries(0):
        for _ in range(20):
            response = api.post("/auth/token", guess, format="json")
            assert response.status_code == 503
            assert response.json()["error"] == "service_unavailable"
    assert AuditEvent.objects.filter(event_type="client_auth_failed").count() == audited


def test_once_the_cache_answers_again_token_requests_go_through(api, acme, redis_down):
    assert request_token(api, acme).status_code == 503  # this process now doubts the cache
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        assert request_token(api, acme).status_code == 200  # checked the cache first: it answers again
        assert request_token(api, acme).status_code == 200


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_silent_cache_holds_a_token_request_for_one_timeout_then_never(api, acme, silent_redis):
    """The first request waits for the read timeout (≤ 250 ms); then the breaker answers every request
    503 with Retry-After at once, without asking the cache (no new connection)."""
    first, took = _timed(lambda: request_token(api, acme))
    assert first.status_code == 503 and first.json()["error"] == "service_unavailable"
    assert took < 1.0
    connections = len(silent_redis.accepted)

    started = time.monotonic()
    for _ in range(20):
        response = request_token(api, acme)
        assert response.status_code == 503
        assert response.json()["error"] == "service_unavailable"
        assert 1 <= int(response["Retry-After"]) <= 2  # CACHE_BREAKER_PAUSE, 2 s by default
    assert time.monotonic() - started < 1.0  # 20 × 250 ms without the breaker
    assert len(silent_redis.accepted) == connections


def test_after_the_pause_the_cache_is_asked_again(api, acme, silent_redis):
    with override_settings(CACHE_BREAKER_PAUSE=0.2):
        assert request_token(api, acme).status_code == 503
        asked = len(silent_redis.accepted)
        assert request_token(api, acme).status_code == 503
        assert len(silent_redis.accepted) == asked  # within the pause: not asked
        time.sleep(0.25)
        assert request_token(api, acme).status_code == 503
        assert len(silent_redis.accepted) == asked + 1  # after it: asked again, on a new connection


def test_readyz_answers_within_a_second_with_the_cache_down(api, cache_outage):
    response, took = _timed(lambda: api.get("/readyz"))
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "down"}
    assert took < 1.0
    again, took_again = _timed(lambda: api.get("/readyz"))
    assert again.status_code == 503 and took_again < 0.2  # the breaker: not asked again


def test_private_calls_share_the_breaker_and_keep_working(api, token_before_outage, silent_redis):
    """The API throttle counts every call at a small limit; once a token request found the cache silent,
    private calls are answered from the database without waiting on it."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "50/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        assert api.post("/auth/token", {}, format="json").status_code == 503  # finds the cache silent
        connections = len(silent_redis.accepted)
        started = time.monotonic()
        for _ in range(10):
            response = get_bflus(api, token_before_outage)
            assert response.status_code == 200 and response.json()["bflus"] == 1500
        assert time.monotonic() - started < 1.0
        assert len(silent_redis.accepted) == connections


def test_partners_can_revoke_and_report_with_the_cache_down(api, acme, cache_outage):
    """SPEC §2.7: the brake works without the cache; /auth/token alone answers 503."""
    credentials = {"client_id": "acme", "client_secret": acme.client_secret}
    revoked = api.post("/auth/revoke", {**credentials, "token": "not-a-token"}, format="json")
    assert revoked.status_code == 200 and revoked.json() == {}
    reported = api.post(
        "/auth/revocation-requests", {**credentials, "reason": "laptop stolen"}, format="json"
    )
    assert reported.status_code == 202
    assert reported.json()["status"] == "pending" and reported.json()["secrets_suspended"] == 1
    assert request_token(api, acme).status_code == 503


def test_a_token_issued_before_the_outage_is_revoked_during_it(api, acme, cache_outage):
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        token = issue_token(api, acme)
    body = {"client_id": "acme", "client_secret": acme.client_secret, "token": token}
    assert api.post("/auth/revoke", body, format="json").status_code == 200
    assert get_bflus(api, token).status_code == 401


@pytest.mark.parametrize("path", ["/auth/revoke", "/auth/revocation-requests"])
def test_failures_at_the_brake_are_still_limited_without_the_cache(
    api, acme, globex, cache_outage, one_window, path
):
    """Counted in this process while the cache cannot count: THROTTLE_TOKEN_FAILURES (10/min) verdicts,
    then 429 with Retry-After."""
    wrong = {"client_id": "acme", "client_secret": globex.client_secret, "token": "x", "reason": "x"}
    statuses = [api.post(path, wrong, format="json").status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429, 429]
    refused = api.post(path, wrong, format="json")
    assert refused.json()["error"] == "rate_limited" and int(refused["Retry-After"]) >= 1
