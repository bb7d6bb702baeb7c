"""Reads of partner data on the hot path."""

import re
from dataclasses import dataclass
from datetime import datetime

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


def member_balance_get(*, community_id: int, reference: str) -> MemberBalance | None:
    """The member of this community with this reference; ``None`` for anything else.

    A reference that could never have been stored is answered without asking the database, which
    would refuse some of them loudly.
    """
    if not is_member_reference(reference):
        return None
    rows = Member.objects.filter(community_id=community_id, reference=reference).values_list(
        "reference", "bflus", "updated_at"
    )
    return next((MemberBalance(*row) for row in rows.order_by()[:1]), None)
