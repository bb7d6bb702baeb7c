"""The docs page as a person reads it: literal `Authorization: Bearer <token>`, the language asked for
(and said in Content-Language), component names a person would write."""

import json

import pytest


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
