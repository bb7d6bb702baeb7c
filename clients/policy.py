"""A community's client-authentication policy as a value (SPEC §4.1), and IP allowlists.

A community without a policy row has the defaults (secrets only, no DPoP, from anywhere).
``ClientPolicy.of`` reads a row; ``from_columns`` reads its ``POLICY_COLUMNS`` LEFT JOINed into another
query, as the bearer check reads them with the token (NULLs: no row).
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from bfluence.sql import json_value

METHOD_CLIENT_SECRET = "client_secret"
METHOD_PRIVATE_KEY_JWT = "private_key_jwt"
METHODS = (METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT)
DPOP_MODES = ("off", "optional", "required")
MAX_ALLOWED_NETWORKS = 100

POLICY_COLUMNS = (
    "allow_client_secret",
    "allow_private_key_jwt",
    "dpop",
    "allowed_ips",
    "allowlist_applies_to_api",
)


@lru_cache(maxsize=4096)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr) for cidr in allowed)


def _comparable(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    # An IPv4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d: judge it as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_in(source_ip: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether ``source_ip`` is inside one of the ``allowed`` networks. Unknown IP: never inside."""
    if source_ip is None:
        return False
    try:
        address = _comparable(ipaddress.ip_address(source_ip))
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in _networks(allowed))


def networks_normalise(entries: list[str]) -> list[str]:
    """Staff input (``203.0.113.7``, ``10.0.0.0/8``, ``2001:db8::/32``) as canonical CIDR strings.

    A single address becomes a /32 or /128; host bits set (``10.0.0.1/8``) are refused rather than
    silently widened, so the allowlist is exactly what staff meant. Raises ``ValidationError`` with one
    message per wrong entry, all of them at once, so staff fix the list in one go.
    """
    normalised: list[str] = []
    wrong: list[str] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            network = _network_or_why_not(entry)
        except ValueError as error:
            wrong.append(str(error))
            continue
        if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
            wrong.append(_("“%(entry)s”: write IPv4-mapped ranges as plain IPv4.") % {"entry": entry[:60]})
        elif str(network) not in normalised:
            normalised.append(str(network))
    if wrong:
        raise ValidationError(wrong)
    if len(normalised) > MAX_ALLOWED_NETWORKS:
        raise ValidationError(_("At most %(count)s ranges.") % {"count": MAX_ALLOWED_NETWORKS})
    return normalised


def _network_or_why_not(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``entry`` as a network, or a ``ValueError`` naming what is wrong with it: not an address at all,
    a size after the "/" the address cannot have, or a range that does not start where it says."""
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError as error:
        refused = error
    shown = entry[:60]
    address_text = entry.partition("/")[0]
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise ValueError(
            _("“%(entry)s” is not an IP address or a CIDR range (write one like 203.0.113.7 or 10.0.0.0/8).")
            % {"entry": shown}
        ) from refused
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        # The address is fine, so the size is what ipaddress refused: too long, or no number at all.
        raise ValueError(
            _(
                "“%(entry)s”: the number after the “/” must be from 0 to %(longest)s for an "
                "IPv%(version)s address (at most %(longest)s, a single address)."
            )
            % {"entry": shown, "longest": address.max_prefixlen, "version": address.version}
        ) from refused
    # Host bits set (10.1.2.3/8): suggested, never silently widened, so the allowlist is what staff meant.
    raise ValueError(
        _(
            "“%(entry)s” is not the start of a range: a CIDR range must end in zeros. "
            "Did you mean %(network)s?"
        )
        % {"entry": shown, "network": network}
    ) from refused


@dataclass(frozen=True)
class ClientPolicy:
    allow_client_secret: bool = True
    allow_private_key_jwt: bool = False
    dpop: str = "off"
    allowed_ips: tuple[str, ...] = ()
    allowlist_applies_to_api: bool = False

    @classmethod
    def of(cls, row) -> "ClientPolicy":
        """From a ``ClientAuthPolicy`` row, or the defaults for ``None``."""
        if row is None:
            return DEFAULT_POLICY
        return cls(
            row.allow_client_secret,
            row.allow_private_key_jwt,
            row.dpop,
            tuple(row.allowed_ips),
            row.allowlist_applies_to_api,
        )

    @classmethod
    def from_columns(cls, allow_secret, allow_key_jwt, dpop, allowed_ips, applies_to_api) -> "ClientPolicy":
        if allow_secret is None:  # no policy row (LEFT JOIN): the defaults
            return DEFAULT_POLICY
        # A JSON column comes back as text through a cursor, on either database.
        networks = json_value(allowed_ips) or ()
        return cls(bool(allow_secret), bool(allow_key_jwt), dpop, tuple(networks), bool(applies_to_api))

    @property
    def methods(self) -> list[str]:
        return [
            method
            for method, on in (
                (METHOD_CLIENT_SECRET, self.allow_client_secret),
                (METHOD_PRIVATE_KEY_JWT, self.allow_private_key_jwt),
            )
            if on
        ]

    def allows_method(self, method: str) -> bool:
        return method in self.methods

    def admits_client(self, source_ip: str | None) -> bool:
        """Token endpoint, revocation: from an allowed network, or from anywhere without an allowlist."""
        return not self.allowed_ips or ip_in(source_ip, self.allowed_ips)

    def admits_api_call(self, source_ip: str | None) -> bool:
        return not (self.allowlist_applies_to_api and self.allowed_ips) or ip_in(source_ip, self.allowed_ips)


DEFAULT_POLICY = ClientPolicy()
