"""Structured logs (issue 10 item 9): one JSON object per line; no value a caller sends can forge a field
or a line, and no secret or token survives into any field.

The tests read what the configured console handler really writes (settings.LOGGING: formatter and
redaction filter), from requests through the whole stack.
"""

import io
import json
import logging
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from bfluence.log_format import JsonLogFormatter, TextLogFormatter

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJl"

FORGED_CLIENT_IDS = [
    "acme outcome=issued jti=0123 ip=10.0.0.1",
    "x\n2026-01-01 INFO bfluence.auth auth outcome=issued client_id=acme",
    'evil", "outcome": "issued", "client_id": "acme',
    "crlf\r\nsep\u2028next\u0085end\u2029",
    "ansi\x1b[31mred\x1b[0m\ttab\\n",
]


@pytest.fixture
def log_output():
    """Everything the configured console handler writes while the test runs."""
    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, (JsonLogFormatter, TextLogFormatter))
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def json_lines(stream: io.StringIO) -> list[dict]:
    """Every line parsed; fails if any line is not a JSON object."""
    lines = stream.getvalue().splitlines()
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def test_production_logging_is_json_with_the_redaction_filter(settings):
    assert settings.LOG_FORMAT == "json"
    assert settings.LOGGING["formatters"]["structured"]["()"] == "bfluence.log_format.JsonLogFormatter"
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["request_id", "redact_credentials"]


@pytest.mark.django_db
@pytest.mark.parametrize("forged", FORGED_CLIENT_IDS)
def test_forged_client_id_gives_exactly_one_json_line_with_the_value_intact(api, acme, log_output, forged):
    response = api.post(
        "/auth/token", {"client_id": forged, "client_secret": acme.client_secret}, format="json"
    )

    # Control characters are refused as a field (bfluence/text.py); either way one decision line.
    has_controls = any(unicodedata.category(char) == "Cc" for char in forged)
    assert response.status_code == (400 if has_controls else 401)
    entries = json_lines(log_output)
    decisions = [entry for entry in entries if entry["logger"] == "bfluence.auth"]
    assert len(decisions) == 1
    assert decisions[0]["client_id"] == forged  # one string, every character kept
    assert decisions[0]["outcome"] == "denied"
    assert not any(entry.get("outcome") == "issued" for entry in entries)
    # Nothing a log reader might split on appears raw.
    raw = log_output.getvalue()
    assert raw.count("\n") == len(entries)
    assert not any(char in raw for char in "\r\u2028\u2029\u0085\x1b")


@pytest.mark.django_db
def test_a_real_decision_line_has_its_fields(api, acme, log_output):
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret}, format="json"
    )

    assert response.status_code == 200
    [decision] = [entry for entry in json_lines(log_output) if entry["logger"] == "bfluence.auth"]
    assert decision["outcome"] == "issued" and decision["client_id"] == "acme"
    assert isinstance(decision["jti"], str) and decision["jti"]
    assert decision["level"] == "INFO" and decision["message"] == "auth decision" and decision["time"]
    assert acme.client_secret not in log_output.getvalue()
    assert response.json()["access_token"] not in log_output.getvalue()


def test_secrets_and_tokens_are_redacted_in_message_fields_and_tracebacks(log_output):
    acme_secret = "bfl_sk_" + "A1b2" * 11
    logger = logging.getLogger("bfluence.tests")
    try:
        raise ValueError(f"bad url /auth/me?client_secret={acme_secret}&access_token={TOKEN}")
    except ValueError:
        logger.exception(
            "failed on %s",
            f"/x?token={TOKEN}",
            extra={"detail": {"nested": [acme_secret]}, "header": f"Bearer {TOKEN}"},
        )

    [entry] = json_lines(log_output)
    written = log_output.getvalue()
    assert acme_secret not in written and TOKEN not in written and "c2lnbmF0dXJl" not in written
    assert "bfl_sk_[redacted]" in json.dumps(entry["detail"])
    assert "ValueError" in entry["exc_info"] and "[redacted" in entry["exc_info"]
    assert entry["header"] == "Bearer [redacted-token]"


def test_django_request_object_is_not_dumped_with_its_query_string(log_output):
    from django.test import RequestFactory

    request = RequestFactory().get(f"/auth/me?access_token={TOKEN}")
    logging.getLogger("django.request").error(
        "Internal Server Error: %s", request.path, extra={"request": request, "status_code": 500}
    )

    [entry] = json_lines(log_output)
    assert "request" not in entry and entry["status_code"] == 500
    assert TOKEN not in log_output.getvalue()


@pytest.mark.parametrize("forged", FORGED_CLIENT_IDS)
def test_text_format_for_local_runs_is_one_escaped_line_too(forged):
    record = logging.LogRecord("bfluence.auth", logging.INFO, __file__, 1, "auth decision", (), None)
    record.outcome, record.client_id = "denied", forged

    line = TextLogFormatter().format(record)

    assert len(line.splitlines()) == 1
    assert not any(char in line for char in "\r\n\u2028\u2029\u0085\x1b")
    assert ' outcome="denied" client_id=' in line
    quoted = line.split(" client_id=", 1)[1]
    assert json.loads(quoted) == forged  # the value, JSON-quoted, decodes back to exactly what was sent


def _manage_check(**env_overrides) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SECRET_KEY="structured-logs-test-secret-key-with-variety-0123456789",
        JWT_SIGNING_KEY="j" * 40,
        DEBUG="false",
        PYTHONPATH=str(ROOT),
        **env_overrides,
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env=env,
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_log_format_stops_start_up():
    result = _manage_check(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr


def test_text_log_format_starts():
    result = _manage_check(LOG_FORMAT="text")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_revoke_writes_one_decision_line_with_the_jti(api, acme, log_output):
    from tests.conftest import issue_token
    from tests.test_partner_endpoints import jti_of

    token = issue_token(api, acme)
    log_output.truncate(0), log_output.seek(0)

    response = api.post(
        "/auth/revoke",
        {"client_id": "acme", "client_secret": acme.client_secret, "token": token},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 200
    [decision] = [entry for entry in json_lines(log_output) if entry["logger"] == "bfluence.auth"]
    assert decision["outcome"] == "revoked" and decision["client_id"] == "acme"
    assert decision["jti"] == jti_of(token) and decision["ip"] == "203.0.113.9"
    assert acme.client_secret not in log_output.getvalue() and token not in log_output.getvalue()


@pytest.mark.django_db
def test_revoking_a_token_that_is_not_yours_is_a_logged_decision_too(api, acme, log_output):
    response = api.post(
        "/auth/revoke",
        {"client_id": "acme", "client_secret": acme.client_secret, "token": TOKEN},
        format="json",
    )

    assert response.status_code == 200
    [decision] = [entry for entry in json_lines(log_output) if entry["logger"] == "bfluence.auth"]
    assert decision["outcome"] == "revoke_ignored" and decision["client_id"] == "acme"
    assert decision["reason"] == "not_this_clients_token" and decision["jti"] is None


@pytest.mark.django_db
def test_compromise_report_writes_one_decision_line(api, acme, log_output):
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": "laptop stolen"},
        format="json",
        REMOTE_ADDR="203.0.113.10",
    )

    assert response.status_code == 202
    [decision] = [entry for entry in json_lines(log_output) if entry["logger"] == "bfluence.auth"]
    assert decision["outcome"] == "revocation_requested" and decision["client_id"] == "acme"
    assert decision["ip"] == "203.0.113.10" and decision["level"] == "INFO"
    assert acme.client_secret not in log_output.getvalue()


@pytest.mark.django_db
def test_a_refused_compromise_report_is_logged_as_denied(api, acme, log_output):
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": "bfl_sk_" + "x" * 40, "reason": "laptop stolen"},
        format="json",
    )

    assert response.status_code == 401
    [decision] = [entry for entry in json_lines(log_output) if entry["logger"] == "bfluence.auth"]
    assert decision["outcome"] == "denied" and decision["client_id"] == "acme"
