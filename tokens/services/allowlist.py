"""Whether a new source-IP allowlist would refuse the addresses the partner really calls from (SPEC §5a,
"no silent cut-off"): the addresses its recent tokens were issued to, newest first."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from clients.policy import ip_in, networks_normalise
from communities.models import Community
from tokens.models import IssuedToken

#: How far back an address still counts as one the partner calls from.
RECENT = timedelta(days=30)
MAX_NAMED = 5


@dataclass(frozen=True)
class LastSeenAddress:
    source_ip: str
    last_token_at: datetime


def allowlist_refuses_recent_callers(
    *, community: Community, allowed_ips: list[str]
) -> list[LastSeenAddress]:
    """The addresses the partner got tokens from in the last ``RECENT`` (at least its very last one, however
    old) that ``allowed_ips`` would refuse, newest first, at most ``MAX_NAMED``. Empty allowlist: none
    (from anywhere). ``allowed_ips`` must be valid (``networks_normalise`` raises ``ValidationError``)."""
    networks = tuple(networks_normalise(allowed_ips))
    if not networks:
        return []
    tokens = IssuedToken.objects.filter(community=community, source_ip__isnull=False)
    last = tokens.order_by("-issued_at").values_list("issued_at", flat=True).first()
    if last is None:
        return []
    since = min(last, timezone.now() - RECENT)
    seen = (
        tokens.filter(issued_at__gte=since)
        .values("source_ip")
        .annotate(last_token_at=Max("issued_at"))
        .order_by("-last_token_at")
    )
    refused = [
        LastSeenAddress(str(row["source_ip"]), row["last_token_at"])
        for row in seen
        if not ip_in(row["source_ip"], networks)
    ]
    return refused[:MAX_NAMED]
