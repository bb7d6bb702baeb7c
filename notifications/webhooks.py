"""Webhook targets and the one HTTP POST that delivers to them.

Staff must not be able to aim the server at its own network: a webhook is HTTPS to a public address.
The rule is checked when the URL is set and again at every delivery (DNS can change), and the connection
goes to the very address that was checked (no second lookup an attacker's DNS could answer differently).
Hosts in ``WEBHOOK_INSECURE_HOSTS`` are exempt (plain HTTP, any address): local receivers and tests.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Cloud metadata services answer on link-local addresses (already refused) and on a few others.
_METADATA = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP address the connection goes to


def _insecure_allowed(host: str) -> bool:
    return host.lower() in {name.lower() for name in settings.WEBHOOK_INSECURE_HOSTS}


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in _METADATA


def webhook_target(url: str) -> Target:
    """The URL checked against the rule, its host resolved once; ValidationError says why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValidationError(_("The webhook URL is not a valid URL.")) from error
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise ValidationError(_("The webhook URL must name a host, without user or password."))
    insecure = _insecure_allowed(host)
    if parts.scheme != "https" and not (insecure and parts.scheme == "http"):
        raise ValidationError(_("The webhook URL must use HTTPS."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ValidationError(_("The webhook host does not resolve.")) from error
    addresses = [str(info[4][0]) for info in infos]
    if not insecure and not all(_is_public(address) for address in addresses):
        raise ValidationError(
            _("The webhook URL must point to a public address (not loopback, private or link-local).")
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address, while TLS still verifies the certificate for the URL's host."""

    def __init__(self, target: Target, *, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, *, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def _tls_context() -> ssl.SSLContext:
    bundle = settings.WEBHOOK_CA_BUNDLE or None
    return ssl.create_default_context(cafile=bundle)


def webhook_post(url: str, *, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body``; the response status. Raises ValidationError (target refused) or OSError."""
    target = webhook_target(url)
    timeout = settings.WEBHOOK_TIMEOUT
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout=timeout, context=_tls_context())
    else:
        connection = _PinnedHTTPConnection(target, timeout=timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "Bfluence-Webhooks/1", **headers},
        )
        response = connection.getresponse()
        response.read(64 * 1024)  # the receiver's answer is not ours to keep
        return response.status
    except http.client.HTTPException as error:
        raise OSError(str(error)) from error
    finally:
        connection.close()
