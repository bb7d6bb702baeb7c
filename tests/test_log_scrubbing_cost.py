"""Bounded work per request for whatever an outsider sends into a log line (SECURITY.md, log scrubbing).

A 7,900-character path or an 8 KB User-Agent used to cost a worker a quarter of a second of CPU: a
scrub pattern backtracked on long runs without a dot, and every field was scrubbed whole. Now every
field is cut to a few hundred characters (marked as cut) before it is scrubbed, and every pattern runs
in linear time. Measured as CPU time (``time.process_time``, or the worker's own from /proc), against a
normal request, on the real log formatters and on a real gunicorn's access-log path.
"""

import io
import logging
import os
import socket
import tempfile
import time

import pytest

from bfluence.log_filters import RedactCredentials
from bfluence.log_format import JsonLogFormatter, TextLogFormatter
from bfluence.scrub import FIELD_LIMIT, scrub, scrub_bounded, truncate
from tests.stack import Gunicorn

PATH_CAP, HEADER_CAP = 7900, 8000  # gunicorn.conf.py: limit_request_line / limit_request_field_size


def hostile_values(length: int) -> list[str]:
    """Long runs and near-misses of every scrub pattern: what made the old patterns backtrack."""
    return [
        "B" * length,  # a long run without a dot (JWS-shaped pattern)
        ("A" * 20 + ".") * (length // 21),  # dots, but never three long segments
        "x" * 20 + "." + "y" * (length - 21),  # one dot, then a long run
        "eyJ" + "a" * (length - 3),  # a "token" start that never ends
        "bfl_sk_" * (length // 7),  # the secret prefix, over and over
        "basic" + " " * (length - 5),  # "basic" and spaces, no credential
        "token=" * (length // 6),  # a query key with no value, over and over
        ("a" * 48 + "-") * (length // 49),  # one short of a secret's body, over and over
        "9" * length,  # digits only
    ]


def cpu_seconds(action, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        action()
    return (time.process_time() - start) / repeat


def test_every_pattern_is_linear_on_the_worst_inputs_found():
    for value in hostile_values(HEADER_CAP):
        short, long = value[: HEADER_CAP // 8], value
        # 8 times the input may cost at most ~8 times (plus slack for timer noise), never 64.
        long_cost = cpu_seconds(lambda text=long: scrub(text), 5)
        short_cost = cpu_seconds(lambda text=short: scrub(text), 5)
        assert long_cost < 12 * short_cost + 0.002, value[:20]


def test_a_long_value_is_cut_and_marked_before_it_is_scrubbed():
    secret = "bfl_sk_" + "Qx7AbCdEf" * 6
    cut = scrub_bounded("path " * 100 + secret)
    assert len(cut) <= FIELD_LIMIT
    assert cut.endswith("…[cut: 561 chars]")
    # A cut that would fall inside a credential takes the whole word with it: no half-secret survives.
    sliced = truncate("a " * 180 + secret + " tail " * 50)
    assert "Qx7" not in sliced and "bfl_sk_" not in sliced
    assert truncate(sliced) == sliced  # already cut: left alone


def _record(message: str, **fields) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(fields)
    return record


def _request_lines(path: str, user_agent: str, client_id: str) -> list[logging.LogRecord]:
    """What one request writes: Django's "Not Found" line, an auth decision, the access record."""
    return [
        _record("Not Found: %s" % path),
        _record("auth decision", outcome="denied", reason="invalid_client", client_id=client_id, ip="::1"),
        _record(
            "request",
            remote_addr="127.0.0.1",
            method="GET",
            path=path,
            protocol="HTTP/1.1",
            status=404,
            bytes=120,
            duration_ms=3,
            user_agent=user_agent,
        ),
    ]


@pytest.mark.parametrize("formatter_class", [JsonLogFormatter, TextLogFormatter])
def test_a_request_at_every_cap_costs_the_log_formatter_about_what_a_normal_one_does(formatter_class):
    formatter, redaction = formatter_class(), RedactCredentials()

    def write(records):
        def action():
            for record in records:
                redaction.filter(record)
                formatter.format(record)

        return action

    normal = cpu_seconds(write(_request_lines("/communities/hub/client/1/get-bflus", "curl/8.5", "acme")), 50)
    for value in hostile_values(HEADER_CAP):
        worst = cpu_seconds(write(_request_lines("/" + value[:PATH_CAP], value, value[:100])), 5)
        assert worst < 10 * normal + 0.002, (value[:20], worst, normal)


def _worker_cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _get(port: int, path: str, user_agent: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_gunicorns_access_log_path_costs_a_worker_about_what_a_normal_request_does():
    """A real gunicorn as deployed (JSON logs, access log on): requests at every cap cost its worker
    CPU comparable to normal ones. On the old scrubber each cost ~100–250 ms."""
    with tempfile.TemporaryDirectory(prefix="bfluence-scrub-cost-") as folder:
        server = Gunicorn(
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", GUNICORN_ACCESS_LOG="-", LOG_FORMAT="json"
        )
        try:
            (worker,) = server.worker_pids()

            def cpu_per_request(requests: list[tuple[str, str]]) -> float:
                before = _worker_cpu_seconds(worker)
                for path, agent in requests:
                    assert b" 404 " in _get(server.port, path, agent)[:20]
                return (_worker_cpu_seconds(worker) - before) / len(requests)

            normal_requests = [("/not-here", "curl/8.5.0")] * 30
            cpu_per_request(normal_requests)  # warm up: imports, URL resolver, first log lines
            normal = cpu_per_request(normal_requests)
            hostile = hostile_values(HEADER_CAP)
            worst = cpu_per_request(
                [
                    ("/" + value.replace(" ", "%20")[: PATH_CAP - 1], hostile[-1 - i])
                    for i, value in enumerate(hostile)
                ]
                * 3
            )
        finally:
            server.stop()
    # Per request: a few ms at most beyond a normal request, never the old hundreds.
    assert worst < 4 * normal + 0.015, (worst, normal)


def test_json_lines_stay_short_whatever_was_sent():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RedactCredentials())
    log = logging.getLogger("tests.log_cost")
    log.addHandler(handler)
    try:
        log.warning("Not Found: %s", "/" + "B" * PATH_CAP, extra={"user_agent": "U" * HEADER_CAP})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert len(line) < 2000
    assert "[cut: 7912 chars]" in line and "[cut: 8000 chars]" in line
