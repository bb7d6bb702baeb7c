"""Prometheus metrics: the right counts for every decision, summed over gunicorn workers, never public.

In-process first (the values each request adds), then two real gunicorn workers in multiprocess mode,
scraped on their own listener, with a worker killed on the way.
"""

import glob
import itertools
import os
import re
import shutil
import signal
import tempfile
import urllib.request

import pytest
from django.conf import settings
from django.test import override_settings
from prometheus_client import REGISTRY

from tests.conftest import issue_token, make_community, request_token
from tests.stack import Gunicorn, free_port, http, wait_for


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values before and after a block: other tests' counts never matter."""

    def __init__(self, *samples: tuple) -> None:
        self.samples = samples

    def __enter__(self):
        self.before = [value(name, **labels) for name, labels in self.samples]
        return self

    def __exit__(self, *exc) -> None:
        self.after = [value(name, **labels) for name, labels in self.samples]

    @property
    def changes(self) -> list[float]:
        return [after - before for before, after in zip(self.before, self.after)]


def _rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


@pytest.mark.django_db
def test_each_decision_is_counted_once(api, acme):
    route = "communities/<str:community>/client/<str:client>/get-bflus"
    with Delta(
        ("bfluence_tokens_issued_total", {}),
        ("bfluence_client_auth_failures_total", {"reason": "malformed_secret"}),
        ("bfluence_bearer_decisions_total", {"outcome": "accepted", "reason": ""}),
        ("bfluence_bearer_decisions_total", {"outcome": "denied", "reason": "invalid_token"}),
        ("bfluence_request_duration_seconds_count", {"route": route, "method": "GET", "status": "2xx"}),
        ("bfluence_request_duration_seconds_count", {"route": route, "method": "GET", "status": "4xx"}),
        ("bfluence_request_duration_seconds_count", {"route": "unmatched", "method": "GET", "status": "4xx"}),
    ) as delta:
        token = issue_token(api, acme)
        wrong = request_token(api, acme, client_secret=acme.client_secret[:-4] + "AAAA")
        ok = api.get("/communities/hub/client/123/get-bflus", HTTP_AUTHORIZATION=f"Bearer {token}")
        forged = api.get("/communities/hub/client/123/get-bflus", HTTP_AUTHORIZATION="Bearer not.a.jwt")
        api.get("/no/such/path/for/a/label")
    assert (wrong.status_code, ok.status_code, forged.status_code) == (401, 200, 401)
    assert delta.changes == [1, 1, 1, 1, 1, 1, 1], delta.changes


@pytest.mark.django_db
def test_reasons_and_scopes_are_fixed_labels_never_caller_input(api, acme):
    with (
        _rates(token_client="2/min"),
        Delta(("bfluence_throttled_requests_total", {"scope": "token_client"})) as delta,
    ):
        statuses = [request_token(api, acme).status_code for _ in range(3)]
    assert statuses == [200, 200, 429] and delta.changes == [1]
    request_token(api, acme, client_id="attacker-chosen-label\nx", client_secret="bfl_sk_nope")
    api.get("/attacker/chosen/path/9f1c")
    exposed = "\n".join(
        f"{sample.name}{sample.labels}"
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name.startswith("bfluence_")
    )
    assert "attacker" not in exposed and "9f1c" not in exposed and "acme" not in exposed


@pytest.mark.django_db
def test_probes_are_timed_under_their_own_route(api):
    probe = {"route": "healthz", "method": "HEAD", "status": "2xx"}
    with Delta(("bfluence_request_duration_seconds_count", probe)) as delta:
        assert api.head("/healthz", HTTP_HOST="10.0.0.9").status_code == 200
    assert delta.changes == [1]


# --- across gunicorn workers ----------------------------------------------------------------------

_ids = (f"metrics{n}" for n in itertools.count())


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def _sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _workers_live(port: int) -> float:
    return _sample(_scrape(port), "bfluence_workers")


@pytest.mark.multiprocess
@pytest.mark.django_db(transaction=True)
def test_counts_are_summed_over_workers_and_survive_a_killed_worker():
    from tests.test_multiprocess import _database_url

    created = make_community(next(_ids), members={"123": 5})
    metrics_port, metrics_dir = free_port(), tempfile.mkdtemp(prefix="bfluence-test-metrics-")
    env = {
        "DATABASE_URL": _database_url(),
        "METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "THROTTLE_TOKEN_CLIENT": "1000/min",
    }
    if os.environ.get("CACHE_URL", "").startswith("redis://"):
        env["CACHE_URL"] = os.environ["CACHE_URL"]
    server = Gunicorn(workers=2, **env)
    try:
        wait_for(lambda: _scrape(metrics_port) is not None, seconds=15, what="metrics listener")
        credentials = {"client_id": created.community.client_id, "client_secret": created.client_secret}
        tokens = []
        # A new connection per call: go on until both workers have counted something.
        while len(tokens) < 12 or (len(glob.glob(f"{metrics_dir}/counter_*.db")) < 2 and len(tokens) < 200):
            status, body = http("POST", f"{server.url}/auth/token", credentials)
            assert status == 200, body
            tokens.append(body["access_token"])
        assert len(glob.glob(f"{metrics_dir}/counter_*.db")) == 2  # one file per worker: values to sum
        for token in tokens:
            assert http("GET", f"{server.url}/communities/hub/client/123/get-bflus", token=token)[0] == 200
        workers = set(server.worker_pids())
        # Each worker marks itself live once it has started (post_worker_init): on a loaded machine
        # that can come a moment after the master lists it.
        wait_for(lambda: _workers_live(metrics_port) == 2, seconds=20, what="both workers' live values")
        before_kill = _scrape(metrics_port)
        os.kill(sorted(workers)[0], signal.SIGKILL)
        wait_for(lambda: len(set(server.worker_pids()) - workers) == 1, seconds=20, what="a new worker")
        [new_worker] = set(server.worker_pids()) - workers
        wait_for(
            lambda: glob.glob(f"{metrics_dir}/gauge_livesum_{new_worker}.db"),
            seconds=30,
            what="the new worker's live values",
        )
        # The dead worker's live value dropped (child_exit), the new one's counted: 2, never 3.
        wait_for(lambda: _workers_live(metrics_port) == 2, seconds=20, what="2 live workers after the kill")
        after_kill = _scrape(metrics_port)
        public = http("GET", f"{server.url}/metrics")
        elsewhere = [
            http("GET", f"http://127.0.0.1:{metrics_port}{path}")[0]
            for path in ("/", "/metrics/", "/metricsx", "/favicon.ico", "/healthz")
        ]
    finally:
        server.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    issued = len(tokens)
    assert _sample(before_kill, "bfluence_tokens_issued_total") == issued
    assert _sample(before_kill, "bfluence_bearer_decisions_total", '{outcome="accepted",reason=""}') == issued
    # Counts of the killed worker are kept: counters never go backwards for Prometheus.
    assert _sample(after_kill, "bfluence_tokens_issued_total") == issued
    route = "communities/<str:community>/client/<str:client>/get-bflus"
    assert (
        _sample(
            after_kill,
            "bfluence_request_duration_seconds_count",
            f'{{method="GET",route="{route}",status="2xx"}}',
        )
        == issued
    )
    assert public[0] == 404 and public[1]["error"] == "not_found"  # the public app has no /metrics
    assert elsewhere == [404] * 5  # the listener answers /metrics only
    # Live values: 2 workers before the kill and after it (child_exit dropped the dead one's).
    assert _sample(before_kill, "bfluence_workers") == 2
    assert _sample(after_kill, "bfluence_workers") == 2
