"""The read every authenticated request makes: the token's record, its community and the community's
client-authentication policy (API allowlists, DPoP) by the token's primary key; for get-bflus with the
requested member's balance LEFT JOINed in, so an API call costs one round trip in all.

Written as SQL through Django's documented ``connection.cursor()``, its table and column names taken from
the models: it is the one statement every API call makes, and building it through the ORM on every call
cost more than running it (bench/README.md, round 7). tests/test_bearer_auth.py and
tests/test_query_counts.py pin what it answers on both backends.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model

from clients.models import ClientAuthPolicy
from clients.policy import DEFAULT_POLICY, POLICY_COLUMNS, ClientPolicy
from communities.models import Community, Member
from communities.selectors import MemberBalance
from tokens.models import IssuedToken


@dataclass(frozen=True)
class LiveToken:
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    community_id: int
    client_id: str
    community_name: str
    community_is_active: bool
    community_permissions: list[str]
    tokens_revoked_before: datetime | None
    policy: ClientPolicy = DEFAULT_POLICY
    member: MemberBalance | None = None


def live_token_get(*, jti: str, member_reference: str | None = None) -> LiveToken | None:
    """The token ``jti`` as the database knows it now, and the member ``member_reference`` of its
    community if asked for (``member`` is ``None`` if the community has no such member)."""
    with connection.cursor() as cursor:
        cursor.execute(_live_token_sql(connection.vendor), [member_reference, jti])
        row: tuple[Any, ...] | None = cursor.fetchone()
    if row is None:
        return None
    issued_at, expires_at, revoked_at, community_id, client_id, name, active, permissions, cut_off = row[:9]
    allow_secret, allow_key_jwt, dpop, allowed_ips, applies_to_api = row[9:14]
    reference, bflus, updated_at = row[14:]
    return LiveToken(
        issued_at=_aware(issued_at),
        expires_at=_aware(expires_at),
        revoked_at=_aware(revoked_at),
        community_id=community_id,
        client_id=client_id,
        community_name=name,
        community_is_active=bool(active),
        community_permissions=_json(permissions),
        tokens_revoked_before=_aware(cut_off),
        policy=ClientPolicy.from_columns(
            allow_secret, allow_key_jwt, dpop, _json(allowed_ips), applies_to_api
        ),
        member=None if reference is None else MemberBalance(reference, bflus, _aware(updated_at)),
    )


@cache
def _live_token_sql(vendor: str) -> str:
    def columns(model: type[Model], alias: str, *fields: str) -> str:
        concrete = {field.name: str(field.column) for field in model._meta.concrete_fields}
        return ", ".join(f"{alias}.{quote(concrete[field])}" for field in fields)

    quote = connection.ops.quote_name
    return (
        f"SELECT {columns(IssuedToken, 't', 'issued_at', 'expires_at', 'revoked_at', 'community')}, "
        f"{columns(Community, 'c', 'client_id', 'name', 'is_active', 'permissions', 'tokens_revoked_before')}, "
        f"{columns(ClientAuthPolicy, 'p', *POLICY_COLUMNS)}, "
        f"{columns(Member, 'm', 'reference', 'bflus', 'updated_at')} "
        f"FROM {quote(IssuedToken._meta.db_table)} t "
        f"JOIN {quote(Community._meta.db_table)} c ON c.id = t.community_id "
        f"LEFT JOIN {quote(ClientAuthPolicy._meta.db_table)} p ON p.community_id = c.id "
        f"LEFT JOIN {quote(Member._meta.db_table)} m ON m.community_id = c.id AND m.reference = %s "
        f"WHERE t.jti = %s"
    )


def _aware(value: Any) -> Any:
    """A timestamp as the ORM gives it: SQLite hands back naive UTC, PostgreSQL an aware one."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _json(value: Any) -> Any:
    """A JSON column as the ORM gives it: SQLite hands back its text, PostgreSQL the value."""
    return json.loads(value) if isinstance(value, str) else value
