"""private_key_jwt client authentication (RFC 7523 §2.2, SPEC §4.1) at /auth/token, /auth/revoke and
/auth/revocation-requests: every refusal is the same invalid_client a wrong secret gets."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import jwt
import pytest
import time_machine
from joserfc.jwk import ECKey

from audit.models import AuditEvent
from clients.models import ClientKey, UsedJti
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import (
    TEST_ACTOR,
    basic,
    get_bflus,
    make_community,
    post_form,
    request_token,
)
from tests.keyfactory import (
    ASSERTION_TYPE,
    assertion,
    pem_private,
    private_key,
    public_jwk_json,
    public_pem,
    wrong_secret_for,
)
from tokens.models import IssuedToken
from tokens.services import tokens_purge

pytestmark = pytest.mark.django_db
TOKEN_URL = "http://testserver/auth/token"


def enable_keys(community, *keys, methods=("client_secret", "private_key_jwt"), **jwk_extra):
    for key in keys:
        text = public_jwk_json(key, **jwk_extra) if jwk_extra else public_pem(key)
        client_key_add(community=community, key_text=text, actor=TEST_ACTOR)
    client_auth_policy_set(community=community, change=PolicyChange(methods=list(methods)), actor=TEST_ACTOR)


@pytest.fixture
def keyed(db):
    created = make_community("acme", members={"123": 1500})
    enable_keys(created.community, private_key("ES256"))
    return created


def token_with(api, signed, **extra):
    return post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            **extra,
        },
    )


def refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" not in response
    return response.json()


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_each_algorithm_gets_a_token_that_works(api, alg):
    created = make_community("acme", members={"123": 1500})
    key = private_key(alg)
    enable_keys(created.community, key)
    response = token_with(api, assertion(key, "acme", TOKEN_URL, alg=alg))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and response["Cache-Control"] == "no-store"
    assert get_bflus(api, body["access_token"]).json()["bflus"] == 1500
    record = IssuedToken.objects.get()
    assert record.client_secret_id is None
    assert ClientKey.objects.get().last_used_at == record.issued_at


def test_client_id_field_may_accompany_the_assertion(api, keyed):
    signed = assertion(private_key("ES256"), "acme", TOKEN_URL)
    assert token_with(api, signed, client_id="acme").status_code == 200


def test_kid_selects_the_key_during_rotation(api):
    created = make_community("acme")
    old, new = private_key("ES256", fresh=True), private_key("ES256", fresh=True)
    client_key_add(community=created.community, key_text=public_jwk_json(old, kid="old"), actor=TEST_ACTOR)
    client_key_add(community=created.community, key_text=public_jwk_json(new, kid="new"), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    assert token_with(api, assertion(new, "acme", TOKEN_URL, headers={"kid": "new"})).status_code == 200
    assert token_with(api, assertion(old, "acme", TOKEN_URL, headers={"kid": "old"})).status_code == 200
    assert token_with(api, assertion(old, "acme", TOKEN_URL)).status_code == 200  # no kid: both tried
    refused(token_with(api, assertion(old, "acme", TOKEN_URL, headers={"kid": "new"})))
    ClientKey.objects.filter(kid="old").update(retired_at="2026-01-01T00:00:00Z")
    refused(token_with(api, assertion(old, "acme", TOKEN_URL)))
    assert token_with(api, assertion(new, "acme", TOKEN_URL)).status_code == 200


def test_audience_may_be_the_token_url_or_the_issuer(api, keyed, settings):
    key = private_key("ES256")
    assert token_with(api, assertion(key, "acme", "bfluence")).status_code == 200
    assert token_with(api, assertion(key, "acme", "http://testserver")).status_code == 200
    assert token_with(api, assertion(key, "acme", [TOKEN_URL, "https://other.example"])).status_code == 200


def test_replayed_assertion_is_refused_and_the_replay_is_audited(api, keyed):
    signed = assertion(private_key("ES256"), "acme", TOKEN_URL)
    assert token_with(api, signed).status_code == 200
    body = refused(token_with(api, signed))
    wrong = {
        "grant_type": "client_credentials",
        "client_id": "acme",
        "client_secret": wrong_secret_for(keyed.client_secret),
    }
    assert body == refused(post_form(api, "/auth/token", wrong))
    assert (
        AuditEvent.objects.filter(event_type="client_auth_failed", details__reason="replayed_jti").count()
        == 1
    )
    assert IssuedToken.objects.count() == 1
    # Not even at another endpoint.
    refused(
        post_form(
            api,
            "/auth/revoke",
            {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, "token": "x"},
        )
    )


def _forged(kind):
    key = private_key("ES256")
    now = int(time.time())
    other = ECKey.generate_key("P-256")
    return {
        "wrong_audience": lambda: assertion(key, "acme", "https://other.example/token"),
        "expired": lambda: assertion(key, "acme", TOKEN_URL, iat=now - 400, exp=now - 60),
        "future_iat": lambda: assertion(key, "acme", TOKEN_URL, iat=now + 600, exp=now + 900),
        "too_long": lambda: assertion(key, "acme", TOKEN_URL, exp=now + 7200),
        "no_exp": lambda: assertion(key, "acme", TOKEN_URL, exp=None),
        "no_iat": lambda: assertion(key, "acme", TOKEN_URL, iat=None),
        "no_jti": lambda: assertion(key, "acme", TOKEN_URL, jti=None),
        "sub_differs": lambda: assertion(key, "acme", TOKEN_URL, sub="globex"),
        "other_key": lambda: assertion(other, "acme", TOKEN_URL),
        "alg_none": lambda: jwt.encode(
            {"iss": "acme", "sub": "acme", "aud": TOKEN_URL, "iat": now, "exp": now + 60, "jti": "n1"},
            None,
            algorithm="none",
        ),
        "embedded_jwk": lambda: assertion(
            other, "acme", TOKEN_URL, headers={"jwk": other.as_dict(private=False)}
        ),
        "garbage": lambda: "not.a.jwt",
        "unknown_client": lambda: assertion(key, "nobody", TOKEN_URL),
    }[kind]()


@pytest.mark.parametrize(
    "kind",
    [
        "wrong_audience",
        "expired",
        "future_iat",
        "too_long",
        "no_exp",
        "no_iat",
        "no_jti",
        "sub_differs",
        "other_key",
        "alg_none",
        "embedded_jwk",
        "garbage",
        "unknown_client",
    ],
)
def test_bad_assertions_get_the_same_invalid_client_as_a_wrong_secret(api, keyed, kind):
    wrong_secret = refused(
        post_form(
            api,
            "/auth/token",
            {
                "grant_type": "client_credentials",
                "client_id": "acme",
                "client_secret": wrong_secret_for(keyed.client_secret),
            },
        )
    )
    assert refused(token_with(api, _forged(kind))) == wrong_secret
    assert not IssuedToken.objects.exists()
    reason = AuditEvent.objects.filter(event_type="client_auth_failed").latest("id").details["reason"]
    assert reason == REASONS[kind]


REASONS = {
    "wrong_audience": "wrong_audience",
    "expired": "expired",
    "future_iat": "not_yet_valid",
    "too_long": "lifetime_too_long",
    "no_exp": "invalid_claims",
    "no_iat": "invalid_claims",
    "no_jti": "invalid_claims",
    "sub_differs": "iss_sub_mismatch",
    "other_key": "bad_signature_or_unknown_key",
    "alg_none": "algorithm_not_allowed",
    "embedded_jwk": "forbidden_header",
    "garbage": "malformed_assertion",
    "unknown_client": "bad_signature_or_unknown_key",
}


def test_hs256_signed_with_the_public_key_as_hmac_secret_is_refused(api, keyed):
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(
        json.dumps(
            {"iss": "acme", "sub": "acme", "aud": TOKEN_URL, "iat": now, "exp": now + 60, "jti": "hs"}
        ).encode()
    )
    secret = public_pem(private_key("ES256")).encode()
    signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    refused(token_with(api, f"{header}.{payload}.{signature}"))


def test_a_client_id_field_naming_someone_else_is_refused(api, keyed):
    make_community("globex")
    refused(token_with(api, assertion(private_key("ES256"), "acme", TOKEN_URL), client_id="globex"))


def test_assertion_refused_while_the_policy_does_not_allow_the_method(api):
    created = make_community("acme")
    key = private_key("ES256")
    client_key_add(community=created.community, key_text=public_pem(key), actor=TEST_ACTOR)
    refused(token_with(api, assertion(key, "acme", TOKEN_URL)))  # keys registered, method still off
    assert AuditEvent.objects.filter(details__reason="method_not_allowed").count() == 1


def test_a_community_on_keys_only_has_its_secret_turned_off(api):
    created = make_community("acme")
    enable_keys(created.community, private_key("ES256"), methods=("private_key_jwt",))
    refused(request_token(api, created))
    response = post_form(
        api, "/auth/token", {"grant_type": "client_credentials"}, **basic("acme", created.client_secret)
    )
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Basic realm="bfluence"'
    assert AuditEvent.objects.filter(
        details__reason="method_not_allowed", details__method="client_secret"
    ).exists()
    assert token_with(api, assertion(private_key("ES256"), "acme", TOKEN_URL)).status_code == 200


def test_inactive_community_is_refused(api, keyed):
    keyed.community.is_active = False
    keyed.community.save()
    refused(token_with(api, assertion(private_key("ES256"), "acme", TOKEN_URL)))


@pytest.mark.parametrize(
    "extra",
    [
        {"client_secret": "bfl_sk_x"},
        {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
        {"client_assertion": ""},
    ],
)
def test_malformed_assertion_requests_are_invalid_request(api, keyed, extra):
    fields = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(private_key("ES256"), "acme", TOKEN_URL),
        **extra,
    }
    response = post_form(api, "/auth/token", fields)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_assertion_beside_basic_auth_is_invalid_request(api, keyed):
    response = post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(private_key("ES256"), "acme", TOKEN_URL),
        },
        **basic("acme", keyed.client_secret),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_revoke_and_revocation_request_accept_assertions(api, keyed):
    key = private_key("ES256")
    token = token_with(api, assertion(key, "acme", TOKEN_URL)).json()["access_token"]
    revoked = post_form(
        api,
        "/auth/revoke",
        {
            "client_assertion_type": ASSERTION_TYPE,
            "token": token,
            "client_assertion": assertion(key, "acme", "http://testserver/auth/revoke"),
        },
    )
    assert revoked.status_code == 200
    assert get_bflus(api, token).status_code == 401
    token = token_with(api, assertion(key, "acme", TOKEN_URL)).json()["access_token"]
    opened = post_form(
        api,
        "/auth/revocation-requests",
        {
            "client_assertion_type": ASSERTION_TYPE,
            "reason": "laptop stolen",
            "client_assertion": assertion(key, "acme", TOKEN_URL),
        },
    )
    assert opened.status_code == 202 and opened.json()["tokens_revoked"] == 1
    assert get_bflus(api, token).status_code == 401


def test_failed_assertions_count_towards_the_failure_limit(api, keyed, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_failures": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    other = ECKey.generate_key("P-256")
    statuses = [token_with(api, assertion(other, "acme", TOKEN_URL)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_used_jtis_are_kept_until_expiry_then_purged(api, keyed):
    key = private_key("ES256")
    signed = assertion(key, "acme", TOKEN_URL)
    assert token_with(api, signed).status_code == 200
    assert UsedJti.objects.count() == 1
    tokens_purge(older_than=timedelta(days=30), actor=TEST_ACTOR)
    assert UsedJti.objects.count() == 1  # still replayable: kept
    with time_machine.travel(timedelta(minutes=10)):
        tokens_purge(older_than=timedelta(days=30), actor=TEST_ACTOR)
    assert UsedJti.objects.count() == 0


def test_private_key_never_reaches_logs_or_audit(api, keyed, caplog):
    signed = assertion(private_key("ES256"), "acme", TOKEN_URL)
    token_with(api, signed)
    token_with(api, signed)
    trail = " ".join(str(event.details) for event in AuditEvent.objects.all())
    assert signed not in caplog.text and signed not in trail
    assert pem_private(private_key("ES256")).decode().splitlines()[1] not in caplog.text
