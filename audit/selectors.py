"""Reads of the audit trail that more than one screen needs."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Max, Q
from django.utils import timezone

from audit.models import AuditEvent

if TYPE_CHECKING:  # the audit trail imports no app above it
    from communities.models import Community


def outsider_refusals_q(community: "Community") -> Q:
    """Refused authentications that name only the community's client_id: a wrong secret, a wrong or
    retired key (and, in rows written before real secrets' refusals named the community, an ended or
    suspended secret or an inactive community), written with no community (a known and an unknown client_id must cost the same at
    request time). Anyone who knows the client_id can cause them, so they are not the community's
    actions: screens count them apart."""
    return Q(community__isnull=True, client_id=community.client_id)


def community_events_q(community: "Community") -> Q:
    """A community's rows: those that name it, and the refusals that name only its client_id.

    A failed authentication with a known client_id but a wrong or suspended secret is its community's
    "we get 401": its page counts it, so its trail must hold it too."""
    return Q(community=community) | outsider_refusals_q(community)


@dataclass(frozen=True)
class RefusalsCount:
    total: int
    recent: int  # within ``RECENT``
    newest: datetime | None


RECENT = timedelta(hours=24)


def outsider_refusals_count(community: "Community") -> RefusalsCount:
    """``outsider_refusals_q``'s rows counted, in one query: all of them, those of the last 24 hours, and
    when the newest happened."""
    counted = AuditEvent.objects.filter(outsider_refusals_q(community)).aggregate(
        total=Count("pk"),
        recent=Count("pk", filter=Q(occurred_at__gte=timezone.now() - RECENT)),
        newest=Max("occurred_at"),
    )
    return RefusalsCount(total=counted["total"], recent=counted["recent"], newest=counted["newest"])
