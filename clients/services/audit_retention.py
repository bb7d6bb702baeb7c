"""How long the audit trail keeps what outsiders make (SPEC §4 ``purge_audit``).

A failed client authentication naming a client_id no community has, or a staff sign-in naming no
account, is made by whoever sends it: those rows are kept for ``AUDIT_FAILURE_RETENTION`` (90 days by
default), then deleted in short batches. Every other row — anything about a real community or account,
every staff and partner action — is kept.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from communities.models import Community

Event = AuditEvent.EventType


def _outsider_failures() -> Q:
    names_no_community = ~Exists(Community.objects.filter(client_id=OuterRef("client_id")))
    return Q(event_type=Event.CLIENT_AUTH_FAILED, community__isnull=True) & Q(names_no_community) | Q(
        event_type=Event.STAFF_SIGN_IN_FAILED, actor_type=AuditEvent.ActorType.ANONYMOUS
    )


def audit_failures_purge(*, older_than: timedelta, actor: Actor, batch_size: int = 5000) -> int:
    """Delete failed-authentication rows of unknown clients (and sign-ins naming no account) older than
    ``older_than``, ``batch_size`` rows per transaction, so serving goes on meanwhile; then one audit
    row saying how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                AuditEvent.objects.filter(_outsider_failures(), occurred_at__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            # QuerySet.delete, never AuditEvent.delete (which refuses): retention is the one deletion.
            deleted += AuditEvent.objects.filter(pk__in=batch).delete()[0]
    audit_record(
        event_type=Event.AUDIT_FAILURES_PURGED,
        actor=actor,
        details={"deleted": deleted, "older_than_seconds": int(older_than.total_seconds())},
    )
    return deleted
