"""The read every authenticated request makes: the token's record, its community and the community's
client-authentication policy (API allowlists, DPoP) by the token's primary key; for get-bflus with the
requested member's balance LEFT JOINed in, so an API call costs one round trip in all.

Written as SQL through Django's documented ``connection.cursor()``, its table and column names taken from
the models: it is the one statement every API call makes, and building it through the ORM on every call
cost more than running it (bench/README.md, round 7). tests/test_bearer_auth.py and
tests/test_query_counts.py pin what it answers on both backends.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from bfluence.sql import aware, columns, json_value
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
        issued_at=aware(issued_at),
        expires_at=aware(expires_at),
        revoked_at=aware(revoked_at),
        community_id=community_id,
        client_id=client_id,
        community_name=name,
        community_is_active=bool(active),
        community_permissions=json_value(permissions),
        tokens_revoked_before=aware(cut_off),
        policy=ClientPolicy.from_columns(allow_secret, allow_key_jwt, dpop, allowed_ips, applies_to_api),
        member=None if reference is None else MemberBalance(reference, bflus, aware(updated_at)),
    )


@cache
def _live_token_sql(vendor: str) -> str:
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
