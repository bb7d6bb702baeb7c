#!/usr/bin/env python3
"""Benchmark the production stack against a plain ceiling and print the tables.

    .venv/bin/python bench/run.py [--seconds 10] [--connections 8] [--workers 3] [--rounds 3]
                                  [--growth [--growth-tokens 1000000]]

Starts two gunicorns with the repo's gunicorn.conf.py on PostgreSQL + Redis (the machine's, at 127.0.0.1;
a fresh database ``bfluence_bench`` and Redis db 3), both pinned to core 0 and wrk to core 1 where there
are two cores:

- the project, with bench.settings (production settings plus the twin's route), and
- the plain ceiling (bench/ceiling): Django + DRF, Security and Common middleware only, no authentication.

Each round drives, one after the other and in a rotating order (interleaved, so drift on this shared
machine hits every endpoint alike):

    ceiling   GET the member read on the plain ceiling      what a plain DRF service does
    twin      GET the same read on the project's stack      the stack without authentication
    bflus     GET get-bflus with a valid token              full authentication, strict revocation
    token     POST /auth/token                              client authentication + token issue

It prints requests/s, p50 and p99 per run, the ratios bflus/ceiling, bflus/twin, token/ceiling and
token/twin per round and their medians, and p99/p50. ``--growth`` then grows the data from 1,000 issued-token
records to ``--growth-tokens`` (at most 1,000,000; 10,000 communities) and measures bflus against the
ceiling again. Only 127.0.0.1 is ever targeted; every run is bounded in time.
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import auth_methods  # noqa: E402  (private_key_jwt and DPoP, issue 15)

PYTHON = sys.executable
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Several people may bench on one machine: each run's database and Redis db can be its own.
DATABASE = os.environ.get("BENCH_DATABASE", "bfluence_bench")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "3")


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def server_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE"}}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CACHE_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        DJANGO_SETTINGS_MODULE="bench.settings",
        # Limits far above what one machine can send: the benchmark measures work, not refusals.
        THROTTLE_TOKEN_CLIENT="100000000/min",
        THROTTLE_TOKEN_IP="100000000/min",
        THROTTLE_TOKEN_FAILURES="100000000/min",
        THROTTLE_API="100000000/min",
    )
    return env


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    subprocess.run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"], check=True, capture_output=True)


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def query(sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}") as connection:
        return connection.execute(sql).fetchall()


TICKS = os.sysconf("SC_CLK_TCK")


def database_counters() -> dict[str, float]:
    """PostgreSQL's own counters for the bench database, and the CPU of its server processes."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit, tup_fetched, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = %s",
            [DATABASE],
        ).fetchone()
        pids = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DATABASE]
            )
        ]
    cpu = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[pid] = (int(stat[11]) + int(stat[12])) / TICKS
        except (FileNotFoundError, PermissionError):
            pass
    return {"commits": row[0], "rows_read": row[1], "rows_written": row[2], "cpu": cpu}


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


def postgres_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return pids


def postgres_to_core(core: int) -> Callable[[], None]:
    """Issue 14's own setup (``--pin-postgres``): every PostgreSQL process on the servers' core, so that
    the database's CPU is paid out of the same core as the app's (backends started meanwhile inherit the
    postmaster's affinity). Returns what gives every PostgreSQL process all cores back."""

    def place(cores: set[int]) -> None:
        for pid in postgres_processes():
            try:
                os.sched_setaffinity(pid, cores)
            except ProcessLookupError:  # ended meanwhile
                continue

    place({core})
    return lambda: place(set(range(os.cpu_count() or 1)))


class Server:
    def __init__(self, env: dict, workers: int, app: str = "bfluence.wsgi", probe: str = "/healthz") -> None:
        self.port = 18000 + secrets.randbelow(1000)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                *pin(0),
                PYTHON,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}{probe}", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def cpu_seconds(self) -> float:
        """CPU used by the workers so far: the live ones, plus those recycled (the master's reaped children)."""

        def times(pid, fields) -> float:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return sum(int(stat[index]) for index in fields) / TICKS

        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return times(self.process.pid, (13, 14)) + sum(times(pid, (11, 12)) for pid in children)

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


def wrk(
    url: str, *, seconds: int, connections: int, script: str | None = None, headers: dict | None = None
) -> dict:
    command = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+[a-z]+)\s*$", output, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"wrk's output without a latency distribution:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def token_script(client_id: str, secret: str) -> str:
    body = json.dumps({"client_id": client_id, "client_secret": secret}).replace('"', '\\"')
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    script.close()
    return script.name


def seed(community_id: int, *, communities: int, tokens: int, start: int = 0) -> None:
    """Bulk insert ``communities`` more communities and ``tokens`` more issued-token records by COPY:
    seconds, not hours. Every tenth token belongs to the benchmark's own community."""
    import psycopg

    now = datetime.now(UTC)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True) as connection:
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY communities_community (client_id, name, is_active, permissions, created_at, "
                "updated_at) FROM STDIN"
            ) as copy:
                for n in range(start, start + communities):
                    copy.write_row((f"bench-{n:05d}", f"Bench {n}", True, "[]", now, now))
            ids = [row[0] for row in cursor.execute("SELECT id FROM communities_community").fetchall()]
            with cursor.copy(
                "COPY tokens_issuedtoken (jti, community_id, scope, issued_at, expires_at, revoked_by, "
                "revocation_reason) FROM STDIN"
            ) as copy:
                for n in range(tokens):
                    issued = now - timedelta(seconds=n)
                    copy.write_row(
                        (
                            secrets.token_hex(16),
                            community_id if n % 10 == 0 else ids[n % len(ids)],
                            "bflus:read",
                            issued,
                            issued + timedelta(days=1),
                            "",
                            "",
                        )
                    )
        # Let PostgreSQL settle (statistics, dirty pages) so the next runs measure lookups, not the load.
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")


NAMES = {
    "ceiling": "plain ceiling (Django + DRF, no auth)",
    "twin": "bench twin (project stack, no auth)",
    "bflus": "get-bflus, authenticated",
    "token": "POST /auth/token",
}
RATIOS = (("bflus", "ceiling"), ("bflus", "twin"), ("token", "ceiling"), ("token", "twin"))


def runs_table(rows: list[tuple]) -> str:
    lines = [
        "| round | endpoint | requests/s | p50 ms | p99 ms | p99/p50 | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run, name, result in rows:
        lines.append(
            f"| {run} | {NAMES[name]} | {result['rps']:.0f} | {result['p50_ms']:.2f} | "
            f"{result['p99_ms']:.2f} | {result['p99_ms'] / result['p50_ms']:.1f} | "
            f"{result['non_2xx'] + result['socket_errors']} |"
        )
    return "\n".join(lines)


def ratios_table(rounds: list[dict]) -> str:
    header = " | ".join(f"{a} ÷ {b}" for a, b in RATIOS)
    lines = [f"| round | {header} |", "|---|" + "---:|" * len(RATIOS)]
    per_round = [[results[a]["rps"] / results[b]["rps"] for a, b in RATIOS] for results in rounds]
    for run, values in enumerate(per_round, 1):
        lines.append(f"| {run} | " + " | ".join(f"{value:.2f}" for value in values) + " |")
    columns = list(zip(*per_round))
    lines.append("| **median** | " + " | ".join(f"**{statistics.median(c):.2f}**" for c in columns) + " |")
    if len(rounds) > 1:
        lines.append("| range | " + " | ".join(f"{min(c):.2f}–{max(c):.2f}" for c in columns) + " |")
    # The same ratios from the server's CPU per request (inverse): what requests/s would show on a core of
    # its own. On a shared machine whose core 0 others also use, the steadier of the two.
    cpu = [
        statistics.median(results[b]["cost"]["app_cpu_ms"] for results in rounds)
        / statistics.median(results[a]["cost"]["app_cpu_ms"] for results in rounds)
        for a, b in RATIOS
    ]
    lines.append("| by app CPU per request | " + " | ".join(f"{value:.2f}" for value in cpu) + " |")
    return "\n".join(lines)


def tails_table(rounds: list[dict]) -> str:
    lines = ["| endpoint | median p50 ms | median p99 ms | median p99/p50 |", "|---|---:|---:|---:|"]
    for name in NAMES:
        p50 = statistics.median(results[name]["p50_ms"] for results in rounds)
        p99 = statistics.median(results[name]["p99_ms"] for results in rounds)
        tail = statistics.median(results[name]["p99_ms"] / results[name]["p50_ms"] for results in rounds)
        lines.append(f"| {NAMES[name]} | {p50:.2f} | {p99:.2f} | {tail:.1f} |")
    return "\n".join(lines)


def measure(endpoints: dict, order: list[str], *, seconds: int, connections: int, label: str) -> dict:
    results = {}
    for name in order:
        spec = endpoints[name]
        say(f"{label}: {name}")
        app_before, db_before = spec["server"].cpu_seconds(), database_counters()
        result = wrk(
            spec["url"],
            seconds=seconds,
            connections=connections,
            script=spec.get("script"),
            headers=spec.get("headers"),
        )
        time.sleep(1.2)  # PostgreSQL publishes its statistics at most once a second
        app_after, db_after = spec["server"].cpu_seconds(), database_counters()
        served = max(1, round(result["rps"] * seconds))
        result["cost"] = {
            "app_cpu_ms": (app_after - app_before) * 1000 / served,
            "db_cpu_ms": sum(cpu - db_before["cpu"].get(pid, cpu) for pid, cpu in db_after["cpu"].items())
            * 1000
            / served,
            **{
                key: (db_after[key] - db_before[key]) / served
                for key in ("commits", "rows_read", "rows_written")
            },
        }
        results[name] = result
    return results


def cost_table(rounds: list[dict]) -> str:
    lines = [
        "| endpoint | app CPU ms | PostgreSQL CPU ms | commits | rows read | rows written |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in NAMES:
        cost = {
            key: statistics.median(results[name]["cost"][key] for results in rounds)
            for key in rounds[0][name]["cost"]
        }
        lines.append(
            f"| {NAMES[name]} | {cost['app_cpu_ms']:.2f} | {cost['db_cpu_ms']:.2f} | {cost['commits']:.2f} "
            f"| {cost['rows_read']:.2f} | {cost['rows_written']:.2f} |"
        )
    return "\n".join(lines)


def bench_community(env: dict[str, str]) -> dict:
    """A fresh bench database with one community (``benchco``) whose member 123 holds 1,500 bflus;
    the ``create_community --json`` output, secret included."""
    say(f"fresh database {DATABASE}, migrations, one community with a member")
    fresh_database()
    manage(env, "migrate", "--no-input", "-v", "0")
    created = json.loads(
        manage(
            env,
            "create_community",
            "--client-id",
            "benchco",
            "--name",
            "Bench",
            "--permissions",
            "bflus:read",
            "--json",
        )
    )
    manage(env, "set_bflus", "benchco", "123", "1500")
    return created


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    # The production default for the one core the servers are pinned to (gunicorn.conf.py: 2 x cores + 1),
    # and the issue's own measurement (issue 14: 3 sync workers).
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--growth", action="store_true", help="also measure with up to --growth-tokens records"
    )
    parser.add_argument("--growth-tokens", type=int, default=1_000_000)
    parser.add_argument(
        "--pin-postgres",
        action="store_true",
        help="also pin the machine's PostgreSQL to the servers' core, as issue 14's table did",
    )
    parser.add_argument(
        "--no-methods",
        action="store_true",
        help="skip private_key_jwt and DPoP beside the secret path (bench/auth_methods.py)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    seconds = max(1, min(args.seconds, 60))
    rounds = max(1, min(args.rounds, 10))
    growth_tokens = max(2_000, min(args.growth_tokens, 1_000_000))

    env = server_env()
    created = bench_community(env)
    community_id = query("SELECT id FROM communities_community WHERE client_id = 'benchco'")[0][0]
    seed(community_id, communities=9, tokens=1_000)  # the small dataset: 10 communities, 1,000 tokens

    pinned_postgres = args.pin_postgres and bool(pin(0))
    placement = f" on core 0{' with PostgreSQL' if pinned_postgres else ''}, wrk on core 1" if pin(0) else ""
    say(f"gunicorn x2 (project, plain ceiling), {args.workers} workers each{placement}")
    member_path = f"/bench/communities/{community_id}/client/123/bflus"
    restore_postgres: Callable[[], None] = lambda: None  # noqa: E731
    project = Server(env, args.workers)
    ceiling = None
    try:
        if pinned_postgres:  # before the warm-up: the workers' backends start on core 0 from here on
            restore_postgres = postgres_to_core(0)
        ceiling = Server(env, args.workers, app="bench.ceiling.wsgi", probe=member_path)
        request = urllib.request.Request(
            f"{project.url}/auth/token",
            method="POST",
            data=json.dumps(created).encode(),
            headers={"Content-Type": "application/json"},
        )
        token = json.load(urllib.request.urlopen(request))["access_token"]
        endpoints = {
            "ceiling": dict(url=f"{ceiling.url}{member_path}", server=ceiling),
            "twin": dict(url=f"{project.url}{member_path}", server=project),
            "bflus": dict(
                url=f"{project.url}/communities/hub/client/123/get-bflus",
                server=project,
                headers={"Authorization": f"Bearer {token}"},
            ),
            "token": dict(
                url=f"{project.url}/auth/token",
                server=project,
                script=token_script(created["client_id"], created["client_secret"]),
            ),
        }
        names = list(endpoints)
        measure(endpoints, names, seconds=2, connections=args.connections, label="warm-up")
        rows, results_per_round = [], []
        for run in range(rounds):
            order = names[run % len(names) :] + names[: run % len(names)]  # rotate who goes first
            results = measure(
                endpoints, order, seconds=seconds, connections=args.connections, label=f"round {run + 1}"
            )
            results_per_round.append(results)
            rows.extend((run + 1, name, results[name]) for name in names)
        memory = project.worker_rss_mib()
        methods = (
            None
            if args.no_methods
            else auth_methods.measure_methods(
                project=project,
                manage=manage,
                env=env,
                created=created,
                seconds=seconds,
                connections=args.connections,
                rounds=rounds,
                wrk=wrk,
                say=say,
            )
        )

        growth = None
        if args.growth:
            say(f"growing to 10,000 communities and {growth_tokens:,} issued-token records")
            seed(community_id, communities=10_000 - 10, tokens=growth_tokens - 1_000, start=10)
            large = [
                measure(
                    endpoints,
                    ["bflus", "ceiling"] if run % 2 else ["ceiling", "bflus"],
                    seconds=seconds,
                    connections=args.connections,
                    label=f"growth round {run + 1}",
                )
                for run in range(rounds)
            ]
            growth = {
                size: (
                    statistics.median(r["bflus"]["p50_ms"] for r in runs),
                    statistics.median(r["bflus"]["rps"] / r["ceiling"]["rps"] for r in runs),
                )
                for size, runs in (("small", results_per_round), ("large", large))
            }
    finally:
        project.stop()
        if ceiling:
            ceiling.stop()
        restore_postgres()

    print(
        f"\nBenchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"gunicorn {args.workers} sync workers per server{placement}, wrk {args.connections} connections, "
        f"{seconds}s per run, {rounds} interleaved rounds\n"
    )
    print(runs_table(rows))
    print("\nRatios of requests/s within each round (1.00 = as fast as the plain ceiling):\n")
    print(ratios_table(results_per_round))
    print("\nLatency (medians over the rounds; target p99 <= 2.5 x p50):\n")
    print(tails_table(results_per_round))
    print(
        "\nCost per request (medians over the rounds; CPU from /proc, rows and commits from pg_stat_database):\n"
    )
    print(cost_table(results_per_round))
    print(
        f"\nProject worker resident memory after the runs: {', '.join(f'{size:.0f} MiB' for size in memory)}"
    )
    if methods:
        print("\nClient authentication methods beside the secret path (bench/auth_methods.py):\n")
        print(auth_methods.methods_table(methods))
    if growth:
        (small_p50, small_ratio), (large_p50, large_ratio) = growth["small"], growth["large"]
        print(
            f"\n| data | get-bflus p50 ms | bflus ÷ ceiling |\n|---|---:|---:|\n"
            f"| 10 communities, 1,000 token records | {small_p50:.2f} | {small_ratio:.2f} |\n"
            f"| 10,000 communities, {growth_tokens:,} token records | {large_p50:.2f} | {large_ratio:.2f} |\n"
            f"\np50 change with {growth_tokens // 1000:,}x the records: {(large_p50 / small_p50 - 1) * 100:+.0f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
