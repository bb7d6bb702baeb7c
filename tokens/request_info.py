"""Facts about the caller taken from the request: its IP, as far as configured proxies are trusted."""

import ipaddress

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The source IP, honouring ``TRUSTED_PROXIES`` exactly as the throttles do (DRF ``NUM_PROXIES``).

    With no trusted proxy, ``X-Forwarded-For`` is ignored, so it cannot be spoofed. Anything that is
    not an IP address yields ``None`` rather than a poisoned record.
    """
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except (TypeError, ValueError):
        return None
