"""The production front door: nginx (deploy/nginx, as shipped) + gunicorn + private PostgreSQL and Redis.

Over HTTPS with a certificate made here: the partner flow, HSTS and secure cookies, static files served
by nginx, slow-loris clients that never reach a gunicorn worker, nginx's own errors in the API's JSON
shape, and an X-Forwarded-For header from a client that changes nothing. Everything listens on 127.0.0.1.
"""

import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

from tests.stack import (
    ROOT,
    Gunicorn,
    Nginx,
    PrivatePostgres,
    PrivateRedis,
    free_port,
    manage,
    nginx_available,
    partner_create,
    private_services_available,
    server_env,
)

_unavailable = private_services_available() or nginx_available()
pytestmark = [
    pytest.mark.production_stack,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

# TRUSTED_PROXIES: the proxy's address (a count of proxies in older settings).
TRUSTED = "1" if isinstance(settings.TRUSTED_PROXIES, int) else "127.0.0.1"
STAFF_PASSWORD = "front-door-staff-password-7c1e"


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        assert self.headers.get("Content-Type", "").startswith("application/json"), (
            self.status,
            self.headers,
        )
        return json.loads(self.body)


class FrontDoor:
    def __init__(self, **extra_env: str) -> None:
        self.postgres = PrivatePostgres()
        self.redis = PrivateRedis()
        self.env = {
            "DATABASE_URL": self.postgres.url,
            "CACHE_URL": self.redis.url,
            "SECURE_SSL_REDIRECT": "true",
            "TRUSTED_PROXIES": TRUSTED,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "STATIC_ROOT": tempfile.mkdtemp(prefix="bfluence-static-"),
            **extra_env,
        }
        self.server = self.nginx = None
        manage("migrate", "--no-input", "-v", "0", **self.env)
        manage("collectstatic", "--no-input", "-v", "0", **self.env)
        self.credentials = partner_create("frontco", "Front Co", bflus=1500, **self.env)
        self.load_credentials = partner_create("loadco", "Load Co", bflus=10, **self.env)
        manage(
            "createsuperuser",
            "--no-input",
            "--username",
            "ops",
            "--email",
            "ops@bfluence.invalid",
            **self.env,
            DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD,
        )
        self.server = Gunicorn(workers=2, **self.env)
        self.nginx = Nginx(upstream_port=self.server.port, static_root=self.env["STATIC_ROOT"])

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | dict | None = None,
        headers: dict | None = None,
        https: bool = True,
        timeout: float = 10,
    ) -> Response:
        if https:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.nginx.https_port, timeout=timeout, context=self.nginx.ssl_context()
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.nginx.http_port, timeout=timeout)
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def token(self, **headers) -> str:
        response = self.request("POST", "/auth/token", body=self.credentials, headers=headers)
        assert response.status == 200, response.body
        return response.json()["access_token"]

    def bflus(self, token: str) -> Response:
        return self.request(
            "GET", "/communities/hub/client/123/get-bflus", headers={"Authorization": f"Bearer {token}"}
        )

    def destroy(self) -> None:
        for part in (self.nginx, self.server):
            if part:
                part.stop()
        self.redis.stop()
        self.postgres.destroy()
        shutil.rmtree(self.env["STATIC_ROOT"], ignore_errors=True)


@pytest.fixture(scope="module")
def front():
    built = FrontDoor()
    try:
        yield built
    finally:
        built.destroy()


def test_partner_flow_over_https_with_hsts(front):
    token = front.token()
    response = front.bflus(token)
    assert response.status == 200 and response.json()["bflus"] == 1500
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["Cache-Control"] == "no-store"
    me = front.request("GET", "/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and me.json()["client_id"] == "frontco"
    revoked = front.request("POST", "/auth/revoke", body={**front.credentials, "token": token})
    assert revoked.status == 200
    after = front.bflus(token)
    assert after.status == 401 and after.json()["error"] == "invalid_token"
    # The OAuth 2.0 form with HTTP Basic goes through nginx untouched too.
    import base64

    basic = base64.b64encode(
        f"{front.credentials['client_id']}:{front.credentials['client_secret']}".encode()
    )
    form = front.request(
        "POST",
        "/auth/token",
        body=urlencode({"grant_type": "client_credentials"}).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {basic.decode()}",
        },
    )
    assert form.status == 200 and form.json()["token_type"] == "Bearer"


def test_plain_http_redirects_to_https_but_probes_answer_there(front):
    redirect = front.request("GET", "/auth/me", https=False)
    assert redirect.status == 301 and redirect.headers["Location"].startswith("https://")
    assert front.request("GET", "/healthz", https=False).status == 200
    assert front.request("GET", "/readyz", https=False).json()["checks"] == {"database": "ok", "cache": "ok"}


@pytest.mark.parametrize("https", [True, False])
def test_probes_answer_whatever_the_host_and_other_paths_do_not(front, https):
    for host in ("10.20.30.40", "10.20.30.40:8080", "lb-probe.internal"):
        assert front.request("HEAD", "/healthz", headers={"Host": host}, https=https).status == 200
        assert front.request("GET", "/readyz", headers={"Host": host}, https=https).status == 200
    refused = front.request("GET", "/auth/me", headers={"Host": "evil.example"}, https=https)
    assert refused.status == 400 and refused.json()["error"] == "invalid_request"
    log = Path(front.server.log.name).read_text(errors="replace")
    assert "10.20.30.40" not in log and "lb-probe.internal" not in log  # no DisallowedHost line for probes
    assert "evil.example" not in log  # ... and nginx's catch-all refused the other path itself


def test_unknown_hosts_never_reach_django(front):
    before = front.nginx.access_log().count("upstream=127.0.0.1:")
    for https in (True, False):
        for host in ("scanner.example", "203.0.113.7", "api.example.com.evil.example"):
            for method, path in (("GET", "/"), ("POST", "/auth/token"), ("GET", "/admin/login/")):
                refused = front.request(method, path, headers={"Host": host}, https=https)
                assert refused.status == 400, (host, path, refused.status)
                assert refused.json()["error"] == "invalid_request"
    assert front.nginx.access_log().count("upstream=127.0.0.1:") == before  # none was passed on


def test_a_disallowed_host_reaching_gunicorn_is_one_warning_line(front):
    """Straight to gunicorn (nginx would refuse it): one WARNING line, no traceback."""
    log = Path(front.server.log.name)
    start = len(log.read_text(errors="replace"))
    connection = http.client.HTTPConnection("127.0.0.1", front.server.port, timeout=10)
    connection.request("GET", "/auth/me", headers={"Host": "scanner.example"})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 400
    time.sleep(0.2)
    written = log.read_text(errors="replace")[start:]
    lines = [json.loads(line) for line in written.splitlines() if "scanner.example" in line]
    assert len(lines) == 1 and lines[0]["level"] == "WARNING", written
    assert "Traceback" not in written and "exc_info" not in lines[0]
    assert lines[0]["request_id"] == response.headers["X-Request-ID"]


def test_request_ids_join_nginx_and_app_lines(front):
    response = front.request(
        "POST",
        "/auth/token",
        body={"client_id": "frontco", "client_secret": "bfl_sk_" + "W" * 43},
        headers={"X-Request-ID": "chosen-by-a-client"},
    )
    assert response.status == 401
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's own: a client's is never believed
    assert response.headers.get_all("X-Request-ID") == [request_id]
    time.sleep(0.2)
    access = [line for line in front.nginx.access_log().splitlines() if f"rid={request_id}" in line]
    assert len(access) == 1 and f"upstream=127.0.0.1:{front.server.port}" in access[0], access
    app = [
        json.loads(line)
        for line in Path(front.server.log.name).read_text(errors="replace").splitlines()
        if request_id in line
    ]
    assert app and all(line["request_id"] == request_id for line in app), app
    # nginx's own answers carry it too.
    missing = front.request("GET", "/static/no/such/file.css")
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])


def test_a_trusted_front_proxys_request_id_is_kept(front):
    trusting = Nginx(upstream_port=front.server.port, trusted_front="127.0.0.1")
    try:

        def get(request_id: str) -> http.client.HTTPResponse:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", trusting.https_port, timeout=10, context=trusting.ssl_context()
            )
            connection.request("GET", "/healthz", headers={"X-Request-ID": request_id})
            response = connection.getresponse()
            response.read()
            connection.close()
            return response

        assert get("lb-0a1b-2c3d").headers["X-Request-ID"] == "lb-0a1b-2c3d"
        for bad in ("x" * 65, "semi;colon", "under_score"):
            assert re.fullmatch(r"[0-9a-f]{32}", get(bad).headers["X-Request-ID"]), bad
        time.sleep(0.2)
        assert "rid=lb-0a1b-2c3d upstream=127.0.0.1:" in trusting.access_log()
    finally:
        trusting.stop()


def test_secure_cookies_for_the_staff_console(front):
    login = front.request("GET", "/admin/login/")
    assert login.status == 200
    csrf_cookie = next(
        value
        for name, value in login.headers.items()
        if name.lower() == "set-cookie" and value.startswith("csrftoken=")
    )
    assert "Secure" in csrf_cookie
    csrf = csrf_cookie.split(";")[0].split("=", 1)[1]
    middleware = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', login.body).group(1).decode()
    signed_in = front.request(
        "POST",
        "/admin/login/?next=/admin/",
        body=urlencode(
            {
                "csrfmiddlewaretoken": middleware,
                "username": "ops",
                "password": STAFF_PASSWORD,
                "next": "/admin/",
            }
        ).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"{front.nginx.https_url}/admin/login/",
            "Origin": front.nginx.https_url,
        },
    )
    assert signed_in.status == 302, signed_in.body[:500]
    session_cookie = next(
        value
        for name, value in signed_in.headers.items()
        if name.lower() == "set-cookie" and value.startswith("sessionid=")
    )
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_static_files_are_served_by_nginx(front):
    response = front.request("GET", "/static/admin/css/base.css")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/css")
    assert response.headers.get_all("Cache-Control") == ["public, max-age=604800"]  # one header, nginx's
    missing = front.request("GET", "/static/no/such/file.css")
    assert missing.status == 404 and missing.json()["error"] == "not_found"


def test_client_sent_x_forwarded_for_cannot_spoof_the_source_ip(front):
    token = front.token(
        **{"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.10", "Forwarded": "for=203.0.113.11"}
    )
    import base64

    payload = token.split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    recorded = front.postgres.query(f"SELECT source_ip FROM tokens_issuedtoken WHERE jti = '{jti}'")
    assert [str(row[0]).split("/")[0] for row in recorded] == ["127.0.0.1"]


def test_nginx_access_log_never_holds_a_query_string(front):
    """A secret or token pasted into a URL is refused by the app, and nginx's log keeps only the path."""
    secret = "bfl_sk_" + "Q" * 43
    token = front.token()
    for path in (
        f"/auth/token?client_secret={secret}",
        f"/auth/me?access_token={token}",
        f"/communities/hub/client/123/get-bflus?token={token}&client_secret={secret}",
    ):
        response = front.request("GET", path)
        assert response.status in {400, 401, 405}, (path, response.status)
    logged = front.nginx.access_log()
    assert '"GET /auth/me HTTP/1.1" 400' in logged or '"GET /auth/me HTTP/1.1" 401' in logged, logged[-500:]
    assert secret not in logged and token not in logged and "?" not in logged


def test_oversized_body_gets_the_json_error(front):
    response = front.request(
        "POST",
        "/auth/token",
        body=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "O corpo da requisição é grande demais.",
    }
    # Under nginx's cap but over the API's own 16 KiB: the app's JSON error, passed through.
    app = front.request(
        "POST",
        "/auth/token",
        body=b"{" + b" " * (20 * 1024) + b"}",
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert app.status == 413 and app.json()["error"] == "invalid_request"


def test_over_long_header_and_url_get_the_json_error(front):
    header = front.request("GET", "/healthz", headers={"X-Padding": "a" * 16000})
    assert header.status == 431
    assert header.json() == {
        "error": "invalid_request",
        "error_description": "Os cabeçalhos da requisição são grandes demais.",
    }
    url = front.request("GET", "/communities/hub/client/" + "1" * 20000 + "/get-bflus")
    assert url.status == 414 and url.json()["error"] == "invalid_request"
    garbage = front.request("GET", "/healthz", headers={"Host": "a b"})
    assert garbage.status == 400 and garbage.json()["error"] == "invalid_request"


def test_gunicorn_down_is_a_json_502(front):
    dead = Nginx(upstream_port=free_port())  # nothing listens there
    try:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", dead.https_port, timeout=10, context=dead.ssl_context()
        )
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        body = response.read()
        connection.close()
    finally:
        dead.stop()
    assert response.status == 502 and response.headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5" and response.headers["X-Request-ID"]


def test_every_unavailable_answer_of_nginx_says_when_to_retry():
    """503 and 504 need an overloaded or hung upstream to provoke; their config is the 502's."""
    conf = (ROOT / "deploy" / "nginx" / "json-errors.conf").read_text()
    for code in ("502", "503", "504"):
        block = conf.split(f"location = /_errors/{code} {{", 1)[1].split("}", 1)[0]
        assert "add_header Retry-After 5 always;" in block, code


def _slow_client(port: int, context: ssl.SSLContext, kind: str) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    if kind == "headers":
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    else:
        sock.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000\r\n\r\n{"
        )
    return sock


def test_slow_loris_clients_never_hold_a_worker(front):
    """50 connections trickling headers or a body: gunicorn (2 sync workers) would be held by 2 of them."""
    token = front.token()
    context = front.nginx.ssl_context()
    slow = [_slow_client(front.nginx.https_port, context, "headers" if n % 2 else "body") for n in range(50)]
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for n, sock in enumerate(slow):
                try:
                    sock.sendall(b"X-Slow: 1\r\n" if n % 2 else b" ")
                except OSError:
                    pass
            stop.wait(0.5)

    trickler = threading.Thread(target=trickle)
    trickler.start()
    timings = []
    try:
        time.sleep(0.5)
        for _ in range(5):
            for call in (lambda: front.request("GET", "/healthz"), lambda: front.bflus(token)):
                started = time.monotonic()
                response = call()
                timings.append((time.monotonic() - started, response.status))
            time.sleep(0.2)
    finally:
        stop.set()
        trickler.join()
        for sock in slow:
            sock.close()
    print("answers while 50 slow clients trickle:", [round(seconds, 3) for seconds, _ in timings])
    assert {status for _, status in timings} == {200}
    assert max(seconds for seconds, _ in timings) < 1.0


def test_load_check_through_nginx_with_the_default_limits(front):
    """Last in this module: it spends the minute's token quota. Default limits, so 429s are expected
    (THROTTLE_TOKEN_CLIENT 60/min is shared by the token and revoke calls) and none is a violation."""
    result = subprocess.run(
        [
            sys.executable,
            "bench/load_check.py",
            "--base-url",
            front.nginx.https_url,
            "--cafile",
            front.nginx.cert,
            "--seconds",
            "8",
            "--threads",
            "4",
            "--server-pid",
            str(front.server.process.pid),
            "--client-id",
            front.load_credentials["client_id"],
            "--client-secret",
            front.load_credentials["client_secret"],
        ],
        cwd=ROOT,
        env=server_env(**front.env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    print("load report through nginx:", json.dumps(report))
    assert report["server_errors"] == 0 and report["violations"] == []
    assert report["tokens_received"] > 10 and report["records_checked"] == report["tokens_received"]
    assert report["tokens_revoked"] + report["revocations_refused"] > 0
    rss = report["worker_rss_kib"]
    assert len(rss["start"]) == 2 and len(rss["end"]) >= 1
