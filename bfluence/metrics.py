"""Prometheus metrics: what operators watch, counted the same whatever process served the request.

Under gunicorn every worker writes its values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode; gunicorn.conf.py sets the directory up), and the gunicorn master
serves the sum of all workers, dead ones included, on its own loopback listener (``METRICS_BIND``),
never through the public app. Without that directory (tests, the dev server) values live in the
process, and nothing serves them.

Labels come only from fixed sets (route patterns, reason codes, throttle scopes): never from a client_id,
a path or anything else a caller chooses, so a caller cannot grow the number of series.
"""

import functools
import time

from django.conf import settings
from prometheus_client import Counter, Histogram

TOKENS_ISSUED = Counter("bfluence_tokens_issued", "Access tokens issued.")
CLIENT_AUTH_FAILURES = Counter(
    "bfluence_client_auth_failures", "Failed client authentications, by reason.", ["reason"]
)
UNAUDITED_FAILURES = Counter(
    "bfluence_client_auth_failures_unaudited",
    "Failed client authentications past a per-client_id audit allowance (AUDIT_FAILURES_PER_CLIENT, "
    "AUDIT_CREDENTIAL_REFUSALS_PER_CLIENT): "
    "counted here instead of in the audit trail.",
)
BEARER_DECISIONS = Counter(
    "bfluence_bearer_decisions", "Bearer-token decisions on private endpoints.", ["outcome", "reason"]
)
THROTTLED = Counter("bfluence_throttled_requests", "Requests refused by a rate limit, by scope.", ["scope"])
BACKEND_ERRORS = Counter(
    "bfluence_backend_errors", "Database or cache failures met while serving.", ["backend"]
)
REQUEST_LATENCY = Histogram(
    "bfluence_request_duration_seconds",
    "Time from the first middleware to the response, by route.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def enabled() -> bool:
    return settings.METRICS_ENABLED


# The labelled children, looked up once per label set (the label sets are few and fixed): prometheus_client's
# own labels() validates and locks on every call, a measurable share of a request.
@functools.lru_cache(maxsize=1024)
def _latency(route: str, method: str, status: str):
    return REQUEST_LATENCY.labels(route, method, status)


@functools.lru_cache(maxsize=256)
def _bearer(outcome: str, reason: str):
    return BEARER_DECISIONS.labels(outcome, reason)


def auth_decision(*, kind: str, outcome: str, reason: str) -> None:
    """``kind``: "client" (client authentication at the token endpoints) or "bearer"."""
    if not enabled():
        return
    if kind == "bearer":
        _bearer(outcome, reason or "").inc()
    elif outcome == "issued":
        TOKENS_ISSUED.inc()
    elif outcome == "denied":
        CLIENT_AUTH_FAILURES.labels(reason or "unknown").inc()


def throttled(scope: str) -> None:
    if enabled():
        THROTTLED.labels(scope).inc()


def unaudited_failure() -> None:
    if enabled():
        UNAUDITED_FAILURES.inc()


def backend_error(backend: str) -> None:
    if enabled():
        BACKEND_ERRORS.labels(backend).inc()


class RequestMetricsMiddleware:
    """Latency of every request, labelled by its route pattern (``communities/<str:community>/…``)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            route = match.route
        elif request.path_info in ("/healthz", "/readyz"):
            route = request.path_info.lstrip("/")  # answered before URL resolution (bfluence.probes)
        else:
            route = "unmatched"
        method = request.method if request.method in _METHODS else "other"
        _latency(route, method, f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response
