"""Real services for the process-level tests: gunicorn servers, and private PostgreSQL and Redis
instances that a test may stop and restart without touching the machine's own ones.

Everything listens on 127.0.0.1 only, on free ports, and is stopped when its test ends.
"""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(
    method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 10
) -> tuple[int, dict]:
    """One JSON request; (status, body). Connection failures raise OSError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except ValueError:
            return error.code, {"raw": raw[:200].decode(errors="replace")}


def wait_for(check, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {seconds}s")


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a production-like server process (test keys, DEBUG off)."""
    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CACHE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bfluence.settings",
        SECRET_KEY=settings.SECRET_KEY,
        JWT_SIGNING_KEY=settings.JWT_SIGNING_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DEBUG="false",
        GUNICORN_ACCESS_LOG="",
        METRICS_BIND="",
    )  # a test that wants metrics picks a free port
    env.update(overrides)
    return env


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` on a free port, as deployed."""

    def __init__(self, *, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: a pipe nobody drains fills up and blocks the workers' logging.
        self.log = tempfile.NamedTemporaryFile(prefix="bfluence-gunicorn-", suffix=".log")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "bfluence.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=server_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        try:
            wait_for(self._healthy, seconds=30, what="gunicorn")
        except RuntimeError:
            self.stop()
            raise

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.log_tail()}")
        return http("GET", f"{self.url}/healthz", timeout=2)[0] == 200

    def log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# What systemd does for bfluence.socket + bfluence.service: the listening socket is passed as fd 3, with
# LISTEN_FDS=1 and LISTEN_PID set to the pid of the process that will run gunicorn (exec keeps the pid).
_SOCKET_ACTIVATION = (
    "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); fd == 3 or os.close(fd); "
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


class SocketActivatedGunicorn(Gunicorn):
    """gunicorn as bfluence.socket + bfluence.service run it: this (parent) process owns the listening
    socket, as systemd does, and every gunicorn started by ``start()`` gets it through LISTEN_FDS, so a
    restart (``stop()`` then ``start()``) never closes it."""

    def __init__(self, *, workers: int = 1, **env: str) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(2048)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers, self.env = workers, env
        self.log = tempfile.NamedTemporaryFile(prefix="bfluence-gunicorn-", suffix=".log")
        self.start()

    def start(self) -> None:
        fd = self.listener.fileno()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SOCKET_ACTIVATION,
                str(fd),
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "bfluence.wsgi",
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=server_env(**self.env),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            pass_fds=(fd,),
        )
        try:
            wait_for(self._healthy, seconds=60, what="gunicorn")
        except RuntimeError:
            self.destroy()
            raise

    def stop_gracefully(self) -> None:
        """What ``systemctl stop bfluence.service`` does: SIGTERM, in-flight requests finish."""
        self.process.terminate()
        self.process.wait(timeout=60)

    def destroy(self) -> None:
        super().stop()
        self.listener.close()


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def private_services_available() -> str | None:
    """Why the private services cannot run here, or None when they can."""
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "needs root and runuser to run a private PostgreSQL as the postgres user"
    if not (_postgres_bin("initdb") and _postgres_bin("pg_ctl")):
        return "PostgreSQL server binaries are not installed"
    if not shutil.which("redis-server"):
        return "redis-server is not installed"
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (fsync off) that tests may stop and start at will."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bfluence-pg-")
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            _postgres_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            _postgres_bin("pg_ctl"),
            "-D",
            self.data,
            "-o",
            options,
            "-w",
            "-l",
            os.path.join(self.dir, "log"),
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(_postgres_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres") as connection:
            return connection.execute(sql).fetchall()


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        wait_for(answers, seconds=10, what="redis")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def partner_create(client_id: str, name: str, *, bflus: int, **env: str) -> dict[str, str]:
    """A community with ``bflus:read`` and member 123 holding ``bflus``, made with the real commands."""
    created = json.loads(
        manage(
            "create_community",
            "--client-id",
            client_id,
            "--name",
            name,
            "--permissions",
            "bflus:read",
            "--json",
            **env,
        )
    )
    manage("set_bflus", client_id, "123", str(bflus), **env)
    return {"client_id": created["client_id"], "client_secret": created["client_secret"]}


def manage(*args: str, **env: str) -> str:
    """Run a management command against a private stack; its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout


def self_signed_certificate(directory: str, names: str = "IP:127.0.0.1,DNS:localhost") -> tuple[str, str]:
    """A throw-away certificate for ``names`` (127.0.0.1 and localhost); (certificate, key) paths."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            key,
            "-out",
            cert,
            "-addext",
            f"subjectAltName={names}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def nginx_available() -> str | None:
    """Why the nginx front door cannot run here, or None when it can."""
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        return "nginx is not installed (Debian package nginx; .ci/run installs it)"
    if not shutil.which("openssl"):
        return "openssl is not installed"
    return None


class Nginx:
    """A private nginx running deploy/nginx/bfluence.conf as shipped, on free 127.0.0.1 ports.

    Only what ties the site to one host is rewritten: listen addresses, certificate paths, the checkout's
    path and gunicorn's port.
    """

    def __init__(
        self,
        *,
        upstream_port: int | None = None,
        upstream_ports: list[int] | None = None,
        static_root: str | None = None,
        trusted_front: str | None = None,
    ) -> None:
        ports = upstream_ports or [upstream_port]
        upstreams = " ".join(f"server 127.0.0.1:{port};" for port in ports)
        self.dir = tempfile.mkdtemp(prefix="bfluence-nginx-")
        # The site's own name too: the README's load check reaches it by that name (--resolve).
        self.cert, key = self_signed_certificate(self.dir, "IP:127.0.0.1,DNS:localhost,DNS:api.example.com")
        self.https_port, self.http_port = free_port(), free_port()
        self.https_url, self.http_url = (
            f"https://127.0.0.1:{self.https_port}",
            f"http://127.0.0.1:{self.http_port}",
        )
        site = (ROOT / "deploy" / "nginx" / "bfluence.conf").read_text()
        for shipped, here in [
            ("listen 443 ssl default_server;", f"listen 127.0.0.1:{self.https_port} ssl default_server;"),
            ("listen 80 default_server;", f"listen 127.0.0.1:{self.http_port} default_server;"),
            ("listen [::]:443 ssl default_server;", ""),
            ("listen [::]:80 default_server;", ""),
            ("listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl;"),
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            ("listen [::]:443 ssl;", ""),
            ("listen [::]:80;", ""),
            # The tests call it by address: 127.0.0.1 and localhost stand for the site's name.
            ("server_name api.example.com;", "server_name api.example.com 127.0.0.1 localhost;"),
            ("server 127.0.0.1:8000;", upstreams),
            *([("# 192.0.2.10 1;", f"{trusted_front} 1;")] if trusted_front else []),
            ("/etc/letsencrypt/live/api.example.com/fullchain.pem", self.cert),
            ("/etc/letsencrypt/live/api.example.com/privkey.pem", key),
            ("/srv/bfluence/staticfiles/", f"{static_root or self.dir}/"),
            ("/srv/bfluence", str(ROOT)),
            ("/var/www/html", self.dir),
            ("/var/log/nginx/bfluence-access.log", f"{self.dir}/access.log"),
        ]:
            assert shipped in site, shipped
            site = site.replace(shipped, here)
        Path(self.dir, "site.conf").write_text(site)
        temp_paths = "\n".join(
            f"    {kind}_temp_path {self.dir}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        Path(self.dir, "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
{temp_paths}
    include {self.dir}/site.conf;
}}
""")
        self.process = subprocess.Popen(
            [
                shutil.which("nginx") or "/usr/sbin/nginx",
                "-p",
                self.dir,
                "-c",
                f"{self.dir}/nginx.conf",
                "-e",
                f"{self.dir}/error.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            with socket.create_connection(("127.0.0.1", self.https_port), timeout=1):
                return True

        try:
            wait_for(listening, seconds=15, what="nginx")
        except RuntimeError:
            self.stop()
            raise

    def access_log(self) -> str:
        try:
            return Path(self.dir, "access.log").read_text(errors="replace")
        except OSError:
            return ""

    def error_log(self) -> str:
        try:
            return Path(self.dir, "error.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def ssl_context(self):
        import ssl

        return ssl.create_default_context(cafile=self.cert)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
