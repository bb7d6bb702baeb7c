"""Who is calling: the source IP, believing ``X-Forwarded-For`` only from our own proxies (SPEC §6).

``TRUSTED_PROXIES`` lists the addresses / CIDR ranges of the reverse proxies in front of the app. The
header is read only when the direct peer is one of them, right to left (each proxy appends the address it
received the request from), skipping trusted entries; the first untrusted entry is the source. Whatever
a caller writes into the header itself sits to the left of that and is never reached. With the default
(empty) the header is ignored: behind a load balancer every partner then shares the balancer's address.

Per-source limits count by ``limit_bucket``: an IPv4 address alone, an IPv6 address by its network
(``THROTTLE_IPV6_PREFIX``, /64 by default) — one subscriber usually holds a whole /64, so counting its
addresses one by one would give an attacker 2^64 fresh buckets.
"""

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
# The TRUSTED_PROXIES entry that trusts the peer of a Unix-socket bind (gunicorn's ``unix:…``): that
# peer has no address (``REMOTE_ADDR`` empty), and it can only be the local proxy that owns the socket.
UNIX_SOCKET = "unix"
Proxy = Network | str  # a network, or UNIX_SOCKET


def parse_trusted_proxies(entries: list[str]) -> tuple[Proxy, ...]:
    """The setting's entries as networks (``unix``: the peer of a Unix-socket bind); ``ValueError``
    naming the first entry that is neither.

    A bare number is refused rather than read as an address: the old form of the setting was a count of
    proxies, and "1" would otherwise mean 0.0.0.1 — an upgrade must not silently trust the wrong peer.
    """
    networks: list[Proxy] = []
    for entry in (entry.strip() for entry in entries):
        if not entry:
            continue
        if entry.lower() == UNIX_SOCKET:
            networks.append(UNIX_SOCKET)
            continue
        if entry.isdigit():
            raise ValueError(
                f"a list of proxy addresses or CIDR ranges, not a count (got {entry!r}); "
                "leave it empty when no proxy sits in front of the app"
            )
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(
                f"{entry!r} is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/8), nor 'unix'"
            ) from error
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as proxies write it: bare, ``[v6]:port`` or ``v4:port``; IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def limit_bucket(address: str | None, ipv6_prefix: int) -> str | None:
    """The address a per-source limit counts ``address`` under: IPv4 (and IPv4-mapped IPv6) as it is,
    IPv6 as the first address of its ``/ipv6_prefix`` network, so that neighbours share one count. An
    address itself, so it fits wherever an IP is stored (django-axes keeps it in an IP column)."""
    hop = _address(address or "")
    if hop is None:
        return None
    if isinstance(hop, IPv6Address):
        return str(IPv6Network((hop, ipv6_prefix), strict=False).network_address)
    return str(hop)


def _trusted(address: Address, proxies: tuple[Proxy, ...]) -> bool:
    return any(network != UNIX_SOCKET and address in network for network in proxies)


def _unix_socket_peer(meta: dict, proxies: tuple[Proxy, ...]) -> bool:
    """The peer of a Unix-socket bind (no address at all), declared a proxy of ours."""
    return not meta.get("REMOTE_ADDR") and UNIX_SOCKET in proxies


def peer_is_trusted(meta: dict, proxies: tuple[Proxy, ...]) -> bool:
    hop = _address(meta.get("REMOTE_ADDR") or "")
    return _unix_socket_peer(meta, proxies) if hop is None else _trusted(hop, proxies)


def source_ip(meta: dict, proxies: tuple[Proxy, ...]) -> str | None:
    """The source IP of a request given its WSGI ``META``; ``None`` only when the peer itself has none
    (and, on a trusted Unix socket, the proxy named no readable source)."""
    hop = _address(meta.get("REMOTE_ADDR") or "")
    if hop is None and not _unix_socket_peer(meta, proxies):
        return None
    if hop is not None and not _trusted(hop, proxies):
        return str(hop)
    # A header sent on several lines reaches us joined with commas: one list either way.
    for entry in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(entry)
        if address is None:
            break  # unreadable: charge the request to the trusted hop that handed it over
        hop = address
        if not _trusted(hop, proxies):
            break
    return None if hop is None else str(hop)


def request_source_ip(request) -> str | None:
    """A request's source IP under ``TRUSTED_PROXIES``: what audit rows and logs record."""
    from bfluence.conf import app_settings  # settings.py imports this module while it loads

    return source_ip(request.META, app_settings().trusted_proxies)


def source_limit_bucket(source: str | None) -> str | None:
    """``limit_bucket`` under the ``THROTTLE_IPV6_PREFIX`` setting: what every per-source-IP limit counts
    by (client authentication, the staff sign-in lockout)."""
    from bfluence.conf import app_settings  # settings.py imports this module while it loads

    return limit_bucket(source, app_settings().throttle_ipv6_prefix)


def request_limit_bucket(request) -> str | None:
    """A request's ``source_limit_bucket``."""
    return source_limit_bucket(request_source_ip(request))


class ForwardedProtoFromTrustedProxiesOnly:
    """``X-Forwarded-Proto`` is believed only from a trusted proxy (SPEC §6), like ``X-Forwarded-For``.

    Django's ``SECURE_PROXY_SSL_HEADER`` trusts the header from any peer; this middleware, installed
    just before ``SecurityMiddleware`` when that setting is on, drops it from anyone else, so a caller
    reaching the app port directly over plain HTTP is redirected to HTTPS rather than taken as secure.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from bfluence.conf import app_settings  # settings.py imports this module while it loads

        meta = request.META
        if "HTTP_X_FORWARDED_PROTO" in meta and not peer_is_trusted(meta, app_settings().trusted_proxies):
            del meta["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)
