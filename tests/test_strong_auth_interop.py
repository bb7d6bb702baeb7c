"""Off-the-shelf clients over real HTTP: Authlib's private_key_jwt, unchanged, against a live server;
and single use of an assertion and of a DPoP proof across two gunicorn processes (SPEC §4.1, issue 15)."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from audit.models import AuditEvent
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import ASSERTION_TYPE, assertion, dpop_proof, pem_private, private_key, public_pem
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db(transaction=True)


def keys_only(client_id: str, key) -> None:
    created = make_community(client_id, members={"123": 1500})
    client_key_add(community=created.community, key_text=public_pem(key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_authlib_private_key_jwt_fetches_calls_and_revokes(live_server, alg):
    key = private_key(alg)
    keys_only("keyco", key)
    token_url, revoke_url = f"{live_server.url}/auth/token", f"{live_server.url}/auth/revoke"
    # Authlib reads a PEM string as an RSA key; EC and OKP keys are handed over as joserfc keys.
    secret = pem_private(key).decode() if alg == "RS256" else key
    session = OAuth2Session(
        "keyco",
        secret,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
    )
    session.register_client_auth_method(PrivateKeyJWT(token_url, alg=alg))
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"

    response = session.get(f"{live_server.url}/communities/hub/client/123/get-bflus")
    assert (response.status_code, response.json()["bflus"]) == (200, 1500)

    assert session.revoke_token(revoke_url, token=token["access_token"]).status_code == 200
    assert session.get(f"{live_server.url}/auth/me").status_code == 401
    assert IssuedToken.objects.get().revoked_at is not None


def test_authlib_with_a_wrong_key_gets_invalid_client(live_server):
    keys_only("keyco", private_key("ES256"))
    token_url = f"{live_server.url}/auth/token"
    stranger = private_key("ES256", fresh=True)
    session = OAuth2Session("keyco", stranger, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(token_url, alg="ES256"))
    with pytest.raises(OAuthError, match="invalid_client"):
        session.fetch_token(token_url, grant_type="client_credentials")


def send(url: str, fields: dict | None = None, **headers) -> tuple[int, dict]:
    """One request (a form POST when ``fields`` is given); (status, JSON body)."""
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker):
    """Two gunicorn processes on the test database (each with its own memory cache in the SQLite run)."""
    from tests.stack import Gunicorn
    from tests.test_multiprocess import SHARED_CACHE, _database_url

    with django_db_blocker.unblock():
        env = {"DATABASE_URL": _database_url()}
    if SHARED_CACHE:
        env["CACHE_URL"] = os.environ["CACHE_URL"]
    servers = []
    try:
        servers.append(Gunicorn(**env))
        servers.append(Gunicorn(**env))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.multiprocess
def test_a_replayed_assertion_is_refused_by_another_gunicorn_process(two_servers):
    a, b = two_servers
    key = private_key("ES256")
    keys_only("replayco", key)
    signed = assertion(key, "replayco", "bfluence")  # JWT_ISSUER: a valid aud on both servers
    fields = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }
    assert send(f"{a.url}/auth/token", fields)[0] == 200
    for server in (b, a):  # B: another process with its own memory cache; then A itself
        status, body = send(f"{server.url}/auth/token", fields)
        assert (status, body["error"]) == (401, "invalid_client")
    assert IssuedToken.objects.filter(community__client_id="replayco").count() == 1
    assert AuditEvent.objects.filter(client_id="replayco", details__reason="replayed_jti").count() == 2


@pytest.mark.multiprocess
def test_a_replayed_dpop_proof_is_refused_by_another_gunicorn_process(two_servers):
    """Both servers answer for the same public host (as behind a load balancer): the proof's htu is
    valid on both, so only its single use can stop the replay."""
    a, b = two_servers
    created = make_community("dpopco", members={"123": 7})
    client_auth_policy_set(
        community=created.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR
    )
    dpop_key = private_key("ES256", fresh=True)
    host = a.url.removeprefix("http://")
    token_url = f"http://{host}/auth/token"
    status, body = send(
        f"{a.url}/auth/token",
        {"grant_type": "client_credentials", "client_id": "dpopco", "client_secret": created.client_secret},
        DPoP=dpop_proof(dpop_key, "POST", token_url),
    )
    assert (status, body["token_type"]) == (200, "DPoP")
    token = body["access_token"]
    path = "/communities/hub/client/123/get-bflus"
    proof = dpop_proof(dpop_key, "GET", f"http://{host}{path}", access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Host": host}
    assert send(f"{a.url}{path}", **headers)[0] == 200
    status, body = send(f"{b.url}{path}", **headers)
    assert (status, body["error"]) == (401, "invalid_dpop_proof")
    fresh = dpop_proof(dpop_key, "GET", f"http://{host}{path}", access_token=token)
    assert send(f"{b.url}{path}", **{**headers, "DPoP": fresh})[1]["bflus"] == 7  # B serves a fresh proof
