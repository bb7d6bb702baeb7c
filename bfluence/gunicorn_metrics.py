"""gunicorn's side of the Prometheus metrics (used by gunicorn.conf.py; never imports Django).

Each worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``; the master sums every worker's
files, dead workers' included, and serves them on ``METRICS_BIND``: a listener of its own, loopback by
default, which the public site (nginx, the app's URLs) never routes to.
"""

import glob
import os
import shutil
import tempfile

_created: list[str] = []
_prepared: list[bool] = []


def prepare() -> None:
    """Before any worker starts: a directory for this run's values, emptied of a previous run's.

    Once per master: gunicorn reads its config again on HUP (``systemctl reload``), and the counters of
    the running service must survive that."""
    if _prepared:
        return
    _prepared.append(True)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="bfluence-metrics-")
        _created.append(directory)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        return
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def serve(server, bind: str) -> None:
    """In the master, once it is ready: the summed metrics on their own listener."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    host, _, port = bind.rpartition(":")
    try:
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry)
    except (OSError, ValueError) as error:  # metrics are not worth an outage
        server.log.error("metrics listener on %s not started: %s", bind, error)
    else:
        server.log.info("metrics on http://%s/metrics", bind)


def worker_gone(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def cleanup() -> None:
    for directory in _created:
        shutil.rmtree(directory, ignore_errors=True)
