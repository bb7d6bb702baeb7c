#!/usr/bin/env python3
"""Load without loss: drive a running server for a fixed time, then check nothing was lost or let through.

    DATABASE_URL=… SECRET_KEY=… JWT_SIGNING_KEY=… \\
    python bench/load_check.py --base-url https://api.example.com --resolve api.example.com:443:127.0.0.1 \\
        --client-id ID --client-secret S [--seconds 10] [--threads 4] [--member 123] [--cafile CERT] \\
        [--server-pid GUNICORN_MASTER_PID]

``--resolve HOST:PORT:ADDRESS`` (curl's option) connects to ADDRESS while the URL's host name is still
the ``Host`` header, the TLS server name and the name the certificate is checked against: the site's
own name, which ``ALLOWED_HOSTS`` and the certificate know, sent to this machine.

Each thread loops until the time is up (and at most --max-iterations times): get a token, call get-bflus
a few times, and every few rounds revoke the token (RFC 7009) and check the very next call is refused.
Then, through the server's own database, it checks: zero 5xx; every request reached the server (a
connection, TLS or timeout error is status 0, a violation: a check that never reached the server proves
nothing); at least one token was received; every token a client received has exactly one issued-token
record and one ``token_issued`` audit row; no revoked token ever got a 200.
Prints one JSON report; exits 1 on any violation. Only this machine is a target (127.0.0.1, ::1,
localhost, or a name ``--resolve`` sends there).

It reads every status: a 429 (the server's own rate limits, e.g. ``THROTTLE_TOKEN_CLIENT`` 60/min by
default, which the token and revoke calls both count against) is a refusal, not a violation: a token
whose revocation got 429 was not revoked, so a 200 for it afterwards is right. The thread then waits
the ``Retry-After`` (at most 1 s) instead of hammering. ``--server-pid`` (gunicorn's master) adds the
workers' resident memory at start, after warm-up (5 s) and at the end to the report.
"""

import argparse
import base64
import http.client
import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


SSL_CONTEXT = None  # --cafile: the server's (self-signed) certificate
RESOLVE: dict[tuple[str, int], str] = {}  # --resolve: (host, port) -> the address to connect to
UNREACHED: Counter = Counter()  # why requests never reached the server (status 0)


def _resolved(create_connection):
    """``socket.create_connection`` with ``--resolve`` applied: the address changes, nothing else."""

    def connect(address, *args, **kwargs):
        host, port = address
        return create_connection((RESOLVE.get((host, port), host), port), *args, **kwargs)

    return connect


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _resolved(self._create_connection)


class _HTTPSConnection(http.client.HTTPSConnection):
    """Connects where ``--resolve`` says; SNI and the certificate check keep the URL's host name."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _resolved(self._create_connection)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body else None, method=method, headers=headers
    )
    try:
        with OPENER.open(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read() or b"{}")
        except ValueError:
            body = {}
        if error.code == 429:
            body["retry_after"] = float(error.headers.get("Retry-After") or 1)
        return error.code, body
    except (OSError, http.client.HTTPException) as error:
        # Never reached the server (refused, reset, TLS, timeout): status 0, a violation (see run()).
        reason = getattr(error, "reason", error)
        UNREACHED[f"{type(reason).__name__}: {reason}"[:200]] += 1
        return 0, {}


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


class Load:
    def __init__(self, args) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.received: list[str] = []
        self.revoked: list[str] = []
        self.revocations_refused = 0
        self.violations: list[str] = []

    def note(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def worker(self, deadline: float) -> None:
        args, base = self.args, self.args.base_url
        credentials = {"client_id": args.client_id, "client_secret": args.client_secret}
        bflus_url = f"{base}/communities/hub/client/{args.member}/get-bflus"
        for iteration in range(args.max_iterations):
            if time.monotonic() >= deadline:
                return
            status, body = call("POST", f"{base}/auth/token", credentials)
            self.note(status)
            if status == 429:
                time.sleep(max(0.0, min(body.get("retry_after", 1), 1, deadline - time.monotonic())))
            if status != 200:
                continue
            token = body["access_token"]
            with self.lock:
                self.received.append(jti_of(token))
            for _ in range(3):
                self.note(call("GET", bflus_url, token=token)[0])
            if iteration % 4 == 3:
                status, _ = call("POST", f"{base}/auth/revoke", {**credentials, "token": token})
                self.note(status)
                if status != 200:  # refused (429): not revoked, so nothing to check
                    with self.lock:
                        self.revocations_refused += 1
                    continue
                after, _ = call("GET", bflus_url, token=token)
                self.note(after)
                with self.lock:
                    self.revoked.append(jti_of(token))
                    if after == 200:
                        self.violations.append(f"revoked token {jti_of(token)} got a 200")

    def run(self) -> dict:
        deadline = time.monotonic() + self.args.seconds
        started = time.monotonic()
        threads = [threading.Thread(target=self.worker, args=(deadline,)) for _ in range(self.args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        server_errors = sum(count for status, count in self.statuses.items() if status >= 500)
        if server_errors:
            self.violations.append(f"{server_errors} responses were 5xx")
        unreached = self.statuses.get(0, 0)
        if unreached:
            first = ", ".join(f"{why} ({count})" for why, count in UNREACHED.most_common(3))
            self.violations.append(f"{unreached} requests never reached the server: {first}")
        if not self.received:
            self.violations.append("no token was received: nothing was checked")
        return {
            "seconds": round(elapsed, 1),
            "requests": sum(self.statuses.values()),
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "server_errors": server_errors,
            "unreached": unreached,
            "tokens_received": len(self.received),
            "tokens_revoked": len(self.revoked),
            "revocations_refused": self.revocations_refused,
            "rate_limited": self.statuses.get(429, 0),
        }


def worker_rss_kib(master_pid: int) -> dict[str, int]:
    """Resident memory of each gunicorn worker (the master's children), in KiB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = {}
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # recycled meanwhile
        sizes[pid] = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return sizes


def verify_records(received: list[str], revoked: list[str]) -> tuple[dict, list[str]]:
    """Check the server's records through its own models (same DATABASE_URL as the server)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bfluence.settings")
    import django

    django.setup()
    from django.db.models import Count

    from audit.models import AuditEvent
    from tokens.models import IssuedToken

    violations = []
    records = dict(IssuedToken.objects.filter(pk__in=received).values_list("pk", "revoked_at"))
    audits = Counter(
        AuditEvent.objects.filter(event_type="token_issued", jti__in=received).values_list("jti", flat=True)
    )
    for jti in received:
        if jti not in records:
            violations.append(f"token {jti} was received but has no issued-token record")
        if audits[jti] != 1:
            violations.append(f"token {jti} has {audits[jti]} token_issued audit rows")
    violations += [
        f"revoked token {jti} is not marked revoked" for jti in revoked if records.get(jti) is None
    ]
    duplicated = (
        AuditEvent.objects.filter(event_type="token_issued")
        .values("jti")
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
        .count()
    )
    if duplicated:
        violations.append(f"{duplicated} jtis have more than one token_issued audit row")
    checked = {"records_checked": len(received), "audit_rows_checked": sum(audits.values())}
    return checked, violations


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--member", default="123")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-iterations", type=int, default=100_000)
    parser.add_argument("--cafile", help="certificate to trust for an https:// base URL (self-signed)")
    parser.add_argument("--server-pid", type=int, help="gunicorn master: report its workers' memory")
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDRESS",
        help="as curl's: connect to ADDRESS for HOST:PORT (Host header, TLS name and certificate stay HOST's)",
    )
    args = parser.parse_args()
    for entry in args.resolve:
        host, _, rest = entry.partition(":")
        port, _, address = rest.partition(":")
        if not (host and port.isdigit() and address):
            parser.error(f"--resolve {entry!r}: expected HOST:PORT:ADDRESS")
        RESOLVE[(host, int(port))] = address.strip("[]")
    url = urlparse(args.base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    target = RESOLVE.get((url.hostname or "", port), url.hostname or "")
    if target != "localhost" and not _is_loopback(target):
        parser.error("load is sent to this machine only (127.0.0.1): use --resolve HOST:PORT:127.0.0.1")
    args.base_url = args.base_url.rstrip("/")
    args.seconds = min(args.seconds, 300)

    if args.cafile:
        global SSL_CONTEXT
        SSL_CONTEXT = ssl.create_default_context(cafile=args.cafile)
        global OPENER
        OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler(context=SSL_CONTEXT))
    rss = {}
    if args.server_pid:
        # Start, after warm-up (first requests import and compile lazily), and end: flat from warm-up on.
        rss["start"] = worker_rss_kib(args.server_pid)
        warm = threading.Timer(
            min(5.0, args.seconds / 4),
            lambda: rss.setdefault("after_warm_up", worker_rss_kib(args.server_pid)),
        )
        warm.start()
    load = Load(args)
    report = load.run()
    if args.server_pid:
        warm.cancel()
        rss["end"] = worker_rss_kib(args.server_pid)
        report["worker_rss_kib"] = rss
    # Nothing received, nothing to look up (the run already failed): the database is not needed then.
    checked, violations = (
        verify_records(load.received, load.revoked) if load.received else ({"records_checked": 0}, [])
    )
    report.update(checked)
    report["violations"] = load.violations + violations
    print(json.dumps(report, indent=2))
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
