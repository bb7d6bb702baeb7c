"""Request ids (bfluence/request_id.py): every response carries one, every log line of the request too;
a caller's id is believed only from TRUSTED_PROXIES and only when it is 1-64 of [A-Za-z0-9-].

And a Host not in ALLOWED_HOSTS is one WARNING line without a traceback, not an ERROR with one.
"""

import re

import pytest

from tests.test_source_ip import proxies
from tests.test_structured_logs import json_lines, log_output  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
NEW_ID = re.compile(r"[0-9a-f]{32}")


def _token_request(api, **headers):
    return api.post("/auth/token", {"client_id": "nobody", "client_secret": "x"}, format="json", **headers)


def test_every_response_has_an_id_and_every_line_of_the_request_carries_it(api, log_output):  # noqa: F811
    response = _token_request(api)
    assert response.status_code == 401
    request_id = response["X-Request-ID"]
    assert NEW_ID.fullmatch(request_id)
    lines = json_lines(log_output)
    assert lines and all(line.get("request_id") == request_id for line in lines), lines
    assert _token_request(api)["X-Request-ID"] != request_id  # one per request
    assert NEW_ID.fullmatch(api.get("/healthz")["X-Request-ID"])  # probes too


def test_an_id_from_a_trusted_proxy_is_kept(api, log_output):  # noqa: F811
    with proxies("127.0.0.1"):
        response = _token_request(api, HTTP_X_REQUEST_ID="lb-4f2a-0001")
    assert response["X-Request-ID"] == "lb-4f2a-0001"
    assert {line.get("request_id") for line in json_lines(log_output)} == {"lb-4f2a-0001"}


@pytest.mark.parametrize(
    "sent",
    [
        "a" * 65,
        "has space",
        "line\nbreak",
        'quote"',
        "under_score",
        "ü-nicode",
        "",
    ],
)
def test_a_malformed_id_is_replaced_even_from_a_trusted_proxy(api, sent):
    with proxies("127.0.0.1"):
        response = api.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert NEW_ID.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]


def test_an_id_from_anyone_else_is_replaced(api):
    with proxies("10.0.0.5"):
        response = api.get("/healthz", HTTP_X_REQUEST_ID="chosen-by-the-caller")
    assert NEW_ID.fullmatch(response["X-Request-ID"])
    assert NEW_ID.fullmatch(api.get("/healthz", HTTP_X_REQUEST_ID="chosen")["X-Request-ID"])  # no proxies


def test_a_disallowed_host_is_one_warning_line_without_traceback(api, log_output):  # noqa: F811
    response = api.get("/auth/me", HTTP_HOST="scanner.example")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    lines = json_lines(log_output)
    assert len(log_output.getvalue().splitlines()) == 1, log_output.getvalue()
    [line] = lines
    assert line["level"] == "WARNING" and line["logger"] == "django.security.DisallowedHost"
    assert "scanner.example" in line["message"] and "exc_info" not in line and "Traceback" not in str(line)
    assert line["request_id"] == response["X-Request-ID"]
