"""Standard OAuth 2.0 clients and our example client, unchanged, against a live server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from django.test import override_settings
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

from examples.partner_client import BfluenceClient, BfluenceError
from tests.conftest import make_community
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner():
    return make_community("clientco", members={"123": 1500})


@pytest.fixture
def urls(live_server):
    base = live_server.url
    return {
        "token": f"{base}/auth/token",
        "revoke": f"{base}/auth/revoke",
        "bflus": f"{base}/communities/hub/client/123/get-bflus",
        "base": base,
    }


# --- Authlib ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_fetches_calls_and_revokes(partner, urls, method):
    session = AuthlibSession(
        "clientco",
        partner.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    )
    token = session.fetch_token(urls["token"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400

    response = session.get(urls["bflus"])
    assert (response.status_code, response.json()["bflus"]) == (200, 1500)

    assert session.revoke_token(urls["revoke"], token=token["access_token"]).status_code == 200
    refused = session.get(urls["bflus"])
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")


# --- requests-oauthlib --------------------------------------------------------------------------


def test_requests_oauthlib_backend_application_client(partner, urls, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server speaks plain HTTP on 127.0.0.1
    session = RequestsOAuthlibSession(client=BackendApplicationClient(client_id="clientco"))
    token = session.fetch_token(
        token_url=urls["token"], client_id="clientco", client_secret=partner.client_secret
    )
    assert token["scope"] == ["bflus:read"]

    response = session.get(urls["bflus"])
    assert (response.status_code, response.json()["client"]) == (200, "123")

    revoked = session.post(
        urls["revoke"], data={"token": token["access_token"]}, auth=("clientco", partner.client_secret)
    )
    assert revoked.status_code == 200
    assert session.get(urls["bflus"]).status_code == 401


# --- examples/partner_client.py ------------------------------------------------------------------


class FakeClock:
    """Time as the client sees it, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_example_client_caches_the_token(partner, urls):
    client = BfluenceClient(urls["base"], client_id="clientco", client_secret=partner.client_secret)
    assert client.get_bflus("123")["bflus"] == 1500
    assert client.me()["client_id"] == "clientco"
    assert IssuedToken.objects.count() == 1


def test_example_client_renews_shortly_before_expiry(partner, urls):
    clock = FakeClock()
    client = BfluenceClient(
        urls["base"], client_id="clientco", client_secret=partner.client_secret, clock=clock
    )
    first = client.access_token()
    clock.now += 86400 - 120
    assert client.access_token() == first
    clock.now += 61  # inside the last minute of the token's life
    assert client.access_token() != first
    assert IssuedToken.objects.count() == 2


def test_example_client_retries_once_with_a_fresh_token_after_a_401(partner, urls):
    client = BfluenceClient(urls["base"], client_id="clientco", client_secret=partner.client_secret)
    client.get_bflus("123")
    IssuedToken.objects.update(revoked_at="2026-01-01T00:00:00Z")  # revoked behind the client's back
    assert client.get_bflus("123")["bflus"] == 1500
    assert IssuedToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_example_client_honours_retry_after(partner, urls, settings):
    waits = []
    client = BfluenceClient(
        urls["base"], client_id="clientco", client_secret=partner.client_secret, sleep=waits.append
    )
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "1/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        client.get_bflus("123")
        with pytest.raises(BfluenceError) as raised:
            client.get_bflus("123")
    assert raised.value.status == 429 and raised.value.code == "rate_limited"
    assert len(waits) == 2 and all(1 <= wait <= 60 for wait in waits)


def test_example_client_reports_errors_in_the_api_shape(partner, urls):
    client = BfluenceClient(urls["base"], client_id="clientco", client_secret=partner.client_secret)
    with pytest.raises(BfluenceError) as raised:
        client.get_bflus("999")
    assert (raised.value.status, raised.value.code) == (404, "not_found")
    wrong = BfluenceClient(urls["base"], client_id="clientco", client_secret="bfl_sk_wrong")
    with pytest.raises(BfluenceError) as raised:
        wrong.get_bflus("123")
    assert (raised.value.status, raised.value.code) == (401, "invalid_client")
    assert partner.client_secret not in repr(client)


def test_example_client_revoke(partner, urls):
    client = BfluenceClient(urls["base"], client_id="clientco", client_secret=partner.client_secret)
    client.get_bflus("123")
    client.revoke()
    assert IssuedToken.objects.get().revoked_at is not None


def run_example(base_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The example as a partner runs it: a program, credentials in the environment."""
    root = Path(__file__).resolve().parent.parent
    clean = {key: value for key, value in os.environ.items() if not key.startswith("BFLUENCE_")}
    return subprocess.run(
        [sys.executable, str(root / "examples" / "partner_client.py"), "--base-url", base_url, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_example_client_runs_as_a_program_and_prints_a_balance(partner, urls):
    result = run_example(
        urls["base"], "123", BFLUENCE_CLIENT_ID="clientco", BFLUENCE_CLIENT_SECRET=partner.client_secret
    )
    assert result.returncode == 0, result.stderr
    assert "member 123 of clientco: 1500 bflus" in result.stdout
    assert partner.client_secret not in result.stdout + result.stderr


def test_example_program_says_what_went_wrong(partner, urls):
    unknown = run_example(
        urls["base"], "999", BFLUENCE_CLIENT_ID="clientco", BFLUENCE_CLIENT_SECRET=partner.client_secret
    )
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert "404 not_found" in unknown.stderr
    missing = run_example(urls["base"], "123", BFLUENCE_CLIENT_ID="clientco")
    assert missing.returncode == 2 and "BFLUENCE_CLIENT_SECRET" in missing.stderr
