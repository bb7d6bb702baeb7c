"""With the cache (Redis) unreachable, correctness holds and answers stay clean (SPEC §6, non-negotiable 7).

A real Redis client pointed at a closed port: every cache call fails the way it does in an outage.
"""

import logging
import socket

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
