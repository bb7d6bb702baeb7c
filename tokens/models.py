"""Credentials and their trail: client secrets, issued tokens, the audit trail, revocation requests.

Records here are append-only in spirit: revoking sets ``revoked_at``/``revoked_by``/``revocation_reason``
and never deletes; audit events can be neither changed nor deleted through the ORM.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from communities.models import Community


class ClientSecret(models.Model):
    """A community's secret, stored as a salted SHA-256 digest plus a short display hint.

    A community holds one current secret, and briefly a second one during a rotation's grace window.
    """

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="secrets")
    hint = models.CharField(_("hint"), max_length=32)
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Null while current; set when a rotation gives it a grace window (or ends it at once).
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("client secret")
        verbose_name_plural = _("client secrets")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["community", "valid_until"], name="secret_community_validity")]

    def __str__(self) -> str:
        return f"{self.hint} ({self.community_id})"

    def __repr__(self) -> str:
        return f"<ClientSecret {self.pk} {self.hint}>"

    def is_valid_at(self, moment) -> bool:
        return self.valid_until is None or self.valid_until > moment


class IssuedToken(models.Model):
    """One row per access token ever issued, keyed by its ``jti``: what makes revocation possible."""

    jti = models.CharField(_("token ID (jti)"), max_length=64, primary_key=True)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="issued_tokens")
    client_secret = models.ForeignKey(
        ClientSecret, on_delete=models.SET_NULL, null=True, blank=True, related_name="issued_tokens"
    )
    scope = models.CharField(_("scope"), max_length=500, blank=True)
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=200, blank=True)
    revocation_reason = models.CharField(_("revocation reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("issued token")
        verbose_name_plural = _("issued tokens")
        ordering = ["-issued_at"]
        permissions = [("revoke_issuedtoken", _("Can revoke issued tokens"))]
        indexes = [
            models.Index(fields=["community", "expires_at"], name="token_community_expiry"),
            models.Index(fields=["expires_at"], name="token_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.jti} ({self.community_id})"


class AuditEvent(models.Model):
    """An append-only record of one security event: who, what, when, from where. Never a secret."""

    class EventType(models.TextChoices):
        TOKEN_ISSUED = "token_issued", _("token issued")
        CLIENT_AUTH_FAILED = "client_auth_failed", _("client authentication failed")
        TOKEN_REVOKED = "token_revoked", _("token revoked")
        TOKENS_REVOKED_ALL = "tokens_revoked_all", _("all tokens revoked")
        SECRET_CREATED = "secret_created", _("secret created")
        SECRET_ROTATED = "secret_rotated", _("secret rotated")
        SECRET_EXPIRED = "secret_expired", _("previous secret stopped")
        COMMUNITY_CREATED = "community_created", _("community created")
        COMMUNITY_UPDATED = "community_updated", _("community updated")
        COMMUNITY_DEACTIVATED = "community_deactivated", _("community deactivated")
        COMMUNITY_REACTIVATED = "community_reactivated", _("community reactivated")
        REVOCATION_REQUEST_OPENED = "revocation_request_opened", _("revocation request opened")
        REVOCATION_REQUEST_HANDLED = "revocation_request_handled", _("revocation request handled")
        MEMBER_BALANCE_SET = "member_balance_set", _("member balance set")
        TOKENS_PURGED = "tokens_purged", _("expired token records purged")

    class ActorType(models.TextChoices):
        STAFF = "staff", _("staff user")
        PARTNER = "partner", _("partner client")
        COMMAND = "command", _("management command")
        ANONYMOUS = "anonymous", _("unauthenticated caller")

    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, db_index=True)
    event_type = models.CharField(_("event"), max_length=40, choices=EventType.choices, db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=20, choices=ActorType.choices)
    actor = models.CharField(_("actor"), max_length=200)
    community = models.ForeignKey(
        Community, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    # The client_id as given, kept even for unknown clients and if the community row ever goes.
    client_id = models.CharField(_("client ID"), max_length=100, blank=True, db_index=True)
    jti = models.CharField(_("token ID (jti)"), max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.event_type} by {self.actor_type}:{self.actor}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class RevocationRequest(models.Model):
    """A partner's "our credentials are compromised": its tokens are revoked at once; staff finish it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="revocation_requests")
    reason = models.TextField(_("reason"), max_length=2000)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    opened_by = models.CharField(_("opened by"), max_length=200)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    tokens_revoked = models.PositiveIntegerField(_("tokens revoked"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("revocation request")
        verbose_name_plural = _("revocation requests")
        ordering = ["status", "-created_at"]
        permissions = [("handle_revocationrequest", _("Can handle revocation requests"))]
        indexes = [models.Index(fields=["status", "created_at"], name="revocation_request_queue")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.community_id} ({self.status})"
