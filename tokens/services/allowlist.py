"""Whether a new source-IP allowlist would refuse the addresses the partner really calls from (SPEC §5a,
"no silent cut-off"): the addresses its recent tokens were issued to, newest first; and which live tokens
an allowlist applied to API calls already refuses from the address they were issued to."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet
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


def issued_outside(source_ip: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether calls from ``source_ip`` (where a token was issued) are refused by an allowlist applied to
    API calls. An empty allowlist takes every address; an unknown address is judged by no one."""
    return bool(allowed) and source_ip is not None and not ip_in(source_ip, allowed)


def issued_outside_pks(tokens: QuerySet[IssuedToken], *, now: datetime) -> list[str]:
    """The pks of those of ``tokens`` live but issued to an address outside their community's allowlist,
    when its policy applies the allowlist to API calls: calls from there are refused, as the console's
    state column says. CIDR matching has no portable SQL (SQLite), so the few candidates (live tokens of
    communities with such a policy) are judged here, in one query however many rows."""
    candidates = tokens.filter(
        revoked_at__isnull=True,
        expires_at__gt=now,
        source_ip__isnull=False,
        community__auth_policy__allowlist_applies_to_api=True,
    ).values_list("pk", "source_ip", "community__auth_policy__allowed_ips")
    return [pk for pk, source_ip, allowed in candidates if issued_outside(source_ip, tuple(allowed))]


def refused_from_where_issued(tokens: QuerySet[IssuedToken], *, now: datetime) -> Q:
    """``issued_outside_pks`` as a filter."""
    return Q(pk__in=issued_outside_pks(tokens, now=now))
