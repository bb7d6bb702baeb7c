"""The README's own server (``python3 dev.py serve``: Django's threaded runserver) keeps its resources flat.

runserver answers every connection on a new thread, and each thread opens its own database connection.
Nothing may keep those connections alive after their thread ends: 1,000+ get-bflus calls, each on a new
connection, leave the open files of the server process and the PostgreSQL connection count where they were.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.stack import (
    ROOT,
    PrivatePostgres,
    free_port,
    http,
    manage,
    partner_create,
    private_services_available,
    server_env,
    wait_for,
)

REQUESTS = 1000


class DevServer:
    """``manage.py runserver`` exactly as ``dev.py serve`` starts it, on a free port."""

    def __init__(self, **env: str) -> None:
        self.env = env
        manage("migrate", "--no-input", "-v", "0", **env)
        self.credentials = partner_create("devco", "Dev Co", bflus=1500, **env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bfluence-runserver-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--insecure", "--noreload"],
            cwd=ROOT,
            env=server_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        wait_for(self._healthy, seconds=30, what="runserver")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(Path(self.log.name).read_text(errors="replace")[-2000:])
        return http("GET", f"{self.url}/healthz", timeout=2)[0] == 200

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    def token(self) -> str:
        status, body = http("POST", f"{self.url}/auth/token", self.credentials)
        assert status == 200, body
        return body["access_token"]

    def bflus_statuses(self, token: str, count: int) -> list[int]:
        # urllib opens a new connection per call: a new runserver thread, so a new database connection.
        url = f"{self.url}/communities/hub/client/123/get-bflus"
        return [http("GET", url, token=token)[0] for _ in range(count)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def test_sqlite_open_files_stay_flat(tmp_path):
    server = DevServer(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}", CACHE_URL="locmemcache://dev")
    try:
        token = server.token()
        assert set(server.bflus_statuses(token, 50)) == {200}  # warm: lazy imports, compiled queries
        files_before, rss_before = server.open_files(), server.rss_kib()
        statuses = server.bflus_statuses(token, REQUESTS)
        files_after, rss_after = server.open_files(), server.rss_kib()
    finally:
        server.stop()
    print(
        f"runserver on SQLite: open files {files_before} -> {files_after}, RSS {rss_before} -> {rss_after} KiB"
    )
    assert statuses.count(200) == REQUESTS, {status: statuses.count(status) for status in set(statuses)}
    assert files_after - files_before <= 5  # one leaked connection per thread was +1,000
    assert rss_after - rss_before < 8 * 1024  # the cache that kept every thread's connection: +22 MiB


@pytest.mark.skipif(private_services_available() is not None, reason=str(private_services_available()))
def test_postgres_connections_stay_flat():
    postgres = PrivatePostgres()  # private: its connection count is this server's alone
    server = None
    count_sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()"
    )
    try:
        server = DevServer(DATABASE_URL=postgres.url, CACHE_URL="locmemcache://dev")
        token = server.token()
        assert set(server.bflus_statuses(token, 50)) == {200}
        connections_before, files_before = postgres.query(count_sql)[0][0], server.open_files()
        statuses = server.bflus_statuses(token, REQUESTS)
        connections_after, files_after = postgres.query(count_sql)[0][0], server.open_files()
    finally:
        if server:
            server.stop()
        postgres.destroy()
    print(
        f"runserver on PostgreSQL: connections {connections_before} -> {connections_after}, "
        f"open files {files_before} -> {files_after}"
    )
    # Before the fix every thread's connection stayed open, and past max_connections (100) all got 503.
    assert statuses.count(200) == REQUESTS, {status: statuses.count(status) for status in set(statuses)}
    assert connections_after <= connections_before + 2
    assert files_after - files_before <= 5
