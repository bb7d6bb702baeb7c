"""JSON sent without ``Content-Type: application/json`` (``curl -d '{…}'``, ``requests.post(url, data=text)``)
is answered with ``invalid_request`` and a description that names the missing header, on every endpoint
where a partner authenticates with its client credentials (SPEC shape unchanged)."""

import json
import shutil
import subprocess

import pytest
import requests

from tests.conftest import make_community

pytestmark = pytest.mark.django_db(transaction=True)
ENDPOINTS = ["/auth/token", "/auth/revoke", "/auth/revocation-requests"]


@pytest.fixture
def body(live_server):
    created = make_community("jsonco", members={"123": 1})
    return json.dumps(
        {"client_id": "jsonco", "client_secret": created.client_secret, "token": "x", "reason": "r"}
    )


def assert_names_the_header(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"error", "error_description"} and answer["error"] == "invalid_request"
    assert "Content-Type: application/json" in answer["error_description"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_requests_post_with_json_text_as_data_sends_no_content_type_and_is_told_which(
    live_server, body, path
):
    response = requests.post(f"{live_server.url}{path}", data=body, timeout=10)
    assert "Content-Type" not in response.request.headers
    assert_names_the_header(response)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_json_sent_as_a_form_is_told_which_header_is_missing(live_server, body, path):
    response = requests.post(
        f"{live_server.url}{path}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"},
        timeout=10,
    )
    assert_names_the_header(response)


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_dash_d_with_json_in_portuguese(live_server, body):
    result = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{live_server.url}/auth/token", "-d", body],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == (
        "O corpo parece JSON: envie-o com o cabeçalho Content-Type: application/json."
    )


def test_a_body_without_content_type_that_is_not_json_is_still_unsupported(live_server, body):
    response = requests.post(f"{live_server.url}/auth/token", data="client_id=x", timeout=10)
    assert response.status_code == 415
    assert response.json()["error"] == "invalid_request"


def test_labelled_json_still_works(live_server, body):
    response = requests.post(
        f"{live_server.url}/auth/token", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
