"""A partner's next token request sees every change made since its last one, whoever made it.

Each test has the partner get tokens first, then changes something in the database the way staff, a
command or a hand in psql would, and checks the next request's answer: status, audit reason, counts.
"""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from bfluence.errors import InvalidClient
from clients.models import ClientSecret
from clients.services import (
    ClientCredentials,
    PolicyChange,
    client_auth_policy_set,
    client_authenticate,
    secret_rotate,
)
from communities.models import Community
from communities.services import community_update
from tests.conftest import TEST_ACTOR, basic, make_community, request_token
from tests.keyfactory import dpop_proof, private_key
from tokens.models import IssuedToken
from tokens.services import community_deactivate, token_issue

pytestmark = [pytest.mark.django_db]


def _token_client_limit(rate: str):
    limits = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_client": rate}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limits})


def _busy(api, created) -> None:
    """Three tokens, as a busy partner gets them."""
    for _ in range(3):
        assert request_token(api, created).status_code == 200


def _renamed(created) -> None:
    """A staff edit that changes nothing a token depends on."""
    community_update(
        community=created.community,
        actor=TEST_ACTOR,
        name="renamed",
        permissions=["bflus:read"],
        token_lifetime=None,
    )


def _failures(created) -> list[str]:
    return list(
        AuditEvent.objects.filter(event_type="client_auth_failed", client_id=created.community.client_id)
        .order_by("id")
        .values_list("details__reason", flat=True)
    )


def test_a_secret_ended_by_rotation_is_refused_at_once(api, acme):
    _busy(api, acme)
    tokens_before = IssuedToken.objects.count()
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    response = request_token(api, acme)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert IssuedToken.objects.count() == tokens_before
    assert _failures(acme) == ["secret_ended"]


def test_a_digest_changed_by_hand_refuses_the_old_secret(api, acme):
    _busy(api, acme)
    ClientSecret.objects.filter(community=acme.community).update(digest="0" * 64)
    assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["invalid_client"]


def test_an_ip_allowlist_set_since_is_refused_for_its_own_reason(api, acme):
    _busy(api, acme)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["192.0.2.0/24"]), actor=TEST_ACTOR
    )
    response = request_token(api, acme)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert _failures(acme) == ["ip_not_allowed"]


def test_a_deactivated_community_is_refused(api, acme):
    _busy(api, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["community_inactive"]


def test_a_permission_change_is_in_the_next_token(api):
    created = make_community("scoped", permissions=("bflus:read",))
    _busy(api, created)
    community_update(
        community=created.community, actor=TEST_ACTOR, name="scoped", permissions=[], token_lifetime=None
    )
    response = request_token(api, created)
    assert response.status_code == 200 and response.json()["scope"] == ""
    assert IssuedToken.objects.filter(community=created.community).latest("issued_at").scope == ""


def test_a_staff_edit_between_requests_counts_each_request_once(api, acme, one_window):
    limits = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_client": "5/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limits}):
        _busy(api, acme)  # 3 of 5
        _renamed(acme)
        assert request_token(api, acme).status_code == 200  # 4 of 5
        assert request_token(api, acme).status_code == 200  # 5 of 5
        assert request_token(api, acme).status_code == 429


def test_a_dpop_proof_after_an_edit_binds_the_token(api, acme):
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    _busy(api, acme)
    _renamed(acme)
    proof = dpop_proof(private_key("ES256"), "POST", "http://testserver/auth/token")
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    response = api.post("/auth/token", body, format="json", HTTP_DPOP=proof)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"


def test_revoking_with_an_ended_secret_is_refused(api, acme):
    token = request_token(api, acme).json()["access_token"]
    _busy(api, acme)
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    response = api.post("/auth/revoke", {"token": token}, format="json", **basic("acme", acme.client_secret))
    assert response.status_code == 401
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert IssuedToken.objects.get(pk=jti).revoked_at is None


def test_a_wrong_secret_for_a_busy_client_is_refused_like_any(api, acme, globex):
    _busy(api, acme)
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json"
    )
    assert response.status_code == 401
    assert _failures(acme) == ["invalid_client"]


def test_a_grace_window_that_ended_since_is_refused(api, acme):
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(seconds=40))
    with time_machine.travel(timezone.now(), tick=True):
        _busy(api, acme)  # the old secret, in its grace window
    with time_machine.travel(timezone.now() + timedelta(seconds=45), tick=True):  # last use not due yet
        assert request_token(api, acme).status_code == 401
    assert _failures(acme) == ["secret_ended"]


# --- Changes that widen what the partner may do take effect at once too --------------------------------


def test_an_ip_allowlist_widened_since_admits_the_new_address(api, acme):
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["127.0.0.1/32"]), actor=TEST_ACTOR
    )
    _busy(api, acme)
    client_auth_policy_set(
        community=acme.community,
        change=PolicyChange(allowed_ips=["127.0.0.1/32", "198.51.100.0/24"]),
        actor=TEST_ACTOR,
    )
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    response = api.post("/auth/token", body, format="json", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200, response.content
    assert _failures(acme) == []


def test_dpop_no_longer_required_admits_a_bearer_request(api, acme):
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    key = private_key("ES256")
    for _ in range(3):
        proof = dpop_proof(key, "POST", "http://testserver/auth/token")
        body = {"client_id": "acme", "client_secret": acme.client_secret}
        assert api.post("/auth/token", body, format="json", HTTP_DPOP=proof).status_code == 200
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    response = request_token(api, acme)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"
    assert _failures(acme) == []


def test_a_permission_granted_since_can_be_requested(api):
    created = make_community("scoped", permissions=("bflus:read",))
    _busy(api, created)
    community_update(
        community=created.community,
        actor=TEST_ACTOR,
        name="scoped",
        permissions=["bflus:read", "bflus:write"],
        token_lifetime=None,
    )
    response = request_token(api, created, scope="bflus:write")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "bflus:write"


def test_an_ended_secret_does_not_use_up_the_partners_own_limit(api, acme, one_window):
    """Whoever still holds a rotated-out secret is refused, and a refusal never counts against the
    partner's ``token_client`` limit: the partner's own next request, the 4th of its 4, is answered."""
    old_secret = acme.client_secret
    with _token_client_limit("4/min"):
        _busy(api, acme)  # 3 of 4
        rotated = secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
        body = {"client_id": "acme", "client_secret": old_secret}
        assert api.post("/auth/token", body, format="json").status_code == 401
        new_body = {"client_id": "acme", "client_secret": rotated.client_secret}
        response = api.post("/auth/token", new_body, format="json")
        assert response.status_code == 200, response.content  # 4 of 4


def test_an_ended_secret_is_refused_and_audited_even_when_the_partner_is_at_its_limit(api, acme, one_window):
    """401 and a ``secret_ended`` audit row: failures never touch the partner's ``token_client``."""
    old_secret = acme.client_secret
    with _token_client_limit("3/min"):
        _busy(api, acme)  # 3 of 3
        secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
        body = {"client_id": "acme", "client_secret": old_secret}
        response = api.post("/auth/token", body, format="json")
    assert response.status_code == 401, response.content
    assert _failures(acme) == ["secret_ended"]


# --- A change between a request's authentication and its token -----------------------------------------


def _authenticated(created):
    return client_authenticate(
        credentials=ClientCredentials(created.community.client_id, created.client_secret),
        source_ip="127.0.0.1",
    )


def test_a_permission_withdrawn_between_authentication_and_issue_is_not_minted(api):
    created = make_community("changed", permissions=("bflus:read", "bflus:write"))
    client = _authenticated(created)
    community_update(
        community=Community.objects.get(pk=created.community.pk),
        actor=TEST_ACTOR,
        name="changed",
        permissions=["bflus:read"],
        token_lifetime=None,
    )

    issued = token_issue(client=client, requested_scope=None, source_ip="127.0.0.1")

    assert issued.permissions == ["bflus:read"]
    assert IssuedToken.objects.get(jti=issued.jti).scope == "bflus:read"


@pytest.mark.parametrize(
    "cut_off",
    [
        lambda created: community_deactivate(community=created.community, actor=TEST_ACTOR),
        lambda created: secret_rotate(community=created.community, actor=TEST_ACTOR),
        lambda created: client_auth_policy_set(
            community=created.community, change=PolicyChange(allowed_ips=["192.0.2.0/24"]), actor=TEST_ACTOR
        ),
        lambda created: client_auth_policy_set(
            community=created.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR
        ),
    ],
    ids=["deactivated", "rotated", "allowlist", "dpop required"],
)
def test_a_cut_off_between_authentication_and_issue_is_refused(api, cut_off):
    created = make_community("gone")
    client = _authenticated(created)
    cut_off(created)
    tokens_before = IssuedToken.objects.count()

    with pytest.raises(InvalidClient):
        token_issue(client=client, requested_scope=None, source_ip="127.0.0.1")

    assert IssuedToken.objects.count() == tokens_before
    refusal = AuditEvent.objects.filter(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED).latest("id")
    assert refusal.details["reason"] == "cut_off_while_issuing"
