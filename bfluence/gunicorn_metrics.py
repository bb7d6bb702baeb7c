"""gunicorn's side of the Prometheus metrics (used by gunicorn.conf.py; never imports Django).

Each worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``; the master sums every worker's
files, dead workers' included, and serves them on ``METRICS_BIND``: a listener of its own, loopback by
default, which the public site (nginx, the app's URLs) never routes to.
"""

import glob
import os
import shutil
import socket
import tempfile
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

_created: list[str] = []
_prepared: list[bool] = []
_workers_gauge: list = []


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


def only_metrics(app):
    """The WSGI app answering ``/metrics`` and nothing else (404): a scraper with a wrong path learns it
    at once instead of storing a page of metrics under another name."""

    def answer(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not found: the metrics are at /metrics\n"]
        return app(environ, start_response)

    return answer


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        pass  # every scrape would be a line on gunicorn's stderr


def serve(server, bind: str) -> None:
    """In the master, once it is ready: the summed metrics on their own listener."""
    from prometheus_client import CollectorRegistry, make_wsgi_app
    from prometheus_client.exposition import ThreadingWSGIServer
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        httpd = make_server(
            host, int(port), only_metrics(make_wsgi_app(registry)), Server, handler_class=_QuietHandler
        )
    except (OSError, ValueError) as error:  # metrics are not worth an outage
        server.log.error("metrics listener on %s not started: %s", bind, error)
        return
    threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True).start()
    server.log.info("metrics on http://%s/metrics", bind)


def worker_started() -> None:
    """In each worker: ``bfluence_workers`` (a live sum) counts it until it exits."""
    from prometheus_client import Gauge

    if not _workers_gauge:
        _workers_gauge.append(
            Gauge("bfluence_workers", "gunicorn workers running.", multiprocess_mode="livesum")
        )
    _workers_gauge[0].set(1)


def worker_gone(pid: int) -> None:
    """gunicorn's child_exit, in the master: a dead worker's live values (its bfluence_workers) are
    dropped. Its counters stay: Prometheus counters never go backwards."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def cleanup() -> None:
    for directory in _created:
        shutil.rmtree(directory, ignore_errors=True)
