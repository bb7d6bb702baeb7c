"""Bearer authentication on private endpoints — SPEC §2.2 (acceptance rules) and §2.3 (answers)."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from communities.services import community_reactivate, permissions_validate
from tests.conftest import TEST_ACTOR, get_bflus, issue_token
from tokens.jwt import key_id
from tokens.services import community_deactivate, tokens_revoke_all

pytestmark = pytest.mark.django_db

CHALLENGE = 'Bearer realm="bfluence"'


def assert_invalid_token(response, *, says=None):
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_token"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith(f'{CHALLENGE}, error="invalid_token", error_description="')
    if says:
        assert says in challenge
    return response


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims, *, key, header=None, algorithm="HS256"):
    """Sign by hand, so a test can put anything in the header (PyJWT refuses some of it)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    encoded_header = b64(json.dumps({"alg": algorithm, **(header or {})}).encode())
    signing_input = f"{encoded_header}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(key.encode(), signing_input.encode(), digest).digest())}"


@pytest.fixture
def token(api, acme):
    return issue_token(api, acme)


@pytest.fixture
def signing(settings):
    return {
        "key": settings.JWT_SIGNING_KEY,
        "header": {"kid": key_id(settings.JWT_SIGNING_KEY), "typ": "at+jwt"},
    }


# --- §2.3: the answers ----------------------------------------------------------------------------


def test_valid_token_is_accepted(api, token):
    assert get_bflus(api, token).status_code == 200


def test_scheme_is_case_insensitive(api, token):
    for scheme in ("bearer", "BEARER", "BeArEr"):
        response = api.get("/communities/hub/client/123/get-bflus", HTTP_AUTHORIZATION=f"{scheme} {token}")
        assert response.status_code == 200


def test_no_authorization_header_is_401_unauthorized_with_a_challenge(api, acme):
    response = api.get("/communities/hub/client/123/get-bflus")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Basic YWNtZTp4", "Token abc", "abc"])
def test_malformed_authorization_header_is_invalid_request(api, acme, header):
    response = api.get("/communities/hub/client/123/get-bflus", HTTP_AUTHORIZATION=header)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response["WWW-Authenticate"].startswith(f'{CHALLENGE}, error="invalid_request"')


@pytest.mark.parametrize("name", ["access_token", "token"])
def test_token_in_the_query_string_is_never_accepted(api, token, name):
    response = api.get(f"/communities/hub/client/123/get-bflus?{name}={token}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_in_the_body_is_never_accepted(api, token):
    response = api.generic(
        "GET",
        "/communities/hub/client/123/get-bflus",
        json.dumps({"access_token": token}),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_token_lacking_the_permission_is_403_insufficient_scope(api):
    from tests.conftest import make_community

    writer = make_community("writer", permissions=["bflus:write"], members={"123": 1})
    response = get_bflus(api, issue_token(api, writer))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        f'{CHALLENGE}, error="insufficient_scope", '
        'error_description="The access token lacks the required permission", scope="bflus:read"'
    )


def test_permission_withdrawn_by_staff_stops_working_in_existing_tokens(api, acme, token):
    acme.community.permissions = permissions_validate([])
    acme.community.save()
    assert get_bflus(api, token).status_code == 403


def test_error_description_is_portuguese_by_default_and_english_on_request(api, acme):
    default = api.get("/communities/hub/client/123/get-bflus").json()["error_description"]
    english = api.get("/communities/hub/client/123/get-bflus", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["error_description"].startswith("Authentication credentials were not provided")
    assert default != english["error_description"]
    assert "credenciais" in default.lower()


# --- §2.2: expiry and clock -----------------------------------------------------------------------


def test_expired_token_is_401_invalid_token_saying_expired(api, token):
    assert get_bflus(api, token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=11)):
        assert_invalid_token(get_bflus(api, token), says="expired")


def test_token_is_still_accepted_within_the_leeway(api, token):
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=5)):
        assert get_bflus(api, token).status_code == 200


def test_token_issued_in_the_future_is_rejected(api, acme, token, signing):
    future = claims_of(token) | {"iat": int(time.time()) + 60}
    assert_invalid_token(get_bflus(api, forge(future, **signing)))


def test_token_not_yet_valid_by_nbf_is_rejected(api, token, signing):
    claims = claims_of(token) | {"nbf": int(time.time()) + 120}
    assert_invalid_token(get_bflus(api, forge(claims, **signing)))


@pytest.mark.parametrize(
    "claim",
    [
        "exp",
        "iat",
        "jti",
        "sub",
        "community",
        "permissions",
        "token_type",
        "iss",
        "aud",
        "client_id",
        "scope",
    ],
)
def test_token_missing_a_claim_is_rejected(api, token, signing, claim):
    claims = claims_of(token)
    del claims[claim]
    assert_invalid_token(get_bflus(api, forge(claims, **signing)))


@pytest.mark.parametrize(
    "claim, value",
    [
        ("exp", "9999999999"),
        ("exp", 1e20),
        ("exp", 10**30),
        ("exp", True),
        ("exp", None),
        ("exp", -1),
        ("iat", "0"),
        ("iat", [1]),
        ("jti", 12),
        ("permissions", "bflus:read"),
        ("permissions", [1]),
        ("community", ["acme"]),
        ("token_type", "refresh"),
        ("iss", "bfluence "),
        ("iss", "Bfluence"),
        ("aud", "bfluence-api2"),
        ("aud", ["bfluence-api", "other"]),
        ("community", "globex"),
    ],
)
def test_token_with_a_mistyped_or_wrong_claim_is_rejected(api, token, signing, claim, value):
    claims = claims_of(token) | {claim: value}
    assert_invalid_token(get_bflus(api, forge(claims, **signing)))


# --- §2.2: forgery --------------------------------------------------------------------------------


def test_alg_none_is_rejected(api, token):
    _header, payload, _signature = token.split(".")
    for alg in ("none", "None", "NONE", "nOnE"):
        forged_header = b64(
            json.dumps({"alg": alg, "typ": "at+jwt", "kid": jwt.get_unverified_header(token)["kid"]}).encode()
        )
        assert_invalid_token(get_bflus(api, f"{forged_header}.{payload}."))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_rejected(api, token, signing, algorithm):
    assert_invalid_token(get_bflus(api, forge(claims_of(token), algorithm=algorithm, **signing)))


@pytest.mark.parametrize("key", ["another-key-of-at-least-thirty-two-bytes!!", "secret", ""])
def test_token_signed_with_another_key_is_rejected(api, token, signing, key):
    assert_invalid_token(get_bflus(api, forge(claims_of(token), key=key, header=signing["header"])))


def test_token_signed_with_djangos_secret_key_is_rejected(api, token, signing, settings):
    assert_invalid_token(
        get_bflus(api, forge(claims_of(token), key=settings.SECRET_KEY, header=signing["header"]))
    )


def test_tampered_payload_is_rejected(api, token):
    header, _payload, signature = token.split(".")
    claims = claims_of(token) | {
        "permissions": ["bflus:read", "bflus:write"],
        "scope": "bflus:read bflus:write",
    }
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert_invalid_token(get_bflus(api, tampered))


@pytest.mark.parametrize(
    "mutate",
    [
        # a flipped character mid-signature (the last one carries unused padding bits)
        lambda s: s[:10] + ("A" if s[10] != "A" else "B") + s[11:],
        lambda s: "",  # no signature at all
        lambda s: s[: len(s) // 2],  # a truncated signature
    ],
)
def test_bad_signature_is_rejected(api, token, mutate):
    header, payload, signature = token.split(".")
    assert_invalid_token(get_bflus(api, f"{header}.{payload}.{mutate(signature)}"))


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "JWT"},
        {"typ": None},
        {"kid": "unknown"},
        {"kid": None},
        {"kid": 7},
        {"crit": ["exp"]},
        {"jku": "https://evil.example/keys"},
        {"jwk": {"kty": "oct", "k": "AAAA"}},
    ],
)
def test_hostile_or_unknown_headers_are_rejected(api, token, signing, header):
    merged = {**signing["header"], **header}
    forged = forge(
        claims_of(token), key=signing["key"], header={k: v for k, v in merged.items() if v is not None}
    )
    assert_invalid_token(get_bflus(api, forged))


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "eyJ.eyJ.sig", "é.é.é", "x" * 5000])
def test_garbage_tokens_are_rejected_never_500(api, acme, garbage):
    assert_invalid_token(get_bflus(api, garbage))


def test_validly_signed_but_unrecorded_jti_is_rejected(api, token, signing):
    claims = claims_of(token) | {"jti": "0" * 32}
    assert_invalid_token(get_bflus(api, forge(claims, **signing)))


def test_token_signed_with_a_previous_key_still_works_after_key_rotation(api, acme, token, settings):
    new_key = "a-brand-new-signing-key-of-more-than-32-bytes"
    simple_jwt = {**settings.SIMPLE_JWT, "SIGNING_KEY": new_key}
    bfluence = {**settings.BFLUENCE, "JWT_PREVIOUS_SIGNING_KEYS": [settings.JWT_SIGNING_KEY]}
    with override_settings(SIMPLE_JWT=simple_jwt, BFLUENCE=bfluence):
        assert get_bflus(api, token).status_code == 200
        new_token = issue_token(api, acme)
        assert jwt.get_unverified_header(new_token)["kid"] == key_id(new_key)
        assert get_bflus(api, new_token).status_code == 200
    with override_settings(SIMPLE_JWT=simple_jwt):  # the old key dropped: its tokens stop
        assert_invalid_token(get_bflus(api, token))


# --- §2.2: revocation and deactivation ------------------------------------------------------------


def test_revoked_token_is_rejected_on_next_request_saying_revoked(api, acme, token):
    assert get_bflus(api, token).status_code == 200
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="test")
    assert_invalid_token(get_bflus(api, token), says="revoked")


def test_token_of_a_deactivated_community_is_rejected_also_after_reactivation(api, acme, token):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert_invalid_token(get_bflus(api, token))
    community_reactivate(community=acme.community, actor=TEST_ACTOR)
    assert_invalid_token(get_bflus(api, token))
    assert get_bflus(api, issue_token(api, acme)).status_code == 200


def test_revoke_all_cut_off_catches_tokens_its_update_missed(api, acme, token):
    from tokens.models import IssuedToken

    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="test")
    IssuedToken.objects.filter(pk=claims_of(token)["jti"]).update(
        revoked_at=None
    )  # as if issued concurrently
    assert_invalid_token(get_bflus(api, token), says="revoked")


def test_tokens_issued_after_revoke_all_work(api, acme, token):
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason="test")
    assert get_bflus(api, issue_token(api, acme)).status_code == 200


def test_private_calls_are_rate_limited_per_community(api, acme, token, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [get_bflus(api, token).status_code for _ in range(3)]
        limited = get_bflus(api, token)
    assert statuses == [200, 200, 429]
    assert limited.json()["error"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1


def test_forged_tokens_differ_from_real_ones_only_where_a_test_says(api, token, signing):
    """The forging helper itself makes tokens we accept: each rejection above is down to its one change."""
    assert get_bflus(api, forge(claims_of(token), **signing)).status_code == 200


def test_generous_limits_are_counted_in_batches_and_still_enforced(api, acme, token, settings):
    """At 100 per window and more, each process adds to the shared counter in batches of 1%."""
    from django.core.cache import cache

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "200/h"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        first = [get_bflus(api, token).status_code for _ in range(151)]
        shared = cache.get(f"throttle_api_acme:{int(time.time() // 3600)}")
        rest = [get_bflus(api, token).status_code for _ in range(52)]
    assert first + rest[:49] == [200] * 200
    assert rest[-1] == 429
    assert 150 <= shared <= 151  # batches of 2: the shared count lags by at most one batch
