"""A private call refused by an allowlist applied to API calls (SPEC §2.3, §4.1) keeps its 401
``invalid_token``, but says why — only to a caller whose token is itself good: a forged, expired, revoked
or inactive community's token, or a key-bound token without its proof, gets the description it had, so
nobody without a working token learns that an allowlist exists."""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.utils import timezone

from clients.services import PolicyChange, client_auth_policy_set
from communities.models import Community
from tests.conftest import TEST_ACTOR, get_bflus, make_community, post_form
from tests.keyfactory import dpop_proof, private_key
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db

INSIDE, OUTSIDE = "203.0.113.9", "198.51.100.1"
BFLUS_PATH = "/communities/hub/client/123/get-bflus"
OUTSIDE_DESCRIPTION = (
    "O token de acesso é válido, mas esta chamada vem de um endereço IP fora da lista de IPs permitidos "
    "da comunidade."
)
OUTSIDE_CHALLENGE = (
    'Bearer realm="bfluence", error="invalid_token", '
    'error_description="The access token is valid, but this call comes from an IP address outside the '
    "community's list of allowed IPs\""
)
INVALID_CHALLENGE = (
    'Bearer realm="bfluence", error="invalid_token", error_description="The access token is invalid"'
)


@pytest.fixture
def acme(db):
    return make_community("acme", members={"123": 1500})


def _allowlist_for_api_calls(created) -> None:
    client_auth_policy_set(
        community=created.community,
        actor=TEST_ACTOR,
        change=PolicyChange(allowed_ips=["203.0.113.0/24"], allowlist_applies_to_api=True),
    )


def _token_from_inside(api, created) -> str:
    response = api.post(
        "/auth/token",
        {"client_id": created.community.client_id, "client_secret": created.client_secret},
        format="json",
        REMOTE_ADDR=INSIDE,
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_a_valid_token_from_outside_the_allowlist_is_told_why(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE)
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_token", "error_description": OUTSIDE_DESCRIPTION}
    assert refused["WWW-Authenticate"] == OUTSIDE_CHALLENGE
    assert "203.0.113" not in refused.content.decode() + refused["WWW-Authenticate"]
    assert get_bflus(api, token, REMOTE_ADDR=INSIDE).status_code == 200


def test_the_reason_is_said_in_english_too(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.json() == {
        "error": "invalid_token",
        "error_description": (
            "The access token is valid, but this call comes from an IP address outside the community's "
            "list of allowed IPs."
        ),
    }


def test_a_forged_token_from_outside_keeps_the_plain_invalid_description(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256", headers={"typ": "at+jwt"})
    refused = get_bflus(api, forged, REMOTE_ADDR=OUTSIDE)
    assert (refused.status_code, refused.json()["error_description"]) == (
        401,
        "O token de acesso é inválido.",
    )
    assert refused["WWW-Authenticate"] == INVALID_CHALLENGE


def test_a_revoked_token_from_outside_keeps_the_revoked_description(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    IssuedToken.objects.update(revoked_at=timezone.now())
    refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert refused.json()["error_description"] == (
        "O token de acesso foi revogado: solicite um novo em /auth/token."
    )


def test_an_expired_token_from_outside_keeps_the_expired_description(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert (
        refused.json()["error_description"] == "O token de acesso expirou: solicite um novo em /auth/token."
    )


def test_an_inactive_communitys_token_from_outside_keeps_the_plain_invalid_description(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    Community.objects.filter(pk=acme.community.pk).update(is_active=False)
    refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE)
    assert (refused.status_code, refused.json()["error_description"]) == (
        401,
        "O token de acesso é inválido.",
    )
    assert refused["WWW-Authenticate"] == INVALID_CHALLENGE


# --- a key-bound (DPoP) token is a credential only with its proof --------------------------------------


def _dpop_call(api, token, proof=None):
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}", "REMOTE_ADDR": OUTSIDE}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return api.get(BFLUS_PATH, **headers)


def _bound_token_from_inside(api, created, key) -> str:
    response = post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_id": created.community.client_id,
            "client_secret": created.client_secret,
        },
        HTTP_DPOP=dpop_proof(key, "POST", "http://testserver/auth/token"),
        REMOTE_ADDR=INSIDE,
    )
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP", response.content
    return response.json()["access_token"]


def test_a_dpop_token_with_its_proof_from_outside_is_told_why_under_a_dpop_challenge(api, acme):
    key = private_key("ES256", fresh=True)
    client_auth_policy_set(community=acme.community, actor=TEST_ACTOR, change=PolicyChange(dpop="optional"))
    token = _bound_token_from_inside(api, acme, key)
    _allowlist_for_api_calls(acme)
    proof = dpop_proof(key, "GET", f"http://testserver{BFLUS_PATH}", access_token=token)
    refused = _dpop_call(api, token, proof)
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_token", "error_description": OUTSIDE_DESCRIPTION}
    challenge = refused["WWW-Authenticate"]
    assert challenge.startswith('DPoP realm="bfluence", error="invalid_token", error_description="The access')
    assert "outside the community's list of allowed IPs" in challenge


def test_a_stolen_dpop_token_without_its_proof_from_outside_learns_nothing(api, acme):
    key = private_key("ES256", fresh=True)
    client_auth_policy_set(community=acme.community, actor=TEST_ACTOR, change=PolicyChange(dpop="optional"))
    token = _bound_token_from_inside(api, acme, key)
    _allowlist_for_api_calls(acme)
    thief = private_key("ES256", fresh=True)
    for proof in (None, dpop_proof(thief, "GET", f"http://testserver{BFLUS_PATH}", access_token=token)):
        refused = _dpop_call(api, token, proof)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
        assert refused.json()["error_description"] == "O token de acesso é inválido."
        assert 'error_description="The access token is invalid"' in refused["WWW-Authenticate"]


def test_a_bearer_token_refused_for_dpop_too_is_not_told_the_allowlist_alone(api, acme):
    token = _token_from_inside(api, acme)
    _allowlist_for_api_calls(acme)
    client_auth_policy_set(community=acme.community, actor=TEST_ACTOR, change=PolicyChange(dpop="required"))
    refused = get_bflus(api, token, REMOTE_ADDR=OUTSIDE)
    assert (refused.status_code, refused.json()["error_description"]) == (
        401,
        "O token de acesso é inválido.",
    )
    assert refused["WWW-Authenticate"] == INVALID_CHALLENGE
