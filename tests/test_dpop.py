"""DPoP sender-constrained tokens (RFC 9449), opt-in per community (SPEC §4.1)."""

import time

import jwt
import pytest

from audit.models import AuditEvent
from clients.keys import SIGNING_ALGORITHMS
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, bearer, make_community, post_form
from tests.keyfactory import ASSERTION_TYPE, assertion, dpop_proof, private_key, public_pem
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db
TOKEN_URL = "http://testserver/auth/token"
BFLUS_PATH = "/communities/hub/client/123/get-bflus"
BFLUS_URL = f"http://testserver{BFLUS_PATH}"


def with_dpop(created, mode="optional"):
    client_auth_policy_set(community=created.community, change=PolicyChange(dpop=mode), actor=TEST_ACTOR)
    return created


@pytest.fixture
def acme(db):
    return with_dpop(make_community("acme", members={"123": 1500}))


@pytest.fixture
def dpop_key():
    return private_key("ES256", fresh=True)


def token_request(api, created, proof=None, **headers):
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_id": created.community.client_id,
            "client_secret": created.client_secret,
        },
        **headers,
    )


def bound_token(api, created, key) -> str:
    response = token_request(api, created, dpop_proof(key, "POST", TOKEN_URL))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    return body["access_token"]


def dpop_call(api, token, proof=None, path=BFLUS_PATH, method="get"):
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}"}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return getattr(api, method)(path, **headers)


def refused_with_dpop_challenge(response, error="invalid_dpop_proof"):
    assert response.status_code == 401, response.content
    assert response.json()["error"] == error
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('DPoP realm="bfluence"') and f'error="{error}"' in challenge
    assert 'algs="ES256 RS256 PS256 EdDSA"' in challenge


def test_token_with_a_proof_is_bound_to_the_key_and_works_with_fresh_proofs(api, acme, dpop_key):
    token = bound_token(api, acme, dpop_key)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": dpop_key.thumbprint()}
    for _ in range(2):
        response = dpop_call(api, token, dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token))
        assert (response.status_code, response.json()["bflus"]) == (200, 1500)
    me = dpop_call(
        api,
        token,
        dpop_proof(dpop_key, "GET", "http://testserver/auth/me", access_token=token),
        path="/auth/me",
    )
    assert me.status_code == 200
    assert AuditEvent.objects.get(event_type="token_issued").details["dpop_jkt"] == dpop_key.thumbprint()


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_every_advertised_algorithm_works_for_proofs(api, acme, alg):
    key = private_key(alg)
    response = token_request(api, acme, dpop_proof(key, "POST", TOKEN_URL, alg=alg))
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert (
        dpop_call(api, token, dpop_proof(key, "GET", BFLUS_URL, access_token=token, alg=alg)).status_code
        == 200
    )


def test_optional_mode_without_a_proof_gives_a_bearer_token(api, acme):
    response = token_request(api, acme)
    assert response.json()["token_type"] == "Bearer"
    assert "cnf" not in jwt.decode(response.json()["access_token"], options={"verify_signature": False})


def test_off_mode_ignores_the_dpop_header(api, dpop_key):
    created = make_community("plain", members={"123": 1})
    response = token_request(api, created, dpop_proof(dpop_key, "POST", TOKEN_URL))
    assert response.json()["token_type"] == "Bearer"


def test_required_mode_refuses_a_token_request_without_a_proof_as_invalid_client(api, dpop_key):
    created = with_dpop(make_community("strict", members={"123": 1}), "required")
    response = token_request(api, created)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert AuditEvent.objects.filter(details__reason="dpop_proof_required").exists()
    assert bound_token(api, created, dpop_key)


def test_required_mode_refuses_bearer_tokens_issued_before_it_was_switched_on(api, dpop_key):
    created = make_community("strict", members={"123": 1})
    token = token_request(api, created).json()["access_token"]
    assert api.get(BFLUS_PATH, **bearer(token)).status_code == 200
    with_dpop(created, "required")
    response = api.get(BFLUS_PATH, **bearer(token))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    "bad",
    [
        "wrong_method",
        "wrong_url",
        "stale",
        "future",
        "no_jti",
        "wrong_typ",
        "hs256",
        "private_jwk",
        "garbage",
    ],
)
def test_bad_proof_at_the_token_endpoint_is_invalid_client(api, acme, dpop_key, bad):
    now = int(time.time())
    proof = {
        "wrong_method": lambda: dpop_proof(dpop_key, "GET", TOKEN_URL),
        "wrong_url": lambda: dpop_proof(dpop_key, "POST", "http://testserver/auth/revoke"),
        "stale": lambda: dpop_proof(dpop_key, "POST", TOKEN_URL, iat=now - 300),
        "future": lambda: dpop_proof(dpop_key, "POST", TOKEN_URL, iat=now + 300),
        "no_jti": lambda: dpop_proof(dpop_key, "POST", TOKEN_URL, jti=None),
        "wrong_typ": lambda: dpop_proof(dpop_key, "POST", TOKEN_URL, headers={"typ": "JWT"}),
        "hs256": lambda: jwt.encode(
            {"jti": "x", "htm": "POST", "htu": TOKEN_URL, "iat": now},
            "k" * 32,
            algorithm="HS256",
            headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "aw"}},
        ),
        "private_jwk": lambda: dpop_proof(
            dpop_key, "POST", TOKEN_URL, headers={"jwk": dpop_key.as_dict(private=True)}
        ),
        "garbage": lambda: "nope",
    }[bad]()
    response = token_request(api, acme, proof)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert not IssuedToken.objects.exists()


def test_a_proof_replayed_at_the_token_endpoint_is_refused(api, acme, dpop_key):
    proof = dpop_proof(dpop_key, "POST", TOKEN_URL)
    assert token_request(api, acme, proof).status_code == 200
    assert token_request(api, acme, proof).status_code == 401
    assert AuditEvent.objects.filter(details__reason="dpop_replayed_jti").exists()


def test_stolen_dpop_token_alone_is_refused(api, acme, dpop_key):
    token = bound_token(api, acme, dpop_key)
    refused_with_dpop_challenge(dpop_call(api, token))  # DPoP scheme, no proof
    refused_with_dpop_challenge(api.get(BFLUS_PATH, **bearer(token)), error="invalid_token")  # as Bearer


def test_proof_by_another_key_is_refused(api, acme, dpop_key):
    token = bound_token(api, acme, dpop_key)
    thief = private_key("ES256", fresh=True)
    refused_with_dpop_challenge(
        dpop_call(api, token, dpop_proof(thief, "GET", BFLUS_URL, access_token=token))
    )


@pytest.mark.parametrize("bad", ["other_url", "other_method", "no_ath", "other_token_ath", "query_ignored"])
def test_proof_for_another_request_is_refused(api, acme, dpop_key, bad):
    token = bound_token(api, acme, dpop_key)
    proof = {
        "other_url": lambda: dpop_proof(
            dpop_key, "GET", "http://testserver/communities/hub/client/7/get-bflus", access_token=token
        ),
        "other_method": lambda: dpop_proof(dpop_key, "POST", BFLUS_URL, access_token=token),
        "no_ath": lambda: dpop_proof(dpop_key, "GET", BFLUS_URL),
        "other_token_ath": lambda: dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token + "x"),
        "query_ignored": lambda: dpop_proof(dpop_key, "GET", BFLUS_URL + "?a=1", access_token=token),
    }[bad]()
    response = dpop_call(api, token, proof)
    if bad == "query_ignored":  # RFC 9449 §4.3: htu is compared without query and fragment
        assert response.status_code == 200
    else:
        refused_with_dpop_challenge(response)


def test_a_proof_is_used_once_at_api_calls(api, acme, dpop_key):
    token = bound_token(api, acme, dpop_key)
    proof = dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token)
    assert dpop_call(api, token, proof).status_code == 200
    refused_with_dpop_challenge(dpop_call(api, token, proof))


def test_bearer_token_sent_with_the_dpop_scheme_is_refused(api, acme, dpop_key):
    token = token_request(api, acme).json()["access_token"]
    refused_with_dpop_challenge(
        dpop_call(api, token, dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token)),
        error="invalid_token",
    )


def test_revoked_dpop_token_is_refused_even_with_a_good_proof(api, acme, dpop_key):
    token = bound_token(api, acme, dpop_key)
    assert (
        post_form(
            api, "/auth/revoke", {"client_id": "acme", "client_secret": acme.client_secret, "token": token}
        ).status_code
        == 200
    )
    response = dpop_call(api, token, dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token))
    refused_with_dpop_challenge(response, error="invalid_token")  # RFC 9449 §7.1: a DPoP challenge
    assert 'error_description="The access token was revoked"' in response["WWW-Authenticate"]


def test_dpop_with_private_key_jwt(api, dpop_key):
    created = make_community("keyco", members={"123": 5})
    client_key = private_key("EdDSA")
    client_key_add(community=created.community, key_text=public_pem(client_key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community,
        change=PolicyChange(methods=["private_key_jwt"], dpop="required"),
        actor=TEST_ACTOR,
    )
    response = post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(client_key, "keyco", TOKEN_URL, alg="EdDSA"),
        },
        HTTP_DPOP=dpop_proof(dpop_key, "POST", TOKEN_URL),
    )
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP"
    token = response.json()["access_token"]
    assert (
        dpop_call(api, token, dpop_proof(dpop_key, "GET", BFLUS_URL, access_token=token)).status_code == 200
    )


def test_error_challenge_algorithms_match_the_keys_module():
    from bfluence.errors import DPOP_ALGORITHMS

    assert DPOP_ALGORITHMS.split() == list(SIGNING_ALGORITHMS)


def test_bearer_path_is_unchanged_for_plain_tokens(api, acme, django_assert_max_num_queries):
    token = token_request(api, acme).json()["access_token"]
    with django_assert_max_num_queries(1):
        assert api.get(BFLUS_PATH, **bearer(token)).status_code == 200
