"""Reads of the outbox: its health for /readyz and metrics."""

from datetime import timedelta
from typing import Any

from django.db.models import Min
from django.utils import timezone

from notifications.models import Notification


def outbox_health() -> dict[str, Any]:
    """Queue depth, the oldest undelivered notification's age, and the ones given up on in a week."""
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    now = timezone.now()
    return {
        "pending": pending.count(),
        "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "retrying": pending.filter(attempts__gt=0).count(),
        "failed_7d": Notification.objects.filter(
            status=Notification.Status.FAILED, created_at__gte=now - timedelta(days=7)
        ).count(),
    }
