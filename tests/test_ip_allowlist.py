"""Per-community source-IP allowlists (SPEC §4.1): token requests and, if asked, API calls.

The source IP is the project's own (TRUSTED_PROXIES rules, SPEC §6): behind a trusted proxy the
forwarded address counts; otherwise X-Forwarded-For is ignored and cannot open the allowlist.
"""

import pytest

from audit.models import AuditEvent
from bfluence.source_ip import parse_trusted_proxies
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, bearer, get_bflus, make_community, post_form, request_token
from tests.keyfactory import wrong_secret_for

pytestmark = pytest.mark.django_db


def allow(created, *networks, api=None):
    client_auth_policy_set(
        community=created.community,
        actor=TEST_ACTOR,
        change=PolicyChange(allowed_ips=list(networks), allowlist_applies_to_api=api),
    )
    return created


@pytest.fixture
def acme(db):
    return make_community("acme", members={"123": 1500})


def from_ip(address: str) -> dict:
    return {"REMOTE_ADDR": address}


def trust_local_proxy(settings) -> None:
    """Make 127.0.0.1 (the test client's peer) a trusted proxy (SPEC §6: addresses / CIDR ranges)."""
    settings.BFLUENCE = {**settings.BFLUENCE, "TRUSTED_PROXIES": parse_trusted_proxies(["127.0.0.1"])}


def test_token_from_inside_the_allowlist_is_issued(api, acme):
    allow(acme, "203.0.113.0/24")
    assert request_token(api, acme).status_code == 401  # the test client's 127.0.0.1 is outside
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        **from_ip("203.0.113.9"),
    )
    assert response.status_code == 200


def test_refusal_is_the_usual_invalid_client_with_an_audit_row_saying_why(api, acme):
    wrong = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": wrong_secret_for(acme.client_secret)},
        format="json",
        **from_ip("198.51.100.1"),
    )
    allow(acme, "203.0.113.0/24")
    outside = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        **from_ip("198.51.100.1"),
    )
    assert outside.status_code == wrong.status_code == 401
    assert outside.json() == wrong.json() and outside.json()["error"] == "invalid_client"
    event = AuditEvent.objects.filter(event_type="client_auth_failed").latest("id")
    assert event.details == {"reason": "ip_not_allowed", "method": "client_secret"}
    assert event.source_ip == "198.51.100.1" and event.client_id == "acme"


@pytest.mark.parametrize(
    "network,address,allowed",
    [
        ("2001:db8:abcd::/48", "2001:db8:abcd:12::1", True),
        ("2001:db8:abcd::/48", "2001:db8:abce::1", False),
        ("2001:db8::7/128", "2001:db8::7", True),
        ("203.0.113.0/24", "::ffff:203.0.113.5", True),  # IPv4 client on a dual-stack socket
        ("203.0.113.0/24", "2001:db8::1", False),
        ("::/0", "203.0.113.5", False),  # an IPv6 range never admits IPv4
    ],
)
def test_ipv6_and_mixed_families(api, acme, network, address, allowed):
    allow(acme, network)
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        **from_ip(address),
    )
    assert response.status_code == (200 if allowed else 401)


def test_revoke_and_revocation_requests_obey_the_allowlist(api, acme):
    allow(acme, "203.0.113.0/24")
    body = {"client_id": "acme", "client_secret": acme.client_secret, "reason": "leak"}
    assert post_form(api, "/auth/revocation-requests", body, **from_ip("198.51.100.1")).status_code == 401
    assert post_form(api, "/auth/revocation-requests", body, **from_ip("203.0.113.1")).status_code == 202


def test_forwarded_for_is_ignored_without_a_trusted_proxy(api, acme):
    allow(acme, "203.0.113.0/24")
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert response.status_code == 401


def test_behind_a_trusted_proxy_the_forwarded_address_counts(api, acme, settings):
    trust_local_proxy(settings)
    allow(acme, "2001:db8:abcd::/48")
    inside = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        HTTP_X_FORWARDED_FOR="2001:db8:abcd::42",
    )
    assert inside.status_code == 200
    outside = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        HTTP_X_FORWARDED_FOR="2001:db8:ffff::42",
    )
    assert outside.status_code == 401
    assert (
        AuditEvent.objects.filter(details__reason="ip_not_allowed").latest("id").source_ip
        == "2001:db8:ffff::42"
    )


def test_api_calls_are_free_unless_the_community_asks(api, acme):
    allow(acme, "203.0.113.0/24")
    token = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        **from_ip("203.0.113.9"),
    ).json()["access_token"]
    assert get_bflus(api, token, REMOTE_ADDR="198.51.100.1").status_code == 200
    allow(acme, "203.0.113.0/24", api=True)
    refused = get_bflus(api, token, REMOTE_ADDR="198.51.100.1")
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert refused["WWW-Authenticate"].startswith('Bearer realm="bfluence", error="invalid_token"')
    event = AuditEvent.objects.get(event_type="api_call_refused")
    assert event.details == {"reason": "ip_not_allowed"} and event.source_ip == "198.51.100.1"
    assert event.community_id == acme.community.pk
    assert get_bflus(api, token, REMOTE_ADDR="203.0.113.77").status_code == 200
    assert api.get("/auth/me", **bearer(token), REMOTE_ADDR="2001:db8::1").status_code == 401


def test_api_allowlist_behind_a_trusted_proxy(api, acme, settings):
    trust_local_proxy(settings)
    allow(acme, "2001:db8::/32", api=True)
    token = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        HTTP_X_FORWARDED_FOR="2001:db8::5",
    ).json()["access_token"]
    assert get_bflus(api, token, HTTP_X_FORWARDED_FOR="2001:db8::6").status_code == 200
    assert get_bflus(api, token, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 401


def test_clearing_the_allowlist_opens_it_again(api, acme):
    allow(acme, "203.0.113.0/24")
    assert request_token(api, acme).status_code == 401
    allow(acme)
    assert request_token(api, acme).status_code == 200


def test_another_communitys_allowlist_does_not_apply(api, acme):
    other = make_community("globex")
    allow(other, "203.0.113.0/24", api=True)
    assert request_token(api, acme).status_code == 200
