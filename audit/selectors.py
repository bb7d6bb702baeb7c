"""Reads of the audit trail that more than one screen needs."""

from typing import TYPE_CHECKING

from django.db.models import Q

if TYPE_CHECKING:  # the audit trail imports no app above it
    from communities.models import Community


def community_events_q(community: "Community") -> Q:
    """A community's rows: those that name it, and the refusals that name only its client_id.

    A failed authentication with a known client_id but a wrong or suspended secret is written with no
    community (a known and an unknown client_id must cost the same at request time), yet it is the
    community's "we get 401": its page counts it, so its trail and history must show it too."""
    return Q(community=community) | Q(community__isnull=True, client_id=community.client_id)
