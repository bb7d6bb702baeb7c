#!/usr/bin/env python3
"""PgBouncer in transaction pooling in front of the project: what works, what breaks, what it costs.

    .venv/bin/python bench/pgbouncer_check.py [--seconds 5] [--workers 2] [--pool-size 2]

Needs Debian's ``pgbouncer`` (and what bench/run.py needs). Starts a private pgbouncer on 127.0.0.1
(``pool_mode = transaction``, run as ``nobody``), then:

1. server-side prepared statements through it (psycopg's ``prepare_threshold=0``, two clients): does a
   statement prepared on one server connection reach a transaction pooled onto another?
2. the project through pgbouncer with ``DATABASE_PREPARED_STATEMENTS=false`` (server-side binding in the
   unnamed statement, nothing prepared), gunicorn driven by wrk: get-bflus and ``POST /auth/token``, then
   the same directly against PostgreSQL with its default (prepared statements), interleaved; errors,
   requests/s, and how many PostgreSQL server connections served the load.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from run import (
    DATABASE,
    Server,
    bench_community,
    query,
    say,
    server_env,
    token_script,
    wrk,
)


def start_pgbouncer(directory: Path, port: int, pool_size: int) -> subprocess.Popen:
    (directory / "users.txt").write_text('"postgres" ""\n')
    (directory / "pgbouncer.ini").write_text(f"""[databases]
{DATABASE} = host=127.0.0.1 port=5432 dbname={DATABASE} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
""")
    directory.chmod(0o777)
    for path in directory.iterdir():
        path.chmod(0o666)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        ["pgbouncer", *user, str(directory / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    import psycopg

    while time.monotonic() < deadline:
        try:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", connect_timeout=1).close()
            return process
        except psycopg.OperationalError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"pgbouncer did not start:\n{(directory / 'pgbouncer.log').read_text()[-2000:]}")


def prepared_statements_through(port: int, clients: int) -> str:
    """More clients than pooled server connections, each preparing and running the same statement."""
    import psycopg

    errors, runs = [], 0
    lock = threading.Lock()

    def client() -> None:
        nonlocal runs
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", autocommit=True, prepare_threshold=0
        ) as connection:
            for n in range(100):
                try:
                    connection.execute(
                        "SELECT count(*) FROM communities_member WHERE id > %s", [n]
                    ).fetchone()
                    with lock:
                        runs += 1
                except psycopg.Error as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(set(errors))
    return f"{runs} of {100 * clients} statements ran, {len(errors)} failed" + (
        f": {'; '.join(kinds[:3])}" if kinds else ""
    )


def server_connections() -> int:
    return query(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
    )[0][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pool-size", type=int, default=2)
    args = parser.parse_args()
    for tool in ("pgbouncer", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install {tool}")
    seconds = max(1, min(args.seconds, 30))

    env = server_env()
    created = bench_community(env)

    port = 16000 + int.from_bytes(os.urandom(2), "big") % 1000
    directory = Path(tempfile.mkdtemp(prefix="bfluence-pgbouncer-"))
    bouncer = start_pgbouncer(directory, port, args.pool_size)
    results = {}
    try:
        say("1. server-side prepared statements through transaction pooling")
        prepared = prepared_statements_through(port, clients=args.pool_size + 2)
        pooled_env = {
            **env,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/{DATABASE}",
            "DATABASE_PREPARED_STATEMENTS": "false",
        }
        servers = {"pgbouncer": Server(pooled_env, args.workers), "direct": Server(env, args.workers)}
        try:
            for label, server in servers.items():
                request = urllib.request.Request(
                    f"{server.url}/auth/token",
                    method="POST",
                    data=json.dumps(created).encode(),
                    headers={"Content-Type": "application/json"},
                )
                token = json.load(urllib.request.urlopen(request))["access_token"]
                server.endpoints = {
                    "get-bflus": dict(
                        url=f"{server.url}/communities/hub/client/123/get-bflus",
                        headers={"Authorization": f"Bearer {token}"},
                    ),
                    "POST /auth/token": dict(
                        url=f"{server.url}/auth/token",
                        script=token_script(created["client_id"], created["client_secret"]),
                    ),
                }
            for round_ in range(2):
                for label in ["pgbouncer", "direct"] if round_ == 0 else ["direct", "pgbouncer"]:
                    for name, spec in servers[label].endpoints.items():
                        say(f"2. round {round_ + 1}: {name} via {label}")
                        peak = [0]
                        done = threading.Event()

                        def watch() -> None:
                            while not done.is_set():
                                peak[0] = max(peak[0], server_connections())
                                time.sleep(0.5)

                        watcher = threading.Thread(target=watch)
                        watcher.start()
                        result = wrk(
                            spec["url"],
                            seconds=seconds,
                            connections=args.connections,
                            script=spec.get("script"),
                            headers=spec.get("headers"),
                        )
                        done.set()
                        watcher.join()
                        results.setdefault((name, label), []).append(
                            {**result, "server_connections": peak[0]}
                        )
        finally:
            for server in servers.values():
                server.stop()
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)

    version = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(
        f"\n{version}, pool_mode = transaction, default_pool_size = {args.pool_size}; "
        f"gunicorn {args.workers} workers, wrk {args.connections} connections, {seconds}s per run\n"
    )
    print(
        f"1. Server-side prepared statements (psycopg prepare_threshold=0), {args.pool_size + 2} clients: "
        f"{prepared}\n"
    )
    print("2. The project: via pgbouncer with DATABASE_PREPARED_STATEMENTS=false, direct with its default:\n")
    print(
        "| endpoint | via | requests/s (2 runs) | p50 ms | errors | PostgreSQL connections, both servers (peak) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for (name, label), runs in results.items():
        rates = " / ".join(f"{run['rps']:.0f}" for run in runs)
        print(
            f"| {name} | {label} | {rates} | "
            f"{min(r['p50_ms'] for r in runs):.2f} | {sum(r['non_2xx'] + r['socket_errors'] for r in runs)} | "
            f"{max(r['server_connections'] for r in runs)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
