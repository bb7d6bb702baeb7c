"""POST /auth/token — SPEC §2.1, row by row, as a partner's server would call it."""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from clients.services import secret_rotate
from tests.conftest import TEST_ACTOR, basic, make_community, post_form, request_token
from tokens.jwt import key_id
from tokens.models import IssuedToken
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


# --- success --------------------------------------------------------------------------------------


def test_json_request_returns_a_bearer_token_with_no_store_headers(api, acme):
    response = request_token(api, acme)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "bflus:read"


def test_token_is_an_rfc9068_hs256_jwt_with_the_spec_claims(api, acme, settings):
    before = int(timezone.now().timestamp())
    token = request_token(api, acme).json()["access_token"]

    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": key_id(settings.JWT_SIGNING_KEY)}
    claims = jwt.decode(token, settings.JWT_SIGNING_KEY, algorithms=["HS256"], audience="bfluence-api")
    assert claims["iss"] == "bfluence"
    assert claims["aud"] == "bfluence-api"
    assert claims["sub"] == claims["client_id"] == claims["community"] == "acme"
    assert claims["permissions"] == ["bflus:read"]
    assert claims["scope"] == "bflus:read"
    assert claims["token_type"] == "access"
    assert before <= claims["iat"] <= before + 5
    assert claims["exp"] == claims["iat"] + 86400
    assert IssuedToken.objects.filter(pk=claims["jti"], community=acme.community, revoked_at=None).exists()


def test_issuing_records_the_token_and_an_audit_event(api, acme):
    token = request_token(api, acme, scope="bflus:read").json()["access_token"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]

    record = IssuedToken.objects.get(pk=jti)
    assert record.source_ip == "127.0.0.1"
    assert record.expires_at - record.issued_at == timedelta(hours=24)
    event = AuditEvent.objects.get(event_type="token_issued", jti=jti)
    assert (event.actor_type, event.actor, event.client_id) == ("partner", "acme", "acme")


def test_issuing_marks_the_secret_as_used(api, acme):
    from clients.models import ClientSecret

    assert ClientSecret.objects.get(community=acme.community).last_used_at is None
    request_token(api, acme)
    used = ClientSecret.objects.get(community=acme.community).last_used_at
    assert used is not None and timezone.now() - used < timedelta(seconds=5)


def test_oauth_form_with_credentials_in_the_body(api, acme):
    response = post_form(
        api,
        "/auth/token",
        {"grant_type": "client_credentials", "client_id": "acme", "client_secret": acme.client_secret},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_oauth_form_with_http_basic(api, acme):
    response = post_form(
        api, "/auth/token", {"grant_type": "client_credentials"}, **basic("acme", acme.client_secret)
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "bflus:read"


def test_json_with_http_basic_and_explicit_grant_type(api, acme):
    response = api.post(
        "/auth/token",
        {"grant_type": "client_credentials"},
        format="json",
        **basic("acme", acme.client_secret),
    )
    assert response.status_code == 200


def test_scope_asks_for_a_subset_of_the_permissions(api):
    created = make_community("readwrite", permissions=["bflus:read", "bflus:write"])
    full = request_token(api, created).json()
    subset = request_token(api, created, scope="bflus:write").json()

    assert full["scope"] == "bflus:read bflus:write"
    assert subset["scope"] == "bflus:write"
    claims = jwt.decode(subset["access_token"], options={"verify_signature": False})
    assert claims["permissions"] == ["bflus:write"]


def test_community_with_no_permissions_gets_a_token_with_none(api):
    created = make_community("bare", permissions=[])
    body = request_token(api, created).json()
    assert body["scope"] == ""


def test_community_token_lifetime_shortens_expires_in(api):
    created = make_community("short", token_lifetime=timedelta(hours=1))
    assert request_token(api, created).json()["expires_in"] == 3600


@override_settings(
    SIMPLE_JWT={
        **__import__("django.conf").conf.settings.SIMPLE_JWT,
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    }
)
def test_access_token_lifetime_setting_is_the_default(api, acme):
    assert request_token(api, acme).json()["expires_in"] == 900


# --- 400 invalid_request --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b'{"client_id": "acme",', b"not json", b'{"a": NaN}', b"\xff\xfe"])
def test_malformed_json_is_invalid_request(api, acme, raw):
    response = api.generic("POST", "/auth/token", raw, content_type="application/json")
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("raw", [b"[]", b'"acme"', b"42", b"null", b"true"])
def test_body_that_is_not_an_object_is_invalid_request(api, acme, raw):
    response = api.generic("POST", "/auth/token", raw, content_type="application/json")
    assert_error(response, 400, "invalid_request")


def test_duplicate_json_keys_are_invalid_request(api, acme):
    raw = f'{{"client_id": "acme", "client_id": "globex", "client_secret": "{acme.client_secret}"}}'
    assert_error(
        api.generic("POST", "/auth/token", raw, content_type="application/json"), 400, "invalid_request"
    )


@pytest.mark.parametrize("missing", ["client_id", "client_secret"])
def test_missing_field_is_invalid_request(api, acme, missing):
    body = {"client_id": "acme", "client_secret": acme.client_secret}
    del body[missing]
    assert_error(api.post("/auth/token", body, format="json"), 400, "invalid_request")


def test_empty_body_is_invalid_request(api, acme):
    assert_error(api.post("/auth/token", {}, format="json"), 400, "invalid_request")


@pytest.mark.parametrize("field", ["client_id", "client_secret", "scope", "grant_type"])
@pytest.mark.parametrize("value", ["", 123, None, ["acme"], {"a": 1}, True])
def test_empty_or_non_string_field_is_invalid_request(api, acme, field, value):
    body = {"client_id": "acme", "client_secret": acme.client_secret, field: value}
    body = assert_error(api.post("/auth/token", body, format="json"), 400, "invalid_request")
    assert field in body["fields"]


@pytest.mark.parametrize("field, length", [("client_id", 101), ("client_secret", 201), ("scope", 1001)])
def test_absurdly_long_field_is_invalid_request(api, acme, field, length):
    body = {"client_id": "acme", "client_secret": acme.client_secret, field: "x" * length}
    assert_error(api.post("/auth/token", body, format="json"), 400, "invalid_request")


def test_a_field_error_is_told_in_each_requests_own_language(api, acme):
    # The fields' validators are shared between requests (StrictCharField's cheap copy): the first
    # request's language must not stick to the message for every later one.
    body = {"client_id": "acme", "client_secret": "s", "scope": "x" * 1001}
    first = api.post("/auth/token", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    second = api.post("/auth/token", body, format="json", HTTP_ACCEPT_LANGUAGE="pt-BR")

    assert assert_error(first, 400, "invalid_request")["fields"]["scope"] == [
        "Ensure this field has no more than 1000 characters."
    ]
    assert assert_error(second, 400, "invalid_request")["fields"]["scope"] == [
        "Certifique-se de que este campo não tenha mais de 1000 caracteres."
    ]


def test_huge_body_is_refused_with_a_json_4xx(api, acme):
    raw = b'{"client_id": "' + b"a" * 200_000 + b'"}'
    response = api.generic("POST", "/auth/token", raw, content_type="application/json")
    assert_error(response, 413, "invalid_request")


def test_deeply_nested_json_is_invalid_request(api, acme):
    raw = b'{"client_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_error(
        api.generic("POST", "/auth/token", raw, content_type="application/json"), 400, "invalid_request"
    )


def test_nul_character_in_a_field_is_invalid_request(api, acme):
    body = {"client_id": "ac\x00me", "client_secret": acme.client_secret}
    assert_error(api.post("/auth/token", body, format="json"), 400, "invalid_request")


def test_credentials_in_basic_and_body_at_once_are_invalid_request(api, acme):
    response = post_form(
        api,
        "/auth/token",
        {"grant_type": "client_credentials", "client_id": "acme", "client_secret": acme.client_secret},
        **basic("acme", acme.client_secret),
    )
    assert_error(response, 400, "invalid_request")


def test_basic_and_a_different_body_client_id_are_invalid_request(api, acme):
    response = post_form(
        api,
        "/auth/token",
        {"grant_type": "client_credentials", "client_id": "globex"},
        **basic("acme", acme.client_secret),
    )
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic " + "YWNtZQ==", "Bearer abc", "Digest x"])
def test_malformed_authorization_header_is_invalid_request(api, acme, header):
    response = post_form(api, "/auth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=header)
    assert_error(response, 400, "invalid_request")


def test_nul_character_in_basic_credentials_is_invalid_request(api, acme):
    response = post_form(
        api, "/auth/token", {"grant_type": "client_credentials"}, **basic("ac\x00me", acme.client_secret)
    )
    assert_error(response, 400, "invalid_request")


def test_form_without_grant_type_is_invalid_request(api, acme):
    response = post_form(api, "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret})
    assert_error(response, 400, "invalid_request")


def test_form_field_given_twice_is_invalid_request(api, acme):
    raw = f"grant_type=client_credentials&client_id=acme&client_id=acme&client_secret={acme.client_secret}"
    response = api.generic("POST", "/auth/token", raw, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("scope", [" ", "   "])
def test_blank_scope_is_invalid_request(api, acme, scope):
    assert_error(request_token(api, acme, scope=scope), 400, "invalid_request")


# --- other 4xx ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grant_type", ["password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"]
)
def test_other_grant_type_is_unsupported_grant_type(api, acme, grant_type):
    assert_error(request_token(api, acme, grant_type=grant_type), 400, "unsupported_grant_type")
    form = {"grant_type": grant_type, "client_id": "acme", "client_secret": acme.client_secret}
    assert_error(post_form(api, "/auth/token", form), 400, "unsupported_grant_type")


@pytest.mark.parametrize("scope", ["bflus:write", "bflus:read bflus:write", "admin", "bflus:read unknown"])
def test_scope_beyond_the_community_permissions_is_invalid_scope(api, acme, scope):
    assert_error(request_token(api, acme, scope=scope), 400, "invalid_scope")
    assert not IssuedToken.objects.exists()


def test_invalid_scope_is_only_told_to_an_authenticated_client(api, acme):
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": "bfl_sk_wrong", "scope": "bflus:write"},
        format="json",
    )
    assert_error(response, 401, "invalid_client")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_other_content_types_are_refused(api, acme, content_type):
    response = api.generic("POST", "/auth/token", b"client_id=acme", content_type=content_type)
    assert response.status_code in (400, 415)
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_any_method_but_post_is_method_not_allowed(api, method):
    response = getattr(api, method)("/auth/token")
    assert response.status_code == 405
    if method != "head":
        assert response.json()["error"] == "method_not_allowed"


# --- 401 invalid_client: one identical answer -----------------------------------------------------


def _failure_signature(response):
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in {"date", "x-request-id"}
    }
    return response.status_code, response.content, headers


def test_every_client_authentication_failure_looks_the_same(api, acme, globex):
    rotated_out = make_community("rotated")
    secret_rotate(community=rotated_out.community, actor=TEST_ACTOR)
    expired = make_community("expired")
    secret_rotate(community=expired.community, actor=TEST_ACTOR, grace=timedelta(hours=1))
    inactive = make_community("inactive")
    community_deactivate(community=inactive.community, actor=TEST_ACTOR)

    def attempt(client_id, secret):
        return api.post("/auth/token", {"client_id": client_id, "client_secret": secret}, format="json")

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        responses = [
            attempt("nobody", acme.client_secret),  # unknown client_id
            attempt("acme", globex.client_secret),  # wrong secret
            attempt("rotated", rotated_out.client_secret),  # revoked (rotated out) secret
            attempt("expired", expired.client_secret),  # grace window over
            attempt("inactive", inactive.client_secret),  # deactivated community
            attempt(
                "acme", acme.client_secret[:-1] + ("x" if acme.client_secret[-1] != "x" else "y")
            ),  # checksum
        ]
    first = _failure_signature(responses[0])
    assert first[0] == 401
    assert responses[0].json()["error"] == "invalid_client"
    assert "WWW-Authenticate" not in responses[0].headers
    for response in responses[1:]:
        assert _failure_signature(response) == first


def test_basic_auth_failure_carries_a_basic_challenge(api, acme):
    response = post_form(
        api, "/auth/token", {"grant_type": "client_credentials"}, **basic("acme", "bfl_sk_nope")
    )
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="bfluence"'


def test_failed_authentication_is_audited_without_the_secret(api, acme, globex):
    api.post("/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json")
    event = AuditEvent.objects.get(event_type="client_auth_failed")
    assert event.client_id == "acme"
    assert event.source_ip == "127.0.0.1"
    assert globex.client_secret not in str(event.details)


def test_secret_that_works_during_the_grace_window_then_stops(api, acme):
    old_secret = acme.client_secret
    rotation = secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=1))

    assert request_token(api, acme).status_code == 200  # old secret inside the window
    new = type(acme)(community=acme.community, client_secret=rotation.client_secret)
    assert request_token(api, new).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert_error(
            api.post("/auth/token", {"client_id": "acme", "client_secret": old_secret}, format="json"),
            401,
            "invalid_client",
        )
        assert request_token(api, new).status_code == 200


def test_deactivated_community_cannot_get_a_token(api, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert_error(request_token(api, acme), 401, "invalid_client")


def test_client_id_matches_exactly(api, acme):
    for variant in ["ACME", " acme", "acme ", "аcme"]:  # the last starts with a Cyrillic a
        response = api.post(
            "/auth/token", {"client_id": variant, "client_secret": acme.client_secret}, format="json"
        )
        assert_error(response, 401, "invalid_client")


# --- 429 rate_limited -----------------------------------------------------------------------------


def _rates(**rates):
    from django.conf import settings

    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


@pytest.mark.usefixtures("one_window")  # fixed windows: the sequence fits in one
def test_too_many_requests_per_client_id_are_rate_limited(api, acme):
    with _rates(token_client="3/min"):
        for _ in range(3):
            assert request_token(api, acme).status_code == 200
        response = request_token(api, acme)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.usefixtures("one_window")  # fixed windows: the sequence fits in one
def test_too_many_requests_per_source_ip_are_rate_limited(api, acme, globex):
    with _rates(token_ip="3/min"):
        statuses = [request_token(api, created).status_code for created in (acme, globex, acme, globex)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.usefixtures("one_window")  # fixed windows: the sequence fits in one
def test_repeated_failures_lock_out_the_source_ip_even_with_the_right_secret(api, acme, globex):
    with _rates(token_failures="3/min"):
        for _ in range(3):
            wrong = api.post(
                "/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json"
            )
            assert wrong.status_code == 401
        response = request_token(api, acme)
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


@pytest.mark.usefixtures("one_window")  # fixed windows: the sequence fits in one
def test_successes_do_not_count_as_failures(api, acme):
    with _rates(token_failures="2/min"):
        statuses = [request_token(api, acme).status_code for _ in range(5)]
    assert statuses == [200] * 5


@pytest.mark.usefixtures("one_window")  # fixed windows: the sequence fits in one
def test_forwarded_for_is_ignored_without_trusted_proxies(api, acme):
    with _rates(token_ip="2/min"):
        statuses = [
            request_token(
                api,
                acme,
            ).status_code
            if i == 0
            else api.post(
                "/auth/token",
                {"client_id": "acme", "client_secret": acme.client_secret},
                format="json",
                HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
            ).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_rate_limited_after_expiry_of_the_window(api, acme):
    with _rates(token_client="1/min"):
        assert request_token(api, acme).status_code == 200
        assert request_token(api, acme).status_code == 429
        with time_machine.travel(timezone.now() + timedelta(seconds=61)):
            assert request_token(api, acme).status_code == 200


@pytest.mark.django_db
def test_a_chunked_body_without_content_length_is_answered_411(api, acme):
    """gunicorn hands a chunked body over without CONTENT_LENGTH; Django would read it as empty and
    answer "client_id and client_secret are required". Say what is wrong instead."""
    response = api.generic(
        "POST",
        "/auth/token",
        b'{"client_id": "acme"}',
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "Content-Length" in body["error_description"]


@pytest.mark.django_db
def test_a_body_with_content_length_is_read_as_before(api, acme):
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret}, format="json"
    )
    assert response.status_code == 200
