"""Every text field an outsider sends is checked before it reaches the database (SPEC §2.1).

Property-based (Hypothesis): control characters, NUL, lone surrogates and over-long values in every JSON,
form and HTTP Basic field of the three client-authenticated endpoints, in the claims and headers of
client assertions and DPoP proofs, and in the bearer path's Authorization and DPoP headers. Each example
asserts: never a 5xx, the SPEC's error shape with the endpoint's usual code, and the refusal counted as
a failed authentication (client-authenticated endpoints: the per-IP failure count; the bearer path: its
one "denied" decision line). Runs on whichever database and cache the suite runs on (SQLite, or
PostgreSQL + Redis in CI's second run, where a NUL used to be a ``DataError`` 500).
"""

import base64
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clients.limits import ClientAuthLimits
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import ASSERTION_TYPE, assertion, dpop_proof, private_key, public_pem

pytestmark = pytest.mark.django_db

TOKEN_URL = "http://testserver/auth/token"
BFLUS_PATH = "/communities/hub/client/123/get-bflus"
ENDPOINT_FIELDS = {
    "/auth/token": ("client_id", "client_secret", "scope", "grant_type"),
    "/auth/revoke": ("client_id", "client_secret", "token", "token_type_hint"),
    "/auth/revocation-requests": ("client_id", "client_secret", "reason"),
}
GENEROUS = {"token_ip": "100000/min", "token_failures": "100000/min", "token_client": "100000/min"}

# What no honest client sends: C0/C1 controls and DEL (tabs and line breaks too, bar free text), and
# lone surrogates; or a value far over any field's cap (still under the 16 KiB body limit).
_letters = st.text(alphabet="abcXYZ019-_.", max_size=8)
_never_text = st.characters(codec=None, categories=["Cc", "Cs"], exclude_characters="\t\n\r")
_unprintable = st.builds(
    lambda a, bad, b: a + bad + b, _letters, st.text(_never_text, min_size=1, max_size=3), _letters
)
HOSTILE = st.one_of(_unprintable, st.integers(min_value=9000, max_value=12000).map(lambda n: "a" * n))
# Inside a signed JWT (base64 of JSON): over every claim's cap, under the body's 16 KiB.
HOSTILE_CLAIM = st.one_of(_unprintable, st.integers(min_value=201, max_value=3000).map(lambda n: "a" * n))
# A form's body is UTF-8: a lone surrogate cannot be written in it (the bytes decode to U+FFFD, ordinary
# text), so forms get controls and long values.
_controls = st.characters(codec=None, categories=["Cc"], exclude_characters="\t\n\r")
HOSTILE_FORM = st.one_of(
    st.builds(lambda a, bad, b: a + bad + b, _letters, st.text(_controls, min_size=1, max_size=3), _letters),
    st.integers(min_value=9000, max_value=12000).map(lambda n: "a" * n),
)
# What an HTTP header can hold at all (WSGI decodes headers as Latin-1): controls and long values.
HOSTILE_HEADER = st.one_of(
    st.builds(
        lambda a, bad, b: a + bad + b,
        _letters,
        st.text(st.characters(codec="latin-1", categories=["Cc"]), min_size=1, max_size=3),
        _letters,
    ),
    st.integers(min_value=9000, max_value=12000).map(lambda n: "a" * n),
)

fuzz = hypothesis_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def generous_limits(one_window):
    """Limits far above what the fuzzing sends, so every example gets its own verdict; one window, so
    the count read before and after each example is the same count."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **GENEROUS}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        yield


@pytest.fixture
def partner(db):
    """A community with a registered key, DPoP optional: every way to authenticate is live."""
    created = make_community("acme", members={"123": 1500})
    client_key_add(community=created.community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community,
        change=PolicyChange(methods=["client_secret", "private_key_jwt"], dpop="optional"),
        actor=TEST_ACTOR,
    )
    return created


def failures_counted() -> int:
    """This address's failed authentications in the current window (the shared count)."""
    window = ClientAuthLimits(source_ip="127.0.0.1", client_id=None, now=time.time()).failures[0]
    return int(cache.get(window.key) or 0)


def assert_refused_and_counted(send, codes: dict[int, str]):
    before = failures_counted()
    response = send()
    assert response.status_code < 500, response.content
    assert response.status_code in codes, (response.status_code, response.content)
    body = response.json()
    assert body["error"] == codes[response.status_code]
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert failures_counted() == before + 1, "the refusal was not counted as a failure"
    return response


def _body(partner, path: str, field: str, value: str) -> dict:
    body = {
        "client_id": "acme",
        "client_secret": partner.client_secret,
        "scope": "bflus:read",
        "grant_type": "client_credentials",
        "token": "x",
        "token_type_hint": "access_token",
        "reason": "a laptop was stolen",
    }
    body = {name: body[name] for name in ("client_id", "client_secret", *ENDPOINT_FIELDS[path][2:])}
    body[field] = value
    return body


@fuzz
@given(
    where=st.sampled_from([(path, field) for path, fields in ENDPOINT_FIELDS.items() for field in fields]),
    value=HOSTILE,
)
def test_hostile_json_fields_are_invalid_request_and_counted(api, partner, generous_limits, where, value):
    path, field = where
    body = _body(partner, path, field, value)
    raw = json.dumps(body)  # ASCII with escapes: how a lone surrogate travels in JSON ("\\ud800")
    send = lambda: api.generic("POST", path, raw, content_type="application/json")  # noqa: E731
    assert_refused_and_counted(send, {400: "invalid_request"})


@fuzz
@given(
    where=st.sampled_from([(path, field) for path, fields in ENDPOINT_FIELDS.items() for field in fields]),
    value=HOSTILE_FORM,
)
def test_hostile_form_fields_are_invalid_request_and_counted(api, partner, generous_limits, where, value):
    path, field = where
    raw = urlencode(_body(partner, path, field, value))
    send = lambda: api.generic("POST", path, raw, content_type="application/x-www-form-urlencoded")  # noqa: E731
    assert_refused_and_counted(send, {400: "invalid_request"})


@fuzz
@given(
    path=st.sampled_from(list(ENDPOINT_FIELDS)), part=st.sampled_from(["client_id", "secret"]), value=HOSTILE
)
def test_hostile_basic_credentials_are_invalid_request_and_counted(
    api, partner, generous_limits, path, part, value
):
    client_id, secret = ("acme", partner.client_secret)
    client_id, secret = (value, secret) if part == "client_id" else (client_id, value)
    encoded = base64.b64encode(f"{client_id}:{secret}".encode("utf-8", "surrogatepass")).decode()
    body = {"grant_type": "client_credentials", "token": "x", "reason": "stolen"}
    send = lambda: api.generic(  # noqa: E731
        "POST",
        path,
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {encoded}",
    )
    assert_refused_and_counted(send, {400: "invalid_request"})


@fuzz
@given(
    path=st.sampled_from(list(ENDPOINT_FIELDS)),
    claim=st.sampled_from(["iss", "sub", "iss_and_sub", "kid", "jti"]),
    value=HOSTILE_CLAIM,
)
def test_hostile_assertion_claims_are_invalid_client_and_counted(
    api, partner, generous_limits, path, claim, value
):
    """Signed with the partner's registered key: only the hostile text is wrong."""
    key = private_key("ES256")
    claims: dict = {}
    headers = None
    if claim == "kid":
        headers = {"kid": value}
    elif claim == "iss_and_sub":
        claims = {"iss": value, "sub": value}
    else:
        claims = {claim: value}
    signed = assertion(key, "acme", TOKEN_URL, headers=headers, **claims)
    body = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
        "token": "x",
        "reason": "stolen",
    }
    send = lambda: api.generic(  # noqa: E731
        "POST", path, urlencode(body), content_type="application/x-www-form-urlencoded"
    )
    # An assertion longer than its field's cap is refused as a field (400); anything else as a client.
    assert_refused_and_counted(send, {400: "invalid_request", 401: "invalid_client"})


@fuzz
@given(claim=st.sampled_from(["jti", "htm", "htu"]), value=HOSTILE_CLAIM)
def test_hostile_dpop_proof_claims_at_the_token_endpoint_are_invalid_client_and_counted(
    api, partner, generous_limits, claim, value
):
    proof_key = private_key("ES256", fresh=False)
    proof = dpop_proof(proof_key, "POST", TOKEN_URL, **{claim: value})
    body = {"grant_type": "client_credentials", "client_id": "acme", "client_secret": partner.client_secret}
    send = lambda: api.generic(  # noqa: E731
        "POST",
        "/auth/token",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        HTTP_DPOP=proof,
    )
    assert_refused_and_counted(send, {401: "invalid_client"})


@pytest.fixture
def decisions(caplog):
    caplog.set_level(logging.INFO, logger="bfluence.auth")
    return lambda: [record for record in caplog.records if getattr(record, "outcome", None) == "denied"]


@fuzz
@given(scheme=st.sampled_from(["Bearer", "DPoP", "bearer"]), value=HOSTILE_HEADER)
def test_hostile_authorization_headers_on_the_bearer_path(api, partner, decisions, scheme, value):
    denied = len(decisions())
    response = api.get(BFLUS_PATH, HTTP_AUTHORIZATION=f"{scheme} {value}")
    assert response.status_code in (400, 401), response.content
    body = response.json()
    assert body["error"] in {"invalid_request", "invalid_token"} and body["error_description"]
    assert len(decisions()) == denied + 1


@pytest.fixture
def dpop_token(api, partner):
    key = private_key("ES256")
    body = {"grant_type": "client_credentials", "client_id": "acme", "client_secret": partner.client_secret}
    response = api.generic(
        "POST",
        "/auth/token",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        HTTP_DPOP=dpop_proof(key, "POST", TOKEN_URL),
    )
    assert response.status_code == 200, response.content
    return key, response.json()["access_token"]


@fuzz
@given(claim=st.sampled_from(["jti", "htm", "htu", "ath"]), value=HOSTILE_CLAIM)
def test_hostile_dpop_proof_claims_on_the_bearer_path(api, dpop_token, decisions, claim, value):
    key, token = dpop_token
    proof = dpop_proof(key, "GET", f"http://testserver{BFLUS_PATH}", access_token=token, **{claim: value})
    denied = len(decisions())
    response = api.get(BFLUS_PATH, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_dpop_proof" and response.json()["error_description"]
    assert len(decisions()) == denied + 1
