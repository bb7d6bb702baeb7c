"""Shared fixtures: real requests through DRF's APIClient, communities made through the services."""

import base64
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from rest_framework.test import APIClient

from audit.services import Actor
from bfluence.cache import breaker as cache_breaker
from clients import limits as client_auth_limits
from clients.services import community_create
from communities.services import member_set_bflus
from console.second_factor import FACTOR_SESSION_KEY
from tokens.throttling import WindowCounterThrottle

TEST_ACTOR = Actor.command("tests")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache (and in batches not yet added, in the refusals a process
    remembers, in the counts kept while the cache is down, and in the breaker's pause): each test starts
    with none."""
    cache.clear()
    WindowCounterThrottle._pending.clear()
    client_auth_limits.refusals.clear()
    client_auth_limits.fallback_counts.clear()
    cache_breaker.reset()
    yield
    cache.clear()
    WindowCounterThrottle._pending.clear()
    client_auth_limits.refusals.clear()
    client_auth_limits.fallback_counts.clear()
    cache_breaker.reset()


@pytest.fixture
def postgresql_only():
    """For what only PostgreSQL has: row locks (SQLite serialises writers), prepared statements. CI's
    second run covers these."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: row locks, prepared statements")


@pytest.fixture
def one_window():
    """Start the test at the top of an hour (clock ticking on): a sequence of requests measured against a
    per-minute or per-hour limit never straddles a fixed window's boundary, so the counts are exact."""
    now = timezone.now()
    with time_machine.travel(
        now.replace(minute=0, second=0, microsecond=0) + timedelta(seconds=1), tick=True
    ):
        yield


@pytest.fixture
def api():
    return APIClient()


def make_community(client_id="acme", *, permissions=("bflus:read",), members=None, **kwargs):
    created = community_create(
        client_id=client_id,
        name=f"{client_id} community",
        actor=TEST_ACTOR,
        permissions=list(permissions),
        **kwargs,
    )
    for reference, bflus in (members or {}).items():
        member_set_bflus(community=created.community, reference=reference, bflus=bflus, actor=TEST_ACTOR)
    return created


@pytest.fixture
def acme(db):
    """A community with bflus:read and two members; ``.client_secret`` is its plaintext secret."""
    return make_community("acme", members={"123": 1500, "7": 0})


@pytest.fixture
def globex(db):
    return make_community("globex", members={"123": 99, "555": 5})


def request_token(api, created, **extra):
    body = {"client_id": created.community.client_id, "client_secret": created.client_secret, **extra}
    return api.post("/auth/token", body, format="json")


def issue_token(api, created, **extra) -> str:
    response = request_token(api, created, **extra)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_bflus(api, token, community="hub", client="123", **headers):
    return api.get(f"/communities/{community}/client/{client}/get-bflus", **bearer(token), **headers)


def post_form(api, path, fields: dict, **headers):
    """An ``application/x-www-form-urlencoded`` POST, as OAuth 2.0 clients send it."""
    from urllib.parse import urlencode

    return api.generic(
        "POST", path, urlencode(fields), content_type="application/x-www-form-urlencoded", **headers
    )


# --- staff sign-in with the second factor (SPEC §5a) ------------------------------------------------


def verified_device(user):
    """A confirmed authenticator-app device for ``user``."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
    return device


@pytest.fixture(autouse=True)
def _staff_sign_in_gives_the_second_factor(monkeypatch):
    """``client.force_login(staff)`` signs in as a staff member who also gave their second factor (and so
    may act), like the browser tests' sign-in, which types a real code. Tests of the factor itself sign
    in through the form instead."""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if not user.is_staff:
            return
        # What django_otp.login stores when a code is accepted (its documented session key), and the
        # console's note that the factor was just given (fresh for the password prompt).
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = verified_device(user).persistent_id
        session[FACTOR_SESSION_KEY] = int(time.time())
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


def totp_code(user, *, at: float | None = None) -> str:
    """What the person's authenticator app shows now (pyotp, as any app computes it)."""
    from base64 import b32encode

    import pyotp

    device = verified_device(user)
    return pyotp.TOTP(b32encode(device.bin_key).decode()).at(at if at is not None else time.time())
