"""The outbox: a notification is written in the same transaction as the action that causes it."""

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bfluence.scrub import scrub_value
from notifications import events
from notifications.events import TEXTS
from notifications.models import Notification, SecurityContacts

if TYPE_CHECKING:  # annotations only: communities sit above this app
    from communities.models import Community


def notify(
    *,
    community: "Community",
    event: str,
    data: dict[str, Any] | None = None,
    deliver_at: datetime | None = None,
) -> int:
    """Record ``event`` for every security contact of ``community``; how many rows were written.

    Call it inside the action's transaction: the rows commit with the action or not at all, and a
    worker delivers them later, so a failed delivery never undoes or delays the action.
    """
    if event not in TEXTS:
        raise ValueError(f"unknown notification event {event!r}")
    contacts = SecurityContacts.objects.filter(community=community).first()
    if contacts is None:
        return 0
    event_id = uuid.uuid4()
    payload = scrub_value({"client_id": community.client_id, **(data or {})})  # never a secret
    now = timezone.now()
    due = max(deliver_at or now, now)
    rows = [
        Notification(
            event_id=event_id,
            community=community,
            event_type=event,
            data=payload,
            channel=Notification.Channel.EMAIL,
            recipient=entry["address"],
            language=entry.get("language", "pt-br"),
            created_at=now,
            next_attempt_at=due,
        )
        for entry in contacts.emails
    ]
    if contacts.webhook_url:
        rows.append(
            Notification(
                event_id=event_id,
                community=community,
                event_type=event,
                data=payload,
                channel=Notification.Channel.WEBHOOK,
                recipient=contacts.webhook_url,
                created_at=now,
                next_attempt_at=due,
            )
        )
    Notification.objects.bulk_create(rows)
    if rows and settings.NOTIFICATIONS_DELIVER_ON_COMMIT:
        transaction.on_commit(_deliver_in_background)
    return len(rows)


EXPIRING_NOTICE = timedelta(hours=24)


def notify_rotation(*, community: "Community", hint: str, previous_valid_until: datetime | None) -> None:
    """A rotation: ``secret.rotated`` now, and ``secret.expiring`` 24 h before the previous secret stops
    (at once when that is sooner). A notice scheduled by an earlier rotation is withdrawn: it is moot."""
    notifications_withdraw(community=community, event=events.SECRET_EXPIRING)
    until = previous_valid_until.isoformat() if previous_valid_until else None
    notify(
        community=community,
        event=events.SECRET_ROTATED,
        data={"new_secret_hint": hint, "previous_secret_valid_until": until},
    )
    if previous_valid_until is not None and previous_valid_until > timezone.now():
        notify(
            community=community,
            event=events.SECRET_EXPIRING,
            data={"previous_secret_valid_until": until},
            deliver_at=previous_valid_until - EXPIRING_NOTICE,
        )


def notifications_withdraw(*, community: "Community", event: str) -> int:
    """Withdraw notices of ``event`` not sent yet (a scheduled ``secret.expiring`` the secret outlived)."""
    return Notification.objects.filter(
        community=community, event_type=event, status=Notification.Status.PENDING, attempts=0
    ).update(status=Notification.Status.WITHDRAWN)


def _deliver_in_background() -> None:
    """``dev.py serve``: deliver right after the commit, in a thread, so no worker process is needed."""
    import threading

    from notifications.services.delivery import notifications_deliver_due

    def run() -> None:
        from django.db import connection

        try:
            notifications_deliver_due()
        finally:
            connection.close()

    threading.Thread(target=run, name="notifications-on-commit", daemon=True).start()
