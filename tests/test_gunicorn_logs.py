"""gunicorn's own error and access logs (issue 10 item 10): a real gunicorn, started with
gunicorn.conf.py as deployed, fed requests whose URIs carry a client secret and a token — a normal
request, malformed request lines that gunicorn itself refuses and logs, and a worker-level failure that
gunicorn logs with a traceback. Neither secret nor token may appear anywhere in what it writes, and every
line is one JSON object."""

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.gunicorn_probe_app import FAILING_PATH
from tests.stack import free_port, server_env, wait_for

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bfl_sk_" + "Qx7" * 15
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
LEAKS = (SECRET, SECRET[len("bfl_sk_") :], TOKEN, TOKEN.split(".")[2])


def raw_request(port: int, data: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer


@pytest.fixture(scope="module")
def gunicorn_logs():
    """Start gunicorn (debug level, so every error-log path is on), send the probes, stop it; its
    stdout (access log) and stderr (error log) as text."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bfluence-gunicorn-logs-") as folder:
        out, err = Path(folder, "stdout.log"), Path(folder, "stderr.log")
        env = server_env(
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", GUNICORN_ACCESS_LOG="-", LOG_FORMAT="json"
        )
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "gunicorn.conf.py",
                    "tests.gunicorn_probe_app:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--log-level",
                    "debug",
                ],
                cwd=ROOT,
                env=env,
                stdout=stdout,
                stderr=stderr,
            )
            try:
                wait_for(
                    lambda: b" 200 " in raw_request(port, "GET /healthz HTTP/1.0\r\n\r\n"),
                    seconds=30,
                    what="gunicorn",
                )
                query = f"client_secret={SECRET}&access_token={TOKEN}"
                answers = [
                    # Normal requests: the app answers; gunicorn's access log records them.
                    raw_request(
                        port, f"GET /healthz?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    ),
                    raw_request(
                        port, f"GET /auth/me?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    ),
                    # Refused by gunicorn's parser, which quotes the request line in its error log.
                    raw_request(port, f"GET /auth/token?{query}\x01 HTTP/1.1\r\n\r\n"),
                    raw_request(port, f"GET /auth/token?{query} HTTP/1.1\r\nBad Header\r\n\r\n"),
                    # A failure inside the worker: gunicorn logs it with a traceback quoting the URI.
                    raw_request(
                        port,
                        f"GET {FAILING_PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Connection: close\r\n\r\n",
                    ),
                ]
            finally:
                process.terminate()
                process.wait(timeout=30)
        yield {"answers": answers, "stdout": out.read_text(), "stderr": err.read_text()}


def test_neither_secret_nor_token_appears_in_any_gunicorn_output(gunicorn_logs):
    written = gunicorn_logs["stdout"] + gunicorn_logs["stderr"]
    for leak in LEAKS:
        assert leak not in written


def test_the_error_log_paths_really_ran(gunicorn_logs):
    answers = gunicorn_logs["answers"]
    assert answers[0].startswith(b"HTTP/1.1 200") and answers[1].startswith(b"HTTP/1.1 400")
    assert answers[2].startswith(b"HTTP/1.1 400") and answers[3].startswith(b"HTTP/1.1 400")
    errors = [json.loads(line) for line in gunicorn_logs["stderr"].splitlines()]
    refused = [
        entry["message"] for entry in errors if entry["message"].startswith("Invalid request from ip=")
    ]
    assert any(
        "Invalid HTTP request line" in message and "client_secret=[redacted]" in message
        for message in refused
    ), refused
    failed = [entry for entry in errors if entry["message"].startswith("Error handling request")]
    assert (
        failed
        and "response body failed for /__fail_in_worker__?client_secret=[redacted]" in failed[0]["exc_info"]
    )


def test_every_line_gunicorn_writes_is_one_json_object(gunicorn_logs):
    for stream in ("stdout", "stderr"):
        lines = gunicorn_logs[stream].splitlines()
        assert lines
        for line in lines:
            assert isinstance(json.loads(line), dict), line


def test_access_records_are_fields_with_the_path_but_never_the_query(gunicorn_logs):
    records = [json.loads(line) for line in gunicorn_logs["stdout"].splitlines()]
    access = [record for record in records if record["logger"] == "gunicorn.access"]
    paths = {record["path"] for record in access}
    assert {"/healthz", "/auth/me", FAILING_PATH} <= paths
    me = next(record for record in access if record["path"] == "/auth/me")
    assert me["method"] == "GET" and me["status"] == 400 and me["remote_addr"] == "127.0.0.1"
    assert not any("?" in record["path"] for record in access)


def test_text_log_format_selects_the_text_logger_class():
    env = {**os.environ, "LOG_FORMAT": "text"}
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['logger_class'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "bfluence.gunicorn_logging.TextGunicornLogger", result.stderr
