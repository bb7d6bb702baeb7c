"""The reads every authenticated request makes, as single precompiled queries.

``live_token_get`` is the revocation check: the token's record and its community (with the community's
client-auth policy LEFT JOINed in, for API allowlists and DPoP), one indexed read by primary key.
``live_token_with_member_get`` is the same read with one member's balance LEFT JOINed in, so get-bflus
costs one database round trip in all.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import FilteredRelation, Q

from bfluence.precompiled import PrecompiledQuery
from communities.selectors import MemberBalance
from tokens.models import IssuedToken
from tokens.policy import DEFAULT_POLICY, ClientPolicy, policy_columns

_JTI, _REFERENCE = "\x00jti\x00", "\x00member-reference\x00"
_TOKEN_COLUMNS = (
    "issued_at",
    "expires_at",
    "revoked_at",
    "community_id",
    "community__client_id",
    "community__name",
    "community__is_active",
    "community__permissions",
    "community__tokens_revoked_before",
    *policy_columns("community__auth_policy__"),
)
_TOKEN_FIELDS = 9  # the columns before the policy's
_MEMBER_COLUMNS = ("member__reference", "member__bflus", "member__updated_at")


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


def _live_token(columns: Sequence[Any], member: MemberBalance | None = None) -> LiveToken:
    policy = ClientPolicy.from_columns(*columns[_TOKEN_FIELDS:])
    return LiveToken(*columns[:_TOKEN_FIELDS], policy=policy, member=member)  # type: ignore[misc]  # the nine columns


# Planned once per connection (bfluence.plan_cache): the joins cost PostgreSQL more to plan than to run.
_token_query = PrecompiledQuery(
    lambda jti: IssuedToken.objects.filter(pk=jti).order_by().values_list(*_TOKEN_COLUMNS),
    _JTI,
    planned_once=True,
)

_token_with_member_query = PrecompiledQuery(
    lambda jti, reference: (
        IssuedToken.objects.filter(pk=jti)
        .order_by()
        .annotate(
            member=FilteredRelation(
                "community__members", condition=Q(community__members__reference=reference)
            )
        )
        .values_list(*_TOKEN_COLUMNS, *_MEMBER_COLUMNS)
    ),
    _JTI,
    _REFERENCE,
    planned_once=True,
)


def live_token_get(*, jti: str) -> LiveToken | None:
    rows = _token_query.rows(jti)
    return _live_token(rows[0]) if rows else None


def live_token_with_member_get(*, jti: str, reference: str) -> LiveToken | None:
    rows = _token_with_member_query.rows(jti, reference)
    if not rows:
        return None
    *token, member_reference, bflus, updated_at = rows[0]
    member = MemberBalance(member_reference, bflus, updated_at) if member_reference is not None else None
    return _live_token(token, member)
