"""The source IP (SPEC §6 ``TRUSTED_PROXIES``): X-Forwarded-For only from the proxies we run.

The header is read only when the direct peer is a configured proxy, right to left, skipping trusted
entries; the first untrusted entry is the source. Anyone who reaches the app port directly gets their
own address, whatever they write in the header: they cannot dodge a per-IP limit, or put an empty or
invented address into the audit trail.
"""

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings

from audit.models import AuditEvent
from bfluence.source_ip import parse_trusted_proxies
from bfluence.source_ip import request_source_ip as client_ip
from tests.test_client_auth_limits import rates

PROXY = "10.0.0.5"


def proxies(*entries: str):
    return override_settings(
        BFLUENCE={**settings.BFLUENCE, "TRUSTED_PROXIES": parse_trusted_proxies(list(entries))}
    )


def source(peer: str, forwarded_for: str | None = None) -> str | None:
    headers = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(RequestFactory().get("/", **headers))


def test_with_the_default_the_header_is_ignored():
    assert source("198.51.100.1", "203.0.113.9") == "198.51.100.1"


def test_a_trusted_proxys_forwarded_for_names_the_source():
    with proxies(PROXY):
        assert source(PROXY, "203.0.113.9") == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_name_its_source():
    with proxies(PROXY):
        assert source("198.51.100.1", "203.0.113.9") == "198.51.100.1"
        assert source("198.51.100.1", "") == "198.51.100.1"
        assert source("198.51.100.1", "not-an-ip") == "198.51.100.1"


def test_read_right_to_left_skipping_trusted_entries():
    # The client wrote "1.2.3.4" itself; the edge proxy appended the real address, an inner proxy its own.
    with proxies("10.0.0.0/8"):
        assert source(PROXY, "1.2.3.4, 203.0.113.9, 10.1.2.3") == "203.0.113.9"


def test_several_header_lines_are_read_as_one_list():
    with proxies(PROXY):
        assert source(PROXY, "1.2.3.4,203.0.113.9") == "203.0.113.9"


def test_when_every_entry_is_trusted_the_furthest_one_is_the_source():
    with proxies("10.0.0.0/8"):
        assert source(PROXY, "10.9.9.9, 10.1.1.1") == "10.9.9.9"
        assert source(PROXY) == PROXY


def test_an_unreadable_entry_is_charged_to_the_hop_that_handed_it_over():
    with proxies("10.0.0.0/8"):
        assert source(PROXY, "203.0.113.9, garbage, 10.1.1.1") == "10.1.1.1"
        assert source(PROXY, "") == PROXY
        assert source(PROXY, "unknown") == PROXY


def test_ipv6_ranges_ports_and_mapped_addresses():
    with proxies("fd00::/8", "127.0.0.1"):
        assert source("fd00::1", "2001:db8::5") == "2001:db8::5"
        assert source("fd00::1", "[2001:db8::5]:4711") == "2001:db8::5"
        assert source("::ffff:127.0.0.1", "203.0.113.9:51000") == "203.0.113.9"
        assert source("fd00::1", "::ffff:203.0.113.9") == "203.0.113.9"


# --- through the API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_forged_forwarded_for_from_a_direct_caller_dodges_no_limit(api, acme, one_window):
    with proxies(PROXY), rates(token_ip="2/min"):
        statuses = [
            api.post(
                "/auth/token",
                {"client_id": "acme", "client_secret": acme.client_secret},
                format="json",
                REMOTE_ADDR="198.51.100.1",
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            ).status_code
            for n in range(3)
        ]
    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_partner_has_its_own_limits(api, acme, globex, one_window):
    with proxies(PROXY), rates(token_ip="2/min"):
        statuses = [
            api.post(
                "/auth/token",
                {"client_id": "acme", "client_secret": acme.client_secret},
                format="json",
                REMOTE_ADDR=PROXY,
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            ).status_code
            for n in range(4)
        ]
    assert statuses == [200] * 4


@pytest.mark.django_db
@pytest.mark.parametrize("forged", ["", "   ", "999.1.1.1", "203.0.113.66", "203.0.113.66, 10.0.0.5"])
def test_a_direct_caller_cannot_put_an_invented_address_into_the_audit_trail(api, acme, globex, forged):
    with proxies(PROXY):
        response = api.post(
            "/auth/token",
            {"client_id": "acme", "client_secret": globex.client_secret},
            format="json",
            REMOTE_ADDR="198.51.100.1",
            HTTP_X_FORWARDED_FOR=forged,
        )
    assert response.status_code == 401
    failed = AuditEvent.objects.get(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED)
    assert failed.source_ip == "198.51.100.1"


@pytest.mark.django_db
def test_the_audit_trail_records_the_partner_behind_the_proxy(api, acme):
    with proxies(PROXY):
        api.post(
            "/auth/token",
            {"client_id": "acme", "client_secret": acme.client_secret},
            format="json",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    issued = AuditEvent.objects.filter(event_type=AuditEvent.EventType.TOKEN_ISSUED).get()
    assert issued.source_ip == "203.0.113.9"


# --- X-Forwarded-Proto: believed from the same proxies only ----------------------------------------


def _https_behind_proxies():
    from django.conf import settings as live

    middleware = list(live.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.middleware.security.SecurityMiddleware"),
        "bfluence.source_ip.ForwardedProtoFromTrustedProxiesOnly",
    )
    return override_settings(
        SECURE_SSL_REDIRECT=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        MIDDLEWARE=middleware,
    )


@pytest.mark.django_db
def test_forwarded_proto_is_believed_from_a_trusted_proxy_only(api):
    with proxies(PROXY), _https_behind_proxies():
        direct = api.get("/auth/me", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_PROTO="https")
        proxied = api.get("/auth/me", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert direct.status_code == 301 and direct["Location"].startswith("https://")
    assert proxied.status_code == 401  # taken as HTTPS: on to authentication


def test_production_settings_install_the_forwarded_proto_guard():
    import os
    import secrets
    import subprocess
    import sys

    from tests.test_settings import ROOT

    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "true",
        "TRUSTED_PROXIES": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "bfluence.settings",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "m = s.MIDDLEWARE; print(m.index('bfluence.source_ip.ForwardedProtoFromTrustedProxiesOnly') + 1 "
        "== m.index('django.middleware.security.SecurityMiddleware'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr
