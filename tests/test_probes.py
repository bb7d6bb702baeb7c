"""Health probes answer whatever the Host header, every other path still validates it (SPEC §2.8).

Load balancers probe by IP address, so their Host is never in ALLOWED_HOSTS. A probe must get its
answer, and must not leave an ERROR line with a DisallowedHost traceback in the log on every probe.
"""

import logging

import pytest

PROBE_HOSTS = ["10.0.0.7", "10.0.0.7:8000", "[fd00::1]:8000", "evil.example", "bad host!"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("host", PROBE_HOSTS)
def test_probes_answer_get_and_head_whatever_the_host(api, caplog, path, host):
    caplog.set_level(logging.INFO)
    get = api.get(path, HTTP_HOST=host)
    head = api.head(path, HTTP_HOST=host)
    assert get.status_code == 200, get.content
    assert get.json()["status"] == "ok" and get["Cache-Control"] == "no-store"
    assert head.status_code == 200 and head.content == b""
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING], caplog.text
    assert "DisallowedHost" not in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/auth/me"),
        ("post", "/auth/token"),
        ("get", "/communities/hub/client/123/get-bflus"),
        ("get", "/healthz/"),
        ("get", "/healthzz"),
        ("get", "/admin/login/"),
        ("get", "/api/schema/"),
        ("post", "/healthz"),
        ("delete", "/readyz"),
    ],
)
def test_every_other_request_still_validates_the_host(api, method, path):
    response = getattr(api, method)(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_probes_refuse_other_methods_with_a_valid_host(api):
    response = api.post("/healthz", {}, format="json")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
