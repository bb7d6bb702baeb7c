"""RFC 8414 authorization server metadata at /.well-known/oauth-authorization-server."""

import pytest

pytestmark = pytest.mark.django_db


def test_metadata_names_the_endpoints_methods_and_algorithms(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["issuer"] == "http://testserver"
    assert body["token_endpoint"] == "http://testserver/auth/token"
    assert body["revocation_endpoint"] == "http://testserver/auth/revoke"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    algorithms = {"ES256", "RS256", "PS256", "EdDSA"}
    assert set(body["token_endpoint_auth_signing_alg_values_supported"]) == algorithms
    assert set(body["dpop_signing_alg_values_supported"]) == algorithms
    assert not {"none", "HS256"} & set(body["token_endpoint_auth_signing_alg_values_supported"])
    assert body["scopes_supported"] == ["bflus:read", "bflus:write"]


def test_metadata_follows_the_host_the_caller_used_and_refuses_unknown_hosts(client):
    assert (
        client.get("/.well-known/oauth-authorization-server", HTTP_HOST="localhost").json()["token_endpoint"]
        == "http://localhost/auth/token"
    )
    response = client.get("/.well-known/oauth-authorization-server", HTTP_HOST="evil.example")
    assert response.status_code == 400


def test_metadata_is_read_only(client):
    assert client.post("/.well-known/oauth-authorization-server").status_code == 405
