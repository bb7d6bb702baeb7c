"""The reads behind every client authentication: the digests a presented secret is compared with, and
what a credential entitles (its community and the community's policy), each one indexed statement.

Written as SQL, table and column names taken from the models, like the bearer check's read
(tokens/selectors.py): a token request makes three of them, and building them through the ORM cost more
than running them (bench/README.md). The entitlement goes through Django's documented ``Manager.raw()``,
so the community is a whole model instance, converted as the ORM converts it.
tests/test_credential_reads.py pins what they answer on both databases.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
from django.utils import timezone

from bfluence.sql import aware, columns
from clients.models import ClientAuthPolicy, ClientKey, ClientSecret
from clients.policy import POLICY_COLUMNS, ClientPolicy
from communities.models import Community


def secret_digests_newest(*, client_id: str, count: int) -> list[tuple[int, str, str]]:
    """(id, salt, digest) of the client's ``count`` newest secrets, current or not; none for an unknown
    client_id. Only these three short columns, so a known client_id's rows cost no more to load."""
    with connection.cursor() as cursor:
        cursor.execute(_digests_sql(connection.vendor), [client_id, count])
        return cursor.fetchall()


@dataclass(frozen=True)
class Entitlement:
    community: Community
    policy: ClientPolicy
    last_used_at: datetime | None


@dataclass(frozen=True)
class NotEntitled:
    """A real credential that entitles nothing now, and why: ``"community_inactive"`` (reactivating the
    community is the way back) or ``"secret_ended"`` (past its grace window, or suspended by a compromise
    report: both set its end)."""

    community: Community
    reason: str


def credential_entitlement_get(
    *, secret_id: int | None = None, key_id: int | None = None
) -> Entitlement | None:
    """The credential's community and policy if the credential is current (a secret not past its grace
    window, a key not retired) and the community active; otherwise None."""
    read = credential_entitlement_read(secret_id=secret_id, key_id=key_id)
    return read if isinstance(read, Entitlement) else None


def credential_entitlement_read(
    *, secret_id: int | None = None, key_id: int | None = None
) -> Entitlement | NotEntitled | None:
    """As ``credential_entitlement_get``, in the same one read, but a secret or key that exists and
    entitles nothing says why (``NotEntitled``); None: no such credential (or a retired key)."""
    if secret_id is None and key_id is None:
        return None
    sql = _entitlement_sql(connection.vendor, "secret" if secret_id is not None else "key")
    community = next(iter(Community.objects.raw(sql, [secret_id if secret_id is not None else key_id])), None)
    if community is None:
        return None
    # The statement's columns beyond the community's own, which raw() set as attributes: taken off again.
    extra = {name: vars(community).pop(name) for name in _EXTRA_COLUMNS}
    if not community.is_active:
        return NotEntitled(community, "community_inactive")
    valid_until = aware(extra["credential_valid_until"])  # as ClientSecret.is_valid_at
    if valid_until is not None and valid_until <= timezone.now():
        return NotEntitled(community, "secret_ended")
    policy = ClientPolicy.from_columns(
        extra["policy_allow_client_secret"],
        extra["policy_allow_private_key_jwt"],
        extra["policy_dpop"],
        extra["policy_allowed_ips"],
        extra["policy_allowlist_applies_to_api"],
    )
    return Entitlement(
        community=community, policy=policy, last_used_at=aware(extra["credential_last_used_at"])
    )


_EXTRA_COLUMNS = (
    "credential_valid_until",
    "credential_last_used_at",
    *(f"policy_{name}" for name in POLICY_COLUMNS),
)


@cache
def _digests_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {columns(ClientSecret, 's', 'id', 'salt', 'digest')} "
        f"FROM {quote(ClientSecret._meta.db_table)} s "
        f"JOIN {quote(Community._meta.db_table)} c ON c.id = s.community_id "
        f"WHERE c.{quote('client_id')} = %s ORDER BY s.{quote('created_at')} DESC LIMIT %s"
    )


@cache
def _entitlement_sql(vendor: str, kind: str) -> str:
    """Every column of the community (``raw()`` builds the instance from them), then as extra attributes
    the credential's validity and last use and the policy's columns (all NULL without a policy row)."""
    quote = connection.ops.quote_name
    credential: type[ClientSecret] | type[ClientKey]
    if kind == "secret":
        credential, current = ClientSecret, ""
        valid_until = columns(ClientSecret, "x", "valid_until", prefix="credential_")
    else:  # a key is current until it is retired, at once
        credential, current = ClientKey, f" AND x.{quote('retired_at')} IS NULL"
        valid_until = f"NULL AS {quote('credential_valid_until')}"
    community_fields = [field.name for field in Community._meta.concrete_fields]
    return (
        f"SELECT {columns(Community, 'c', *community_fields)}, {valid_until}, "
        f"{columns(credential, 'x', 'last_used_at', prefix='credential_')}, "
        f"{columns(ClientAuthPolicy, 'p', *POLICY_COLUMNS, prefix='policy_')} "
        f"FROM {quote(credential._meta.db_table)} x "
        f"JOIN {quote(Community._meta.db_table)} c ON c.id = x.community_id "
        f"LEFT JOIN {quote(ClientAuthPolicy._meta.db_table)} p ON p.community_id = c.id "
        f"WHERE x.id = %s{current}"
    )
