"""gunicorn settings for production (``gunicorn -c gunicorn.conf.py bfluence.wsgi``).

Every value can be overridden by the environment, so one file serves every host.
"""

import multiprocessing
import os
import shutil
import tempfile

from bfluence import gunicorn_metrics
from bfluence.source_ip import UNIX_SOCKET, parse_trusted_proxies

# Loopback only: nginx in front buffers slow clients, which sync workers must never wait for
# (deploy/nginx/bfluence.conf). Never expose gunicorn itself. Under systemd the socket is bfluence.socket's,
# passed in through LISTEN_FDS (gunicorn then binds nothing itself), so a restart never closes it.
# Nothing is preloaded (no preload_app): on HUP (`systemctl reload`) new workers import the app afresh,
# and with it every *_FILE secret (bfluence/settings.py).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# A Unix socket's peer has no address: every partner would share one source IP, so one partner's
# failures would rate-limit them all and an IP allowlist would refuse everyone. Such a bind is used only
# when TRUSTED_PROXIES declares that peer ("unix"): its X-Forwarded-For then names the source, as for a
# TCP proxy. Checked here for GUNICORN_BIND, and in when_ready for every listener (--bind, systemd).
UNIX_SOCKET_REFUSED = (
    "Bfluence cannot start: gunicorn listens on a Unix socket, whose peer has no address, so every "
    "partner would share one source IP. Put the proxy that owns the socket in TRUSTED_PROXIES (add "
    "'unix', e.g. TRUSTED_PROXIES=unix) so its X-Forwarded-For names the source, or bind to a TCP address."
)


def _unix_socket_peer_trusted() -> bool:
    try:
        return UNIX_SOCKET in parse_trusted_proxies(os.environ.get("TRUSTED_PROXIES", "").split(","))
    except ValueError:
        return False  # the app refuses to start with its own message


if bind.startswith("unix:") and not _unix_socket_peer_trusted():
    raise SystemExit(UNIX_SOCKET_REFUSED)
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Recycle workers now and then, staggered, so no slow leak ever matters.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 10000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 1000))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Headers and request lines bounded well below gunicorn's defaults: a JWT is far smaller.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 50

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn's error and access logs in the app's format (LOG_FORMAT: json, the default, or text) and through
# its credential redaction: the error log quotes whole request lines and URIs, query strings included.
# Access records carry the path *without* the query string (see bfluence/gunicorn_logging.py).
_text_logs = os.environ.get("LOG_FORMAT", "json").lower() == "text"
logger_class = f"bfluence.gunicorn_logging.{'TextGunicornLogger' if _text_logs else 'JsonGunicornLogger'}"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket (gunicornc) is not used here; it would be created in $HOME, which the
# systemd unit keeps read-only (deploy/systemd/bfluence.service).
control_socket_disable = True

# Staff sign-in: at most STAFF_SIGNIN_CONCURRENT_HASHES password hashes at once across this server's
# workers (console/signin.py), by lock files in a directory of this run's own.
_signin_slots = (
    "" if os.environ.get("STAFF_SIGNIN_SLOTS_DIR") else tempfile.mkdtemp(prefix="bfluence-signin-")
)
if _signin_slots:
    os.environ["STAFF_SIGNIN_SLOTS_DIR"] = _signin_slots

# Prometheus metrics of all workers together (bfluence/metrics.py), on a listener of their own that the
# public site never routes to: METRICS_BIND (host:port, loopback by default; empty: no listener).
metrics_bind = os.environ.get("METRICS_BIND", "127.0.0.1:9808")
_metrics_off = os.environ.get("METRICS_ENABLED", "true").lower() in {"0", "false", "no", "off"}
_metrics = bool(metrics_bind) and not _metrics_off


def when_ready(server):
    # Every listener, however it came (--bind, GUNICORN_BIND, sockets systemd passed in LISTEN_FDS).
    from gunicorn.sock import UnixSocket

    if (
        any(isinstance(listener, UnixSocket) for listener in server.LISTENERS)
        and not _unix_socket_peer_trusted()
    ):
        server.log.error(UNIX_SOCKET_REFUSED)
        raise RuntimeError(UNIX_SOCKET_REFUSED)  # gunicorn prints it and exits with status 1
    if _metrics:
        gunicorn_metrics.serve(server, metrics_bind)


if _metrics:
    gunicorn_metrics.prepare()  # PROMETHEUS_MULTIPROC_DIR, before any worker imports prometheus_client

    def post_worker_init(worker):
        gunicorn_metrics.worker_started()

    def child_exit(server, worker):  # prometheus_client's mark_process_dead
        gunicorn_metrics.worker_gone(worker.pid)


def on_exit(server):
    if _signin_slots:
        shutil.rmtree(_signin_slots, ignore_errors=True)
    if _metrics:
        gunicorn_metrics.cleanup()
