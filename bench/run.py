#!/usr/bin/env python3
"""Benchmark the production stack and print one table.

    .venv/bin/python bench/run.py [--seconds 10] [--connections 8] [--workers 2] [--growth]

Starts gunicorn with the repo's gunicorn.conf.py on PostgreSQL + Redis (the machine's, at 127.0.0.1;
a fresh database ``bfluence_bench`` and Redis db 3), pins the server to core 0 and wrk to core 1 where
there are two cores, and drives, each twice, in turn:

    (a) POST /auth/token                      client authentication + token issue
    (b) GET  get-bflus with a valid token     full authentication (signature, claims, revocation, ...)
    (c) GET  the bench twin of get-bflus      the same member read, no authentication (bench only)

It prints requests/s, p50, p99 and non-2xx per run, the ratios (a)/(c) and (b)/(c) per round and their
spread, and each worker's resident memory afterwards. ``--growth`` measures (b) and (c) again after growing the
data from 10 communities and 1,000 issued-token records to 10,000 and 1,000,000. Only 127.0.0.1 is ever targeted.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = "bfluence_bench"


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def server_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE"}}
    env.update(
        DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CACHE_URL="redis://127.0.0.1:6379/3", BENCH_ENDPOINTS="true",
        # Limits far above what one machine can send: the benchmark measures work, not refusals.
        THROTTLE_TOKEN_CLIENT="100000000/min", THROTTLE_TOKEN_IP="100000000/min",
        THROTTLE_TOKEN_FAILURES="100000000/min", THROTTLE_API="100000000/min",
    )
    return env


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    subprocess.run(["redis-cli", "-n", "3", "FLUSHDB"], check=True, capture_output=True)


def manage(env: dict, *args: str) -> str:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout


def query(sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}") as connection:
        return connection.execute(sql).fetchall()


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


class Server:
    def __init__(self, env: dict, workers: int) -> None:
        self.port = 18000 + secrets.randbelow(1000)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*pin(0), PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bfluence.wsgi",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def worker_rss_mib(self) -> list[float]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
        return sizes

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def wrk(url: str, *, seconds: int, connections: int, script: str | None = None,
        headers: dict | None = None) -> dict:
    command = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def token_script(client_id: str, secret: str) -> str:
    body = json.dumps({"client_id": client_id, "client_secret": secret}).replace('"', '\\"')
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n')
    script.close()
    return script.name


def seed(community_id: int, *, communities: int, tokens: int, start: int = 0) -> None:
    """Bulk insert ``communities`` more communities and ``tokens`` more issued-token records by COPY:
    seconds, not hours. Every tenth token belongs to the benchmark's own community."""
    import psycopg

    now = datetime.now(timezone.utc)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True) as connection:
        with connection.cursor() as cursor:
            with cursor.copy("COPY communities_community (client_id, name, is_active, permissions, created_at, "
                             "updated_at) FROM STDIN") as copy:
                for n in range(start, start + communities):
                    copy.write_row((f"bench-{n:05d}", f"Bench {n}", True, "[]", now, now))
            ids = [row[0] for row in cursor.execute("SELECT id FROM communities_community").fetchall()]
            with cursor.copy("COPY tokens_issuedtoken (jti, community_id, scope, issued_at, expires_at, revoked_by, "
                             "revocation_reason) FROM STDIN") as copy:
                for n in range(tokens):
                    issued = now - timedelta(seconds=n)
                    copy.write_row((secrets.token_hex(16), community_id if n % 10 == 0 else ids[n % len(ids)],
                                    "bflus:read", issued, issued + timedelta(days=1), "", ""))
        # Let PostgreSQL settle (statistics, dirty pages) so the next runs measure lookups, not the load.
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")


def table(rows: list[tuple]) -> str:
    lines = ["| run | endpoint | requests/s | p50 ms | p99 ms | non-2xx |", "|---|---|---:|---:|---:|---:|"]
    for run, name, result in rows:
        lines.append(f"| {run} | {name} | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} "
                     f"| {result['non_2xx'] + result['socket_errors']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--growth", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    seconds = max(1, min(args.seconds, 60))

    env = server_env()
    say("fresh database bfluence_bench, migrations, one community with a member")
    fresh_database()
    manage(env, "migrate", "--no-input", "-v", "0")
    created = json.loads(manage(env, "create_community", "--client-id", "benchco", "--name", "Bench",
                                "--permissions", "bflus:read", "--json"))
    manage(env, "set_bflus", "benchco", "123", "1500")
    community_id = query("SELECT id FROM communities_community WHERE client_id = 'benchco'")[0][0]
    seed(community_id, communities=9, tokens=1_000)  # the small dataset: 10 communities, 1,000 tokens

    say(f"gunicorn, {args.workers} workers{' on core 0, wrk on core 1' if pin(0) else ''}")
    server = Server(env, args.workers)
    try:
        request = urllib.request.Request(f"{server.url}/auth/token", method="POST",
                                         data=json.dumps(created).encode(), headers={"Content-Type": "application/json"})
        token = json.load(urllib.request.urlopen(request))["access_token"]
        endpoints = {
            "(a) POST /auth/token": dict(url=f"{server.url}/auth/token",
                                         script=token_script(created["client_id"], created["client_secret"])),
            "(b) get-bflus, authenticated": dict(url=f"{server.url}/communities/hub/client/123/get-bflus",
                                                 headers={"Authorization": f"Bearer {token}"}),
            "(c) bench twin, no auth": dict(url=f"{server.url}/bench/communities/{community_id}/client/123/bflus"),
        }
        for spec in endpoints.values():  # warm-up: connections, caches, code paths
            wrk(spec["url"], seconds=2, connections=args.connections, script=spec.get("script"),
                headers=spec.get("headers"))
        rows, ratios = [], []
        for run in range(1, args.rounds + 1):
            results = {}
            for name, spec in endpoints.items():
                say(f"run {run}: {name}")
                results[name] = wrk(spec["url"], seconds=seconds, connections=args.connections,
                                    script=spec.get("script"), headers=spec.get("headers"))
                rows.append((run, name, results[name]))
            base = results["(c) bench twin, no auth"]["rps"]
            ratios.append((results["(a) POST /auth/token"]["rps"] / base,
                           results["(b) get-bflus, authenticated"]["rps"] / base))
        memory = server.worker_rss_mib()

        growth = None
        if args.growth:
            say("growing to 10,000 communities and 1,000,000 issued-token records")
            seed(community_id, communities=10_000 - 10, tokens=1_000_000 - 1_000, start=10)
            twin, authenticated = endpoints["(c) bench twin, no auth"], endpoints["(b) get-bflus, authenticated"]
            large = []
            for _ in range(args.rounds):
                large.append((wrk(authenticated["url"], seconds=seconds, connections=args.connections,
                                  headers=authenticated["headers"]),
                              wrk(twin["url"], seconds=seconds, connections=args.connections)))
            small = [(results_b, results_c) for results_b, results_c in zip(
                [r for _run, name, r in rows if name.startswith("(b)")],
                [r for _run, name, r in rows if name.startswith("(c)")])]
            growth = {size: (statistics.median(b["p50_ms"] for b, _c in runs),
                             statistics.median(b["rps"] / c["rps"] for b, c in runs))
                      for size, runs in (("small", small), ("large", large))}
    finally:
        server.stop()

    print(f"\nBenchmark {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"gunicorn {args.workers} workers, wrk {args.connections} connections, {seconds}s per run\n")
    print(table(rows))
    print("\n| round | (a)/(c) token issue | (b)/(c) authenticated get-bflus |\n|---|---:|---:|")
    for run, (token_ratio, auth_ratio) in enumerate(ratios, 1):
        print(f"| {run} | {token_ratio:.2f} | {auth_ratio:.2f} |")
    if len(ratios) > 1:
        spread = [max(values) - min(values) for values in zip(*ratios)]
        print(f"| spread | ±{spread[0] / 2:.2f} | ±{spread[1] / 2:.2f} |")
    print(f"\nWorker resident memory after the runs: {', '.join(f'{size:.0f} MiB' for size in memory)}")
    if growth:
        (small_p50, small_ratio), (large_p50, large_ratio) = growth["small"], growth["large"]
        print(f"\n| data | get-bflus p50 ms | (b)/(c) |\n|---|---:|---:|\n"
              f"| 10 communities, 1,000 token records | {small_p50:.2f} | {small_ratio:.2f} |\n"
              f"| 10,000 communities, 1,000,000 token records | {large_p50:.2f} | {large_ratio:.2f} |\n"
              f"\np50 change with 1,000× the records: {(large_p50 / small_p50 - 1) * 100:+.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
