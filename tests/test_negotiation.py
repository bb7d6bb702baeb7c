"""The API's content negotiation: DRF's answers, short-cut for the Accept headers partners send."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from bfluence.http import JSONUTF8Renderer
from bfluence.views import JSONFirstNegotiation
from tests.conftest import bearer, issue_token

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "text/html, application/json;q=0.9",
    "application/*",
]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json"])
def test_the_short_cut_gives_drfs_own_answer(accept, query):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/auth/me{query}", **headers))
    renderers = [JSONUTF8Renderer()]

    ours = JSONFirstNegotiation().select_renderer(request, renderers)
    drfs = DefaultContentNegotiation().select_renderer(request, renderers)

    assert (type(ours[0]), ours[1]) == (type(drfs[0]), drfs[1])


@pytest.mark.parametrize("accept", ["text/html", "image/png"])
def test_an_accept_header_that_rules_out_json_still_gets_406(api, acme, accept):
    response = api.get(
        "/communities/hub/client/123/get-bflus", **bearer(issue_token(api, acme)), HTTP_ACCEPT=accept
    )
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_partners_usual_accept_headers_get_json(api, acme, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api.get("/communities/hub/client/123/get-bflus", **bearer(issue_token(api, acme)), **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["bflus"] == 1500
