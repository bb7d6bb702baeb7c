"""A Unix-socket bind never gives every partner one shared source address (SECURITY.md, source IP).

A Unix socket's peer has no address, so every caller used to be "ip: null": one partner's failures
rate-limited all of them and an allowlisted community was always refused. gunicorn (as deployed, with
gunicorn.conf.py) now refuses to start on a Unix socket — from GUNICORN_BIND, --bind, or a socket systemd
passes in LISTEN_FDS — unless TRUSTED_PROXIES declares the socket's peer ("unix"); then the proxy's
X-Forwarded-For names the source, exactly as for a TCP proxy in TRUSTED_PROXIES.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.test import RequestFactory

from bfluence.source_ip import UNIX_SOCKET, parse_trusted_proxies, peer_is_trusted, source_ip
from tests.stack import ROOT, server_env


def test_unix_is_a_trusted_proxies_entry():
    assert parse_trusted_proxies(["10.0.0.0/8", " UNIX "])[1] == UNIX_SOCKET
    with pytest.raises(ValueError, match="nor 'unix'"):
        parse_trusted_proxies(["unix:/run/x.sock"])


def test_a_trusted_unix_socket_peer_is_read_like_a_tcp_proxy():
    meta = RequestFactory().get("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9").META
    unix = parse_trusted_proxies(["unix"])
    assert source_ip(meta, unix) == "203.0.113.9"
    assert peer_is_trusted(meta, unix)
    # Not declared: the header is not believed, and there is no address to charge.
    assert source_ip(meta, parse_trusted_proxies(["10.0.0.5"])) is None
    assert not peer_is_trusted(meta, ())
    # Declared, but a TCP peer with an address is judged by its address, as before.
    tcp = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.9").META
    assert source_ip(tcp, unix) == "198.51.100.1"
    # Declared, and the proxy sent nothing readable: no address, never an invented one.
    bare = RequestFactory().get("/", REMOTE_ADDR="").META
    assert source_ip(bare, unix) is None


def _gunicorn(folder: str, *extra: str, pass_fd: int | None = None, **env: str) -> subprocess.Popen:
    environment = server_env(DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", LOG_FORMAT="json", **env)
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bfluence.wsgi", "--workers", "1"]
    if pass_fd is None:
        return subprocess.Popen(
            [*command, *extra],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(folder, "stderr.log"), "w"),
        )
    # As systemd does: the socket as fd 3, LISTEN_FDS=1 and LISTEN_PID naming the process itself.
    shell = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'

    def socket_as_fd_3() -> None:
        os.dup2(pass_fd, 3)

    return subprocess.Popen(
        ["sh", "-c", shell, "sh", *command, *extra],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(folder, "stderr.log"), "w"),
        preexec_fn=socket_as_fd_3,
        pass_fds=(3,),
    )


def _refused(process: subprocess.Popen, folder: str) -> str:
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    return Path(folder, "stderr.log").read_text()


def test_gunicorn_bind_to_a_unix_socket_without_a_trusted_peer_refuses_to_start():
    with tempfile.TemporaryDirectory(prefix="bfl-unix-") as folder:
        process = _gunicorn(folder, GUNICORN_BIND=f"unix:{folder}/g.sock")
        log = _refused(process, folder)
    assert "gunicorn listens on a Unix socket" in log and "TRUSTED_PROXIES" in log


def test_a_unix_socket_given_on_the_command_line_is_refused_too():
    with tempfile.TemporaryDirectory(prefix="bfl-unix-") as folder:
        process = _gunicorn(folder, "--bind", f"unix:{folder}/g.sock", TRUSTED_PROXIES="10.0.0.5")
        log = _refused(process, folder)
    assert "gunicorn listens on a Unix socket" in log


def test_a_unix_socket_passed_by_systemd_is_refused_too():
    with tempfile.TemporaryDirectory(prefix="bfl-unix-") as folder:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(f"{folder}/systemd.sock")
        listener.listen()
        try:
            log = _refused(_gunicorn(folder, pass_fd=listener.fileno()), folder)
        finally:
            listener.close()
    assert "gunicorn listens on a Unix socket" in log


def _post_over_unix(path: str, forwarded_for: str) -> bytes:
    body = json.dumps({"client_id": "acme", "client_secret": "not-a-secret"}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"X-Forwarded-For: {forwarded_for}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + body
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_with_the_socket_peer_trusted_each_forwarded_source_is_its_own():
    """Two partners behind the proxy: one's failures never limit the other, and the log names each."""
    with tempfile.TemporaryDirectory(prefix="bfl-unix-") as folder:
        path = f"{folder}/g.sock"
        process = _gunicorn(
            folder, GUNICORN_BIND=f"unix:{path}", TRUSTED_PROXIES="unix", THROTTLE_TOKEN_FAILURES="1/min"
        )
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path) and time.monotonic() < deadline:
                assert process.poll() is None, Path(folder, "stderr.log").read_text()[-2000:]
                time.sleep(0.1)
            statuses = []
            for source in ("203.0.113.9", "203.0.113.9", "198.51.100.4"):
                statuses.append(_post_over_unix(path, source).split(b" ", 2)[1])
        finally:
            process.terminate()
            process.wait(timeout=15)
        log = Path(folder, "stderr.log").read_text()
    assert statuses == [b"401", b"429", b"401"]
    decisions = [json.loads(line) for line in log.splitlines() if '"auth decision"' in line]
    assert [decision["ip"] for decision in decisions] == ["203.0.113.9", "198.51.100.4"]
