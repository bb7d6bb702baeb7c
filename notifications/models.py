"""Partner security notifications (SPEC §2.10): who hears about a community's credentials, and the
outbox of what they are told.

A notification is written in the same transaction as the action that causes it (a transactional
outbox), one row per recipient, and a worker delivers it (notifications.services.delivery).

This app sits just above the audit trail and below every app whose actions it tells about, so each of
their services can record its notification in its own transaction: it names the community model by
string, as the audit trail does.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Language(models.TextChoices):
    PT_BR = "pt-br", _("Portuguese (Brazil)")
    EN = "en", _("English")


class SecurityContacts(models.Model):
    """A community's security contacts: e-mail addresses (each with a language) and one webhook."""

    community = models.OneToOneField(
        "communities.Community",
        on_delete=models.PROTECT,
        related_name="security_contacts",
        verbose_name=_("community"),
    )
    #: ``[{"address": "sec@acme.example", "language": "pt-br"}, ...]``
    emails = models.JSONField(_("e-mail addresses"), default=list, blank=True)
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    # The Standard Webhooks signing secret ("whsec_…"). It signs every delivery, so it is kept (a digest
    # could not sign); it is shown once, when made, and never again: no screen or command reads it back.
    webhook_secret = models.CharField(max_length=100, blank=True)
    webhook_secret_hint = models.CharField(_("signing secret hint"), max_length=20, blank=True)
    # "atualizada em": a row is a "lista de contatos de segurança"
    updated_at = models.DateTimeField(pgettext_lazy("security contact list", "updated at"), auto_now=True)

    class Meta:
        # One row is one community's list: "1 lista de contatos de segurança", "Adicionar lista de …"; the
        # plural stays the menu's name.
        verbose_name = _("security contact list")
        verbose_name_plural = _("security contacts")

    def __str__(self) -> str:
        return _("Security contacts of %(client_id)s") % {"client_id": self.community.client_id}

    def __repr__(self) -> str:
        return f"<SecurityContacts community={self.community_id}>"


class Notification(models.Model):
    """One event told to one recipient: an e-mail address or the webhook. Delivered at least once."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WEBHOOK = "webhook", _("webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")
        WITHDRAWN = "withdrawn", _("withdrawn (moot)")

    # The event's id: the same for each recipient of one event, and the webhook's `webhook-id`, so a
    # receiver that gets a delivery twice (at least once) can tell.
    event_id = models.UUIDField(_("event ID"), default=uuid.uuid4, editable=False)
    community = models.ForeignKey(
        "communities.Community",
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name=_("community"),
    )
    event_type = models.CharField(_("event"), max_length=40)
    data = models.JSONField(_("data"), default=dict)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=500)
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.PT_BR)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    # A worker that took the row owns it until then; one killed mid-delivery leaves it to the next.
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        permissions = [("resend_notification", _("Can send notifications again"))]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "channel", "recipient"], name="notification_once"),
        ]
        indexes = [
            # The worker's query: what is due, oldest first.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            models.Index(fields=["community", "created_at"], name="notification_community"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.recipient}"
