"""OpenAPI 3 schema and interactive docs (issue: partner developer experience)."""

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/auth/token", "post"),
    ("/auth/revoke", "post"),
    ("/auth/revocation-requests", "post"),
    ("/auth/me", "get"),
    ("/communities/{community}/client/{client}/get-bflus", "get"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/.well-known/oauth-authorization-server", "get"),
}


@pytest.fixture
def openapi(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(openapi):
    assert openapi["openapi"].startswith("3.")
    validate(openapi)


def test_schema_lists_every_endpoint_once(openapi):
    listed = {(path, method) for path, operations in openapi["paths"].items() for method in operations}
    assert listed == ENDPOINTS


def test_schema_documents_every_error_code(openapi):
    token = openapi["paths"]["/auth/token"]["post"]
    assert set(token["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert {"200", "400", "401", "405", "413", "415", "429"} <= set(token["responses"])
    examples = token["responses"]["400"]["content"]["application/json"]["examples"].values()
    assert {example["value"]["error"] for example in examples} == {
        "invalid_request",
        "unsupported_grant_type",
        "invalid_scope",
    }
    bflus = openapi["paths"]["/communities/{community}/client/{client}/get-bflus"]["get"]
    assert {"200", "401", "403", "404", "429"} <= set(bflus["responses"])
    assert openapi["components"]["schemas"]["Error"]["required"] == ["error", "error_description"]


def test_schema_declares_bearer_and_client_credentials_security(openapi):
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["clientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == "/auth/token"
    bflus = openapi["paths"]["/communities/{community}/client/{client}/get-bflus"]["get"]
    assert bflus["security"] == [{"bearerAuth": []}, {"clientCredentials": ["bflus:read"]}]
    assert "security" not in openapi["paths"]["/auth/token"]["post"] or openapi["paths"]["/auth/token"][
        "post"
    ]["security"] in ([], [{}])


def test_schema_speaks_portuguese_by_default_and_english_on_request(client):
    default = client.get("/api/schema/", {"format": "json"}).json()
    english = client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT_LANGUAGE="en").json()
    summary = "/auth/token"
    assert english["paths"][summary]["post"]["summary"] == "Get an access token"
    assert default["paths"][summary]["post"]["summary"] != english["paths"][summary]["post"]["summary"]


def test_docs_page_loads_its_assets_from_this_server_only(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert (
        client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    )


def test_schema_language_can_be_chosen_with_a_query_parameter(client):
    english = client.get("/api/schema/", {"format": "json", "lang": "en"}).json()
    assert english["paths"]["/auth/token"]["post"]["summary"] == "Get an access token"


def test_partner_guide_curl_revocation_form_works(api, acme):
    """The guide's revoke command: HTTP Basic plus a form body holding only the token."""
    from tests.conftest import basic, get_bflus, issue_token, post_form

    token = issue_token(api, acme)
    assert (
        post_form(api, "/auth/revoke", {"token": token}, **basic("acme", acme.client_secret)).status_code
        == 200
    )
    assert get_bflus(api, token).status_code == 401
