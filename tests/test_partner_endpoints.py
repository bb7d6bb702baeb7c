"""get-bflus (§2.4), /auth/me (§2.5), /auth/revoke (§2.6), /auth/revocation-requests (§2.7), probes (§2.8)."""

import jwt
import pytest

from audit.models import AuditEvent
from tests.conftest import basic, bearer, get_bflus, issue_token, post_form
from tokens.models import IssuedToken, RevocationRequest

pytestmark = pytest.mark.django_db


def jti_of(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


# --- §2.4 get-bflus -------------------------------------------------------------------------------


def test_get_bflus_returns_the_members_balance(api, acme):
    response = get_bflus(api, issue_token(api, acme))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"community", "client", "bflus", "updated_at"}
    assert (body["community"], body["client"], body["bflus"]) == ("acme", "123", 1500)
    assert body["updated_at"].endswith("+00:00")


def test_get_bflus_accepts_the_callers_own_client_id_in_the_path(api, acme):
    response = get_bflus(api, issue_token(api, acme), community="acme", client="7")
    assert response.status_code == 200
    assert response.json()["bflus"] == 0


def test_get_bflus_with_a_trailing_slash(api, acme):
    token = issue_token(api, acme)
    assert api.get("/communities/hub/client/123/get-bflus/", **bearer(token)).status_code == 200


def test_unknown_member_other_communitys_member_and_other_community_get_identical_404s(api, acme, globex):
    token = issue_token(api, acme)
    responses = [
        get_bflus(api, token, client="999"),  # unknown member
        get_bflus(api, token, client="555"),  # globex's member, through hub
        get_bflus(api, token, community="globex", client="555"),  # another community in the path
        get_bflus(api, token, community="globex", client="123"),  # a reference both communities use
        get_bflus(api, token, community="nobody", client="123"),
    ]
    for response in responses:
        assert response.status_code == 404
        assert response.json() == responses[0].json()
    assert responses[0].json()["error"] == "not_found"


@pytest.mark.parametrize("reference", ["-1", "1" * 90, "١٢٣", "12%2F3", "%00", "123%20", " 123"])
def test_odd_member_references_are_404_never_another_members_data(api, acme, reference):
    response = api.get(f"/communities/hub/client/{reference}/get-bflus", **bearer(issue_token(api, acme)))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_tenant_comes_from_the_token_not_from_headers_or_query(api, acme, globex):
    token = issue_token(api, acme)
    response = api.get(
        "/communities/hub/client/555/get-bflus?community=globex",
        **bearer(token),
        HTTP_X_COMMUNITY="globex",
        HTTP_X_CLIENT_ID="globex",
    )
    assert response.status_code == 404


def test_unknown_url_is_a_json_404(api):
    response = api.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- §2.5 /auth/me --------------------------------------------------------------------------------


def test_me_describes_the_presented_token(api, acme):
    token = issue_token(api, acme)
    body = api.get("/auth/me", **bearer(token)).json()
    record = IssuedToken.objects.get(pk=jti_of(token))
    assert body == {
        "client_id": "acme",
        "community_name": "acme community",
        "permissions": ["bflus:read"],
        "jti": record.jti,
        "issued_at": record.issued_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
    }


def test_me_needs_a_token(api, acme):
    response = api.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


# --- §2.6 /auth/revoke ----------------------------------------------------------------------------


def revoke(api, created, token, **extra):
    body = {"client_id": created.community.client_id, "client_secret": created.client_secret, "token": token}
    return api.post("/auth/revoke", {**body, **extra}, format="json")


def test_revoke_json_then_the_token_is_refused_on_the_next_request(api, acme):
    token = issue_token(api, acme)
    response = revoke(api, acme, token, token_type_hint="access_token")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert get_bflus(api, token).status_code == 401
    record = IssuedToken.objects.get(pk=jti_of(token))
    assert record.revoked_at is not None and record.revoked_by == "partner:acme"
    event = AuditEvent.objects.get(event_type="token_revoked", jti=record.jti)
    assert (event.actor, event.source_ip) == ("acme", "127.0.0.1")


def test_revoke_with_form_and_basic(api, acme):
    token = issue_token(api, acme)
    response = post_form(api, "/auth/revoke", {"token": token}, **basic("acme", acme.client_secret))
    assert response.status_code == 200
    assert get_bflus(api, token).status_code == 401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 3000])
def test_revoke_unknown_or_invalid_token_is_still_200(api, acme, token):
    assert revoke(api, acme, token).status_code == 200


def test_revoke_already_revoked_token_is_200(api, acme):
    token = issue_token(api, acme)
    assert revoke(api, acme, token).status_code == 200
    assert revoke(api, acme, token).status_code == 200
    assert AuditEvent.objects.filter(event_type="token_revoked").count() == 1


def test_revoke_never_revokes_another_communitys_token(api, acme, globex):
    their_token = issue_token(api, globex)
    assert revoke(api, acme, their_token).status_code == 200
    assert get_bflus(api, their_token).status_code == 200
    assert IssuedToken.objects.get(pk=jti_of(their_token)).revoked_at is None


def test_revoke_needs_client_authentication(api, acme, globex):
    token = issue_token(api, acme)
    response = api.post(
        "/auth/revoke",
        {"client_id": "acme", "client_secret": globex.client_secret, "token": token},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert get_bflus(api, token).status_code == 200


def test_revoke_without_token_is_invalid_request(api, acme):
    response = api.post(
        "/auth/revoke", {"client_id": "acme", "client_secret": acme.client_secret}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- §2.7 /auth/revocation-requests ---------------------------------------------------------------


def test_revocation_request_revokes_every_token_and_queues_the_request(api, acme, globex):
    tokens = [issue_token(api, acme) for _ in range(3)]
    other = issue_token(api, globex)
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": "laptop stolen"},
        format="json",
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["tokens_revoked"] == 3
    request = RevocationRequest.objects.get(pk=body["id"])
    assert (request.community_id, request.reason, request.status) == (
        acme.community.pk,
        "laptop stolen",
        "pending",
    )
    for token in tokens:
        assert get_bflus(api, token).status_code == 401
    assert get_bflus(api, other).status_code == 200
    opened = AuditEvent.objects.get(event_type="revocation_request_opened", community=acme.community)
    assert opened.source_ip == request.source_ip == "127.0.0.1"


def test_revocation_request_with_basic_auth(api, acme):
    response = api.post(
        "/auth/revocation-requests", {"reason": "leak"}, format="json", **basic("acme", acme.client_secret)
    )
    assert response.status_code == 202


@pytest.mark.parametrize("reason", [None, "", 5, "x" * 2001])
def test_revocation_request_needs_a_reason(api, acme, reason):
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    if reason is not None:
        body["reason"] = reason
    response = api.post("/auth/revocation-requests", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not RevocationRequest.objects.exists()


def test_revocation_request_needs_client_authentication(api, acme, globex):
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": globex.client_secret, "reason": "x"},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not RevocationRequest.objects.exists()


# --- §2.8 probes ----------------------------------------------------------------------------------


def test_healthz_answers_without_credentials(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache(api):
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_the_bench_twin_of_get_bflus_does_not_exist_outside_the_bench_configuration(api, acme):
    response = api.get(f"/communities/{acme.community.pk}/client/123/bflus")
    assert response.status_code == 404
    assert api.get(f"/bench/communities/{acme.community.pk}/client/123/bflus").status_code == 404
