"""The audit trail's one model: append-only rows, written by ``audit.services.audit_record``."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: ``client_auth_failed`` reasons of a real credential that no longer entitles (written by
#: clients/services/authentication.py): its community is inactive, or the secret has ended (past its grace
#: window, or suspended by a compromise report). Such a row names the community, like a policy refusal.
NOT_CURRENT_REASONS = frozenset({"community_inactive", "secret_ended"})


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
        CLIENT_KEY_ADDED = "client_key_added", _("client public key registered")
        CLIENT_KEY_RETIRED = "client_key_retired", _("client public key retired")
        CLIENT_AUTH_POLICY_SET = "client_auth_policy_set", _("client authentication policy set")
        API_CALL_REFUSED = "api_call_refused", _("API call refused")
        STAFF_SIGNED_IN = "staff_signed_in", _("staff signed in")
        STAFF_SIGN_IN_FAILED = "staff_sign_in_failed", _("staff sign-in failed")
        STAFF_LOCKED_OUT = "staff_locked_out", _("staff sign-in locked out")
        AUDIT_FAILURES_PURGED = (
            "audit_failures_purged",
            _("old failed authentications of unknown clients purged"),
        )
        STAFF_SIGNED_OUT = "staff_signed_out", _("staff signed out")
        STAFF_LOCK_LIFTED = "staff_lock_lifted", _("staff sign-in lock lifted")
        STAFF_PROMPT_FAILED = "staff_prompt_failed", _("wrong password at the confirmation prompt")
        STAFF_PASSWORD_CHANGED = "staff_password_changed", _("staff password changed")
        STAFF_PASSWORD_RESET = "staff_password_reset", _("staff password reset by another member")
        STAFF_ACTION_REFUSED = "staff_action_refused", _("staff action refused")
        SECOND_FACTOR_ENROLLED = "second_factor_enrolled", _("second factor enrolled")
        SECOND_FACTOR_USED = "second_factor_used", _("second factor used")
        SECOND_FACTOR_FAILED = "second_factor_failed", _("second factor code refused")
        RECOVERY_CODE_USED = "recovery_code_used", _("recovery code used")
        RECOVERY_CODES_ISSUED = "recovery_codes_issued", _("recovery codes issued")
        SECOND_FACTOR_RESET = "second_factor_reset", _("second factor reset")
        SECRET_LEAK_REPORTED = "secret_leak_reported", _("leaked secret reported by a scanner")
        SECURITY_CONTACTS_SET = "security_contacts_set", _("security contacts set")
        NOTIFICATION_RESENT = "notification_resent", _("notification sent again")

    class ActorType(models.TextChoices):
        STAFF = "staff", _("staff user")
        PARTNER = "partner", _("partner client")
        COMMAND = "command", _("management command")
        ANONYMOUS = "anonymous", _("unauthenticated caller")
        SCANNER = "scanner", _("secret scanner")

    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, db_index=True)
    event_type = models.CharField(_("event"), max_length=40, choices=EventType.choices, db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=20, choices=ActorType.choices)
    actor = models.CharField(_("actor"), max_length=200)
    # By name, not by import: the audit trail sits below the apps whose actions it records.
    community = models.ForeignKey(
        "communities.Community",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("community"),
    )
    # The client_id as given, kept even for unknown clients and if the community row ever goes.
    client_id = models.CharField(_("client ID"), max_length=100, blank=True, db_index=True)
    jti = models.CharField(_("token ID (jti)"), max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        # The table keeps the name it had when the model lived in `tokens`, so no row ever moved.
        db_table = "tokens_auditevent"
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return _("%(event)s by %(actor)s") % {
            "event": self.get_event_type_display(),
            "actor": self.actor_label,
        }

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")

    @property
    def actor_label(self) -> str:
        """The actor as a person reads it. An anonymous row records "-" for a name it does not have: say
        what the caller was instead, with the client_id it gave (a policy refusal's caller held a valid
        credential, a refused API call a valid token); a staff sign-in naming no account is "someone not
        identified"."""
        if self.actor_type != self.ActorType.ANONYMOUS:
            return self.actor
        if self.community_id is not None and self.event_type == self.EventType.CLIENT_AUTH_FAILED:
            # Only a real credential's refusal names the community: its policy said no, or the credential
            # no longer entitles (clients/services/authentication.py); the reason says which.
            if isinstance(self.details, dict) and self.details.get("reason") in NOT_CURRENT_REASONS:
                return _("partner (real credential of the community, refused; client_id: %(client_id)s)") % {
                    "client_id": self.client_id
                }
            return _("partner (valid credential, refused by the policy; client_id: %(client_id)s)") % {
                "client_id": self.client_id
            }
        if self.community_id is not None and self.event_type == self.EventType.API_CALL_REFUSED:
            # The call carried the partner's real token (tokens/authentication.py): its policy refused it.
            if isinstance(self.details, dict) and self.details.get("reason") == "ip_not_allowed":
                return _(
                    "partner (valid token, call refused from outside the IP allowlist; client_id: %(client_id)s)"
                ) % {"client_id": self.client_id}
            return _("partner (valid token, call refused by the policy; client_id: %(client_id)s)") % {
                "client_id": self.client_id
            }
        if self.client_id:
            return _("unauthenticated caller (client_id: %(client_id)s)") % {"client_id": self.client_id}
        if self.event_type.startswith("staff_"):
            return str(_("someone not identified"))
        return str(self.get_actor_type_display())
