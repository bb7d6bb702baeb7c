"""OpenAPI 3 schema and interactive docs (issue: partner developer experience)."""

import json

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
    ("/security/secret-scanning", "post"),
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


@pytest.mark.parametrize("version", ["\n", "\x00", "x\r\nSet-Cookie: a=b", "1.0.0 (beta)"])
def test_schema_version_parameter_reaches_neither_a_header_nor_the_document(client, version):
    """``/api/schema/?version=%00`` was a 500 from gunicorn: drf-spectacular put the caller's ``version``
    into ``Content-Disposition`` (and into the published ``info.version``)."""
    response = client.get("/api/schema/", {"version": version, "format": "json"})
    assert response.status_code == 200
    for name, value in response.headers.items():
        assert value.isprintable(), (name, value)
    assert response.json()["info"]["version"] == "1.0.0"
    assert version not in response.headers.get("Content-Disposition", "")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
@pytest.mark.parametrize("method", ["options", "post", "put", "delete"])
def test_docs_and_schema_answer_other_methods_with_405(client, path, method):
    """``OPTIONS /api/docs/`` was a 500 (DRF's metadata answer through the HTML renderer)."""
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert client.head(path).status_code == 200


def test_the_schema_is_generated_once_per_language_not_per_request(client, monkeypatch):
    """Generating the document took 80-200 ms per anonymous request (no rate limit): ~10 requests a
    second per core kept every worker busy. Unknown ``?lang=`` values must not each get a document."""
    from drf_spectacular.generators import SchemaGenerator

    from bfluence import docs

    generated = []
    real = SchemaGenerator.get_schema
    monkeypatch.setattr(
        SchemaGenerator,
        "get_schema",
        lambda self, *args, **kwargs: generated.append(1) or real(self, *args, **kwargs),
    )
    monkeypatch.setattr(docs, "_schemas", {})
    for attempt in range(4):
        default = client.get("/api/schema/", {"format": "json", "r": attempt})
        english = client.get("/api/schema/", {"format": "json", "lang": "en"})
        unknown = client.get("/api/schema/", {"format": "json", "lang": f"x{attempt}"})
        assert client.get("/api/schema/").status_code == 200  # YAML: the same document
        assert default.status_code == english.status_code == unknown.status_code == 200
        assert english.json()["paths"]["/auth/token"]["post"]["summary"] == "Get an access token"
        assert default.json() == unknown.json() != english.json()
        assert english["Content-Language"] == "en"
    assert len(generated) == 2


def schema(client, query=""):
    response = client.get(f"/api/schema/?format=json{query}")
    assert response.status_code == 200
    return response, json.loads(response.content)


@pytest.mark.parametrize("query", ["", "&lang=en"])
def test_the_description_shows_the_bearer_header_literally(client, query):
    """Swagger UI renders the description as Markdown: a bare <token> would vanish as an HTML tag."""
    _response, document = schema(client, query)
    description = document["info"]["description"]
    assert "`Authorization: Bearer <token>`" in description
    assert description.count("`") % 2 == 0  # every code span closed
    assert "<token>" not in description.replace("`Authorization: Bearer <token>`", "")


@pytest.mark.parametrize(
    "query, language, says",
    [
        ("&lang=en", "en", "Partner communities exchange"),
        ("&lang=EN", "en", "Partner communities exchange"),
        ("", "pt-br", "As comunidades parceiras trocam"),
        ("&lang=pt-BR", "pt-br", "As comunidades parceiras trocam"),
        ("&lang=xx", "pt-br", "As comunidades parceiras trocam"),  # a language we do not speak: the default
    ],
)
def test_lang_picks_the_language_and_content_language_says_which(client, query, language, says):
    response, document = schema(client, query)
    assert response["Content-Language"] == language
    assert document["info"]["description"].startswith(says)


def test_the_docs_page_loads_the_document_in_its_own_language(client):
    page = client.get("/api/docs/?lang=en")
    assert page.status_code == 200 and page["Content-Language"] == "en"
    assert b"/api/schema/?lang\\u003Den" in page.content


def test_component_names_read_like_a_person_wrote_them(client):
    _response, document = schema(client)
    names = set(document["components"]["schemas"])
    assert {
        "TokenRequest",
        "TokenFormRequest",
        "TokenResponse",
        "RevokeRequest",
        "NewRevocationRequest",
        "RevocationRequestAccepted",
        "MemberBflus",
        "Error",
    } <= names
    assert not [name for name in names if "RequestRequest" in name or name.endswith("CreateRequest")]
