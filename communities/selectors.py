"""Reads of partner data on the hot path, as precompiled queries (see bfluence.precompiled)."""

import re
from dataclasses import dataclass
from datetime import datetime

from bfluence.precompiled import PrecompiledQuery
from communities.models import MEMBER_REFERENCE_PATTERN, Member

_MEMBER_REFERENCE = re.compile(MEMBER_REFERENCE_PATTERN)


@dataclass(frozen=True)
class MemberBalance:
    reference: str
    bflus: int
    updated_at: datetime


def is_member_reference(reference: str) -> bool:
    """Could this reference ever have been stored? (NULs, odd characters and overlong ones cannot.)"""
    return bool(_MEMBER_REFERENCE.fullmatch(reference))


_member_query = PrecompiledQuery(
    lambda community_id, reference: (
        Member.objects.filter(community_id=community_id, reference=reference)
        .order_by()
        .values_list("reference", "bflus", "updated_at")
    ),
    -987_654_321,
    "\x00member-reference\x00",
)


def member_balance_get(*, community_id: int, reference: str) -> MemberBalance | None:
    """The member of this community with this reference; ``None`` for anything else.

    A reference that could never have been stored is answered without asking the database, which
    would refuse some of them loudly.
    """
    if not is_member_reference(reference):
        return None
    rows = _member_query.rows(community_id, reference)
    return MemberBalance(*rows[0]) if rows else None
