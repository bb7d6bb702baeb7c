"""Facts about the caller taken from the request: its IP, as far as our own proxies are trusted."""

from bfluence.conf import app_settings
from bfluence.source_ip import source_ip


def client_ip(request) -> str | None:
    """The source IP (``TRUSTED_PROXIES``, SPEC §6): what audit rows, logs and rate limits all record.

    ``X-Forwarded-For`` counts only when the direct peer is one of our proxies, so nobody who reaches the
    app port directly can dodge a per-IP limit or put an invented address into the audit trail.
    """
    return source_ip(request.META, app_settings().trusted_proxies)
