"""bench/load_check.py is honest: a request that never reached the server is a violation, and the README's
command reaches the site by its own name (``--resolve``) with the certificate checked against that name."""

import json
import shutil
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.stack import free_port, self_signed_certificate

ROOT = Path(__file__).resolve().parent.parent


def load_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "bench/load_check.py",
            "--client-id",
            "loadco",
            "--client-secret",
            "bfl_sk_x",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_closed_port_is_a_violation_and_a_non_zero_exit():
    result = load_check("--base-url", f"http://127.0.0.1:{free_port()}", "--seconds", "1", "--threads", "1")

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["statuses"].get("0", 0) > 0 and report["unreached"] == report["requests"]
    assert any("never reached the server" in violation for violation in report["violations"])
    assert report["tokens_received"] == 0


def test_a_certificate_that_does_not_match_is_a_violation(tmp_path):
    """The issue's run: https://127.0.0.1 with a certificate for the site's name, so TLS fails."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    with _stub_https(tmp_path, "DNS:api.example.com") as (port, cert, _):
        result = load_check(
            "--base-url", f"https://127.0.0.1:{port}", "--cafile", cert, "--seconds", "1", "--threads", "1"
        )

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["unreached"] > 0 and "CERTIFICATE_VERIFY_FAILED" in " ".join(report["violations"])


def test_resolve_reaches_the_site_by_its_own_name(tmp_path):
    """The README's form: the site's name in the URL (Host header, TLS name, certificate), 127.0.0.1 dialled."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    with _stub_https(tmp_path, "DNS:api.example.com") as (port, cert, hosts):
        result = load_check(
            "--base-url",
            f"https://api.example.com:{port}",
            "--resolve",
            f"api.example.com:{port}:127.0.0.1",
            "--cafile",
            cert,
            "--seconds",
            "1",
            "--threads",
            "1",
        )

    report = json.loads(result.stdout)
    assert report["unreached"] == 0 and report["statuses"] == {"401": report["requests"]}
    assert set(hosts) == {f"api.example.com:{port}"}
    # The stub never hands out a token: reaching it is not enough to pass.
    assert result.returncode == 1 and "no token was received" in " ".join(report["violations"])


def test_a_name_that_does_not_resolve_to_this_machine_is_refused():
    result = load_check("--base-url", "https://api.example.com", "--seconds", "1")
    assert result.returncode == 2 and "--resolve" in result.stderr


class _stub_https:
    """An HTTPS server on 127.0.0.1 answering every request 401, noting the Host headers it saw."""

    def __init__(self, directory, names: str) -> None:
        self.cert, key = self_signed_certificate(str(directory), names)
        self.hosts: list[str] = []
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hosts.append(self.headers["Host"])
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"error": "invalid_client", "error_description": "no"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.server.server_address[1], self.cert, self.hosts

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
