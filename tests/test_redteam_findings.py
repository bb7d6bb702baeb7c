"""Found by the red-team run against gunicorn + PostgreSQL + Redis: each test failed before its fix."""

import base64

import pytest

from bfluence.scrub import scrub
from tests.test_free_text_scrubbing import whole_database

pytestmark = pytest.mark.django_db


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


def test_a_pasted_http_basic_header_is_scrubbed(api, acme):
    """Partners paste ``curl -v`` output into a compromise report: ``Authorization: Basic`` is the
    client_id and secret, only base64-encoded, and was stored in clear for every support account."""
    pair = base64.b64encode(f"acme:{acme.client_secret}".encode()).decode()
    reason = f"> POST /auth/token HTTP/1.1\n> Authorization: Basic {pair}\n> Accept: */*"
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": reason},
        format="json",
    )
    assert response.status_code == 202
    dumped = whole_database()
    assert "Authorization: Basic [redacted]" in dumped
    assert pair not in dumped and pair[8:40] not in dumped
    assert scrub(f"authorization: basic {pair}") == "authorization: basic [redacted]"


def test_the_word_basic_in_ordinary_text_is_left_alone():
    text = "basic information: the partner's basic plan, Basic auth fails since 14:05"
    assert scrub(text) == text


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


def test_a_secret_body_sent_as_client_id_never_reaches_the_audit_trail(api, acme):
    """The failed attempt's row keeps the client_id as given: a secret without its ``bfl_sk_`` prefix
    (a partner trimming it, fields swapped) was stored there in clear, readable by every support account."""
    body = acme.client_secret[len("bfl_sk_") :]
    response = api.post(
        "/auth/token", {"client_id": body, "client_secret": acme.client_secret}, format="json"
    )
    assert response.status_code == 401
    dumped = whole_database()
    assert "[redacted-secret]" in dumped
    assert body not in dumped


def test_a_new_secret_waiting_for_its_one_time_page_is_not_readable_in_the_session_table(client, acme):
    """Between the console's POST and its one-time page the new secret waits in the staff member's session,
    i.e. the ``django_session`` table (base64 JSON, signed but not encrypted). A redirect never followed
    (a closed tab, a dropped connection) left it there in clear for the session's life (two weeks), in
    every backup; ``dumpdata`` hid it only because the whole session is base64."""
    from django.contrib.sessions.models import Session

    from tests.test_admin import SECRET, form_key, shown_secret, url
    from tests.test_console_safety import login

    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    response = client.post(page, {"grace": "0s", "reason": "leak", "form_key": form_key(client, page)})
    assert response.status_code == 302
    stored = " ".join(str(session.get_decoded()) for session in Session.objects.all())
    assert "console.secret." in stored  # it is waiting there ...
    assert not SECRET.search(stored)  # ... but not readable from the table alone
    secret = shown_secret(client.get(response["Location"]))
    assert secret.startswith("bfl_sk_") and secret[len("bfl_sk_") :] not in stored
    assert request_token_ok(acme, secret)


def request_token_ok(created, secret) -> bool:
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/auth/token", {"client_id": created.community.client_id, "client_secret": secret}, format="json"
    )
    return response.status_code == 200
