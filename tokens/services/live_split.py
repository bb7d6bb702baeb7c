"""How many of a set of tokens the API takes, and how many it refuses though they are live (neither
revoked nor expired), with the reasons present: what the console's confirmations and the token state
filter count, by the rule ``token_refusals`` applies to each token (the state column). Not the source-IP
allowlist: it refuses calls from outside it whatever the token, and a token issued outside it works from
inside it (a leaked one too), so where a token was issued never makes it "refused"."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from tokens.models import IssuedToken
from tokens.services.refusals import REFUSED_BY_DPOP_POLICY, REFUSED_THOUGH_LIVE, TokenRefusal


@dataclass(frozen=True)
class LiveTokenSplit:
    working: int  # live, and the API takes them
    refused: int  # live, but refused all the same: each counted once, however many reasons apply
    reasons: frozenset[TokenRefusal]  # why, among COMMUNITY_INACTIVE and DPOP_REQUIRED


def live_tokens(tokens: QuerySet[IssuedToken], *, now: datetime) -> QuerySet[IssuedToken]:
    return tokens.filter(revoked_at__isnull=True, expires_at__gt=now)


def refused_though_live() -> Q:
    """A filter for the live tokens that are refused all the same: community inactive, or DPoP required
    and none bound."""
    return REFUSED_THOUGH_LIVE


#: The counts a split is made of.
_COUNTED = {
    "live": Count("pk"),
    "refused": Count("pk", filter=REFUSED_THOUGH_LIVE),
    "inactive": Count("pk", filter=Q(community__is_active=False)),
    "dpop": Count("pk", filter=REFUSED_BY_DPOP_POLICY),
}


def _split(counts: Mapping[str, Any]) -> LiveTokenSplit:
    present = {
        TokenRefusal.COMMUNITY_INACTIVE: counts["inactive"],
        TokenRefusal.DPOP_REQUIRED: counts["dpop"],
    }
    return LiveTokenSplit(
        working=counts["live"] - counts["refused"],
        refused=counts["refused"],
        reasons=frozenset(reason for reason, count in present.items() if count),
    )


NO_LIVE_TOKEN = LiveTokenSplit(working=0, refused=0, reasons=frozenset())


def live_token_split(tokens: QuerySet[IssuedToken], *, now: datetime) -> LiveTokenSplit:
    """One query however many tokens: one count of each kind."""
    return _split(live_tokens(tokens, now=now).aggregate(**_COUNTED))


def live_token_splits(tokens: QuerySet[IssuedToken], *, now: datetime) -> dict[int, LiveTokenSplit]:
    """The same per community id (a list of communities): still one query however many communities."""
    counted = live_tokens(tokens, now=now).values("community").annotate(**_COUNTED).order_by()
    return {row["community"]: _split(row) for row in counted}
