"""Off-the-shelf clients over real HTTP: Authlib's private_key_jwt, unchanged, against a live server;
and single use of an assertion across two gunicorn processes (SPEC §4.1, issue 15)."""

import urllib.parse
import urllib.request

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from audit.models import AuditEvent
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import ASSERTION_TYPE, assertion, pem_private, private_key, public_pem
from tokens.models import IssuedToken
from tokens.services import PolicyChange, client_auth_policy_set, client_key_add

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


def post_form(url: str, fields: dict) -> int:
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.multiprocess
def test_a_replayed_assertion_is_refused_by_another_gunicorn_process(django_db_setup):
    import os

    from tests.stack import Gunicorn
    from tests.test_multiprocess import SHARED_CACHE, _database_url

    key = private_key("ES256")
    keys_only("replayco", key)
    env = {"DATABASE_URL": _database_url()}
    if SHARED_CACHE:
        env["CACHE_URL"] = os.environ["CACHE_URL"]
    servers = []
    try:
        servers = [Gunicorn(**env), Gunicorn(**env)]
        a, b = servers
        signed = assertion(key, "replayco", "bfluence")  # JWT_ISSUER: a valid aud on both servers
        fields = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        }
        assert post_form(f"{a.url}/auth/token", fields) == 200
        assert post_form(f"{b.url}/auth/token", fields) == 401  # other process, own memory cache
        assert post_form(f"{a.url}/auth/token", fields) == 401
    finally:
        for server in servers:
            server.stop()
    assert IssuedToken.objects.count() == 1
    assert AuditEvent.objects.filter(details__reason="replayed_jti").count() == 2
