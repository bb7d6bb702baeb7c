"""Delivering the outbox: at least once, with exponential backoff, by any number of workers.

A worker claims due rows (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never take
the same row; SQLite has one writer at a time, and the conditional UPDATE does the same there) by
writing its claim and a lease, commits, and only then talks to the network: no transaction stays open
during a delivery, and a failure there can never roll anything back. A worker killed mid-delivery leaves
its rows claimed until the lease ends; the next worker delivers them then.
"""

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from notifications.events import TEXTS
from notifications.models import Notification, SecurityContacts
from notifications.webhooks import webhook_post

_log = logging.getLogger("bfluence.notifications")
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryRun:
    delivered: int
    failed: int
    pending: int


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … doubling up to an hour between attempts."""
    doublings = min(max(attempts - 1, 0), 8)  # 30 s x 2**7 is already past the hour
    return min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY)


def _lease() -> timedelta:
    seconds: float = settings.WEBHOOK_TIMEOUT
    return timedelta(seconds=seconds + 60)


def _claim(limit: int) -> list[Notification]:
    now = timezone.now()
    claimable = Q(status=Notification.Status.PENDING, next_attempt_at__lte=now) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    token = uuid.uuid4().hex
    # PostgreSQL: a short transaction that locks the rows it picks, skipping those another worker holds.
    # SQLite cannot lock rows (and a read-then-write transaction there can deadlock another writer): the
    # conditional UPDATE alone is atomic.
    held = transaction.atomic() if connection.features.has_select_for_update else contextlib.nullcontext()
    with held:
        picked = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(claimable)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        Notification.objects.filter(claimable, pk__in=picked).update(
            claimed_by=token, claimed_until=now + _lease(), attempts=F("attempts") + 1
        )
    return list(Notification.objects.filter(claimed_by=token).select_related("community"))


def webhook_body(notification: Notification) -> bytes:
    """``{"type", "timestamp", "data": {"client_id", …, "what_to_do"}}``; never a secret."""
    _subject, _what, what_to_do = TEXTS[notification.event_type]
    with translation.override("en"):
        data = {**notification.data, "what_to_do": str(what_to_do)}
    body = {"type": notification.event_type, "timestamp": notification.created_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


def _send_webhook(notification: Notification, now: datetime) -> None:
    contacts = SecurityContacts.objects.get(community=notification.community)
    if not contacts.webhook_secret or contacts.webhook_url != notification.recipient:
        raise ValidationError("the webhook was removed or replaced")
    body = webhook_body(notification)
    msg_id = f"msg_{notification.event_id.hex}"
    signature = Webhook(contacts.webhook_secret).sign(msg_id=msg_id, timestamp=now, data=body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    status = webhook_post(notification.recipient, body=body, headers=headers)
    if not 200 <= status < 300:
        raise OSError(f"the receiver answered {status}")


def render_mail(notification: Notification) -> EmailMultiAlternatives:
    subject, what, what_to_do = TEXTS[notification.event_type]
    language = "pt-br" if notification.language == "pt-br" else "en"
    with translation.override(language):
        context = {
            "notification": notification,
            "client_id": notification.community.client_id,
            "what": str(what),
            "what_to_do": str(what_to_do),
            "details": sorted((key, value) for key, value in notification.data.items() if key != "client_id"),
        }
        message = EmailMultiAlternatives(
            subject=f"[Bfluence] {subject}",
            body=render_to_string("notifications/email.txt", context),
            to=[notification.recipient],
            headers={"X-Bfluence-Event-Id": str(notification.event_id)},
        )
        message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


def _deliver(notification: Notification, now: datetime) -> None:
    if notification.channel == Notification.Channel.WEBHOOK:
        _send_webhook(notification, now)
    else:
        render_mail(notification).send(fail_silently=False)


def notification_deliver(notification: Notification) -> bool:
    """One attempt at a claimed row, and its outcome recorded; True when delivered."""
    now = timezone.now()
    try:
        _deliver(notification, now)
    except Exception as error:  # any failure is retried later; the worker goes on with the next row
        _record_failure(notification, now, error)
        return False
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.DELIVERED, delivered_at=now, claimed_until=None, last_error=""
    )
    _log.info(
        "notification delivered",
        extra={"event_id": str(notification.event_id), "event": notification.event_type},
    )
    return True


def _record_failure(notification: Notification, now: datetime, error: Exception) -> None:
    reason = (" ".join(getattr(error, "messages", [])) or str(error) or type(error).__name__)[:300]
    gave_up = now - notification.created_at >= settings.NOTIFICATION_RETRY_HORIZON
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.FAILED if gave_up else Notification.Status.PENDING,
        next_attempt_at=now + backoff(notification.attempts),
        claimed_until=None,
        last_error=reason,
    )
    _log.warning(
        "notification delivery failed",
        extra={
            "event_id": str(notification.event_id),
            "event": notification.event_type,
            "attempts": notification.attempts,
            "gave_up": gave_up,
            "reason": reason,
        },
    )


def notifications_deliver_due(*, limit: int = 50) -> DeliveryRun:
    """Deliver every notification due now, in batches; each row is attempted at most once per call."""
    delivered = failed = 0
    while batch := _claim(limit):
        for notification in batch:
            if notification_deliver(notification):
                delivered += 1
            else:
                failed += 1
    pending = Notification.objects.filter(status=Notification.Status.PENDING).count()
    return DeliveryRun(delivered=delivered, failed=failed, pending=pending)


@transaction.atomic
def notification_resend(*, notification: Notification, actor: Actor, reason: str = "") -> Notification:
    """Deliver again (same event id, so a receiver can tell it is the same event): due now."""
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.PENDING, next_attempt_at=timezone.now(), claimed_until=None
    )
    audit_record(
        event_type=AuditEvent.EventType.NOTIFICATION_RESENT,
        actor=actor,
        community=notification.community,
        details={"event_id": str(notification.event_id), "event": notification.event_type, "reason": reason},
    )
    notification.refresh_from_db()
    return notification
