"""How many of a set of tokens the API takes, and how many it refuses though they are live (neither
revoked nor expired), with the reasons present: what the console's confirmations and the token state
filter count, by the rule ``token_refusals`` applies to each token (the state column)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from tokens.models import IssuedToken
from tokens.services.allowlist import issued_outside_pks
from tokens.services.refusals import REFUSED_BY_DPOP_POLICY, REFUSED_THOUGH_LIVE, TokenRefusal


@dataclass(frozen=True)
class LiveTokenSplit:
    working: int  # live, and the API takes them
    refused: int  # live, but refused all the same: each counted once, however many reasons apply
    reasons: frozenset[TokenRefusal]  # why, among COMMUNITY_INACTIVE, DPOP_REQUIRED and OUTSIDE_ALLOWLIST


def live_tokens(tokens: QuerySet[IssuedToken], *, now: datetime) -> QuerySet[IssuedToken]:
    return tokens.filter(revoked_at__isnull=True, expires_at__gt=now)


def refused_though_live(tokens: QuerySet[IssuedToken], *, now: datetime) -> Q:
    """A filter for those of ``tokens`` that are live yet refused: community inactive, DPoP required and
    none bound, or issued outside an allowlist applied to API calls (judged in one query)."""
    return REFUSED_THOUGH_LIVE | Q(pk__in=issued_outside_pks(tokens, now=now))


def _counted(outside: list[str]) -> dict[str, Count]:
    """The counts a split is made of; ``outside``: the live tokens issued outside an API allowlist."""
    return {
        "live": Count("pk"),
        "refused": Count("pk", filter=REFUSED_THOUGH_LIVE | Q(pk__in=outside)),
        "inactive": Count("pk", filter=Q(community__is_active=False)),
        "dpop": Count("pk", filter=REFUSED_BY_DPOP_POLICY),
        "outside": Count("pk", filter=Q(pk__in=outside)),
    }


def _split(counts: Mapping[str, Any]) -> LiveTokenSplit:
    present = {
        TokenRefusal.COMMUNITY_INACTIVE: counts["inactive"],
        TokenRefusal.DPOP_REQUIRED: counts["dpop"],
        TokenRefusal.OUTSIDE_ALLOWLIST: counts["outside"],
    }
    return LiveTokenSplit(
        working=counts["live"] - counts["refused"],
        refused=counts["refused"],
        reasons=frozenset(reason for reason, count in present.items() if count),
    )


NO_LIVE_TOKEN = LiveTokenSplit(working=0, refused=0, reasons=frozenset())


def live_token_split(tokens: QuerySet[IssuedToken], *, now: datetime) -> LiveTokenSplit:
    """Two queries however many tokens: the allowlist's candidates, then one count of each kind."""
    live = live_tokens(tokens, now=now)
    return _split(live.aggregate(**_counted(issued_outside_pks(live, now=now))))


def live_token_splits(tokens: QuerySet[IssuedToken], *, now: datetime) -> dict[int, LiveTokenSplit]:
    """The same per community id (a list of communities): still two queries however many communities."""
    live = live_tokens(tokens, now=now)
    counted = live.values("community").annotate(**_counted(issued_outside_pks(live, now=now))).order_by()
    return {row["community"]: _split(row) for row in counted}
