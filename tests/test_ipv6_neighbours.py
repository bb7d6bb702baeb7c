"""IPv6 neighbours count together (SECURITY.md, per-source limits): one subscriber holds a whole /64, so
every per-source-IP limit — client-authentication attempts and failures, the staff sign-in lockout —
counts an IPv6 address by its ``THROTTLE_IPV6_PREFIX`` network (default 64), and an IPv4-mapped IPv6
address as the IPv4 address it is. Audit rows still record the full address.

Real requests through the real views, from real addresses (``REMOTE_ADDR``).
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User

from audit.models import AuditEvent
from bfluence.source_ip import limit_bucket
from tests.test_client_auth_limits import rates

pytestmark = pytest.mark.usefixtures("one_window")

ONE_64 = [f"2001:db8:7:1:{n:x}:{n * 7:x}:a:{n}" for n in range(1, 13)]  # twelve hosts of one /64
OTHER_64 = "2001:db8:7:2::1"  # the next /64: another subscriber


def test_one_64_is_one_bucket_and_the_next_64_another():
    buckets = {limit_bucket(address, 64) for address in ONE_64}
    assert buckets == {"2001:db8:7:1::"}
    assert limit_bucket(OTHER_64, 64) == "2001:db8:7:2::"
    assert limit_bucket(ONE_64[0], 128) == "2001:db8:7:1:1:7:a:1"  # a /128: each address alone
    assert limit_bucket(ONE_64[0], 48) == limit_bucket(OTHER_64, 48) == "2001:db8:7::"


def test_ipv4_and_ipv4_mapped_ipv6_are_one_address():
    assert limit_bucket("::ffff:198.51.100.7", 64) == limit_bucket("198.51.100.7", 64) == "198.51.100.7"
    assert limit_bucket("198.51.100.8", 64) == "198.51.100.8"  # IPv4 neighbours are not merged
    assert limit_bucket(None, 64) is None and limit_bucket("", 64) is None


def test_the_prefix_is_a_setting(settings):
    from bfluence.conf import app_settings
    from bfluence.source_ip import source_limit_bucket

    assert app_settings().throttle_ipv6_prefix == 64
    settings.BFLUENCE = {**settings.BFLUENCE, "THROTTLE_IPV6_PREFIX": 56}
    assert source_limit_bucket("2001:db8:7:1ff::1") == "2001:db8:7:100::"


@pytest.fixture
def wrong_secret(api, acme, globex):
    """acme's client_id with globex's (well-formed, real) secret: a failed client authentication."""

    def attempt(ip):
        body = {"client_id": "acme", "client_secret": globex.client_secret}
        return api.post("/auth/token", body, format="json", REMOTE_ADDR=ip).status_code

    return attempt


@pytest.mark.django_db
def test_failures_from_one_64_share_one_count_and_the_next_64_is_not_charged(wrong_secret):
    with rates(token_failures="3/min"):
        statuses = [wrong_secret(ip) for ip in ONE_64[:6]]
        assert statuses == [401, 401, 401, 429, 429, 429]
        # Another subscriber, and the same host over IPv4, are other sources.
        assert wrong_secret(OTHER_64) == 401
        assert wrong_secret("198.51.100.7") == 401
    # Every row records the full address the attempt came from.
    recorded = set(
        AuditEvent.objects.filter(event_type="client_auth_failed").values_list("source_ip", flat=True)
    )
    assert set(ONE_64[:3]) <= recorded


@pytest.mark.django_db
def test_attempts_from_one_64_share_one_count(api, acme):
    with rates(token_ip="4/min"):
        statuses = [
            api.post("/auth/token", {"client_id": "acme"}, format="json", REMOTE_ADDR=ip).status_code
            for ip in ONE_64[:6]
        ]
        assert statuses == [400, 400, 400, 400, 429, 429]
        assert api.post("/auth/token", {}, format="json", REMOTE_ADDR=OTHER_64).status_code == 400


@pytest.mark.django_db
def test_ipv4_mapped_addresses_count_with_their_ipv4_address(wrong_secret):
    with rates(token_failures="2/min"):
        assert wrong_secret("198.51.100.9") == 401
        assert wrong_secret("::ffff:198.51.100.9") == 401
        assert wrong_secret("198.51.100.9") == 429


PASSWORD = "correct-horse-battery-staple-7"


@pytest.mark.django_db
def test_staff_sign_in_lockout_counts_a_64_as_one_source(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user("sue", password=PASSWORD, is_staff=True, is_superuser=True)

    def sign_in(password, ip):
        return client.post(
            "/admin/login/?next=/admin/", {"username": "sue", "password": password}, REMOTE_ADDR=ip
        )

    statuses = [sign_in("wrong-guess", ip).status_code for ip in ONE_64[: settings.AXES_FAILURE_LIMIT]]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # a fresh address per guess
    # Locked for the whole /64: the right password from yet another neighbour is refused...
    assert sign_in(PASSWORD, ONE_64[-1]).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"2001:db8:7:1::"}
    # ...while sue from another network signs in.
    assert sign_in(PASSWORD, OTHER_64).status_code == 302
    failed = AuditEvent.objects.filter(event_type="staff_sign_in_failed").values_list("source_ip", flat=True)
    assert set(ONE_64[: settings.AXES_FAILURE_LIMIT]) <= set(failed)  # the audit keeps each address
