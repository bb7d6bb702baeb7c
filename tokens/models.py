"""Access tokens and their trail: issued tokens and revocation requests.

Records here are append-only in spirit: revoking sets ``revoked_at``/``revoked_by``/``revocation_reason``
and never deletes.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import ClientKey, ClientSecret
from communities.models import Community


class IssuedToken(models.Model):
    """One row per access token ever issued, keyed by its ``jti``: what makes revocation possible."""

    jti = models.CharField(_("token ID (jti)"), max_length=64, primary_key=True)
    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="issued_tokens", verbose_name=_("community")
    )
    client_secret = models.ForeignKey(
        ClientSecret,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="issued_tokens",
        verbose_name=_("client secret"),
    )
    # How the client authenticated: the partner key that signed its assertion (private_key_jwt), so
    # retiring a key can revoke what it obtained; null for a secret (``client_secret``) or an old record.
    client_key = models.ForeignKey(
        ClientKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="issued_tokens",
        verbose_name=_("client key"),
    )
    scope = models.CharField(_("scope"), max_length=500, blank=True)
    # The DPoP key thumbprint the token is bound to (``cnf.jkt``); empty for a Bearer token (and for
    # records older than this field): requiring DPoP stops those at once, so the console asks first.
    dpop_jkt = models.CharField(
        _("DPoP key thumbprint"), max_length=64, blank=True, default="", db_default=""
    )
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
        return _("Token %(jti)s… of %(client_id)s") % {
            "jti": self.jti[:12],
            "client_id": self.community.client_id,
        }


class RevocationRequest(models.Model):
    """A partner's "our credentials are compromised": its tokens are revoked at once; staff finish it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")

    class Source(models.TextChoices):
        PARTNER = "partner", _("partner report")
        SECRET_SCANNING = "secret_scanning", _("secret scanning")
        # Opened by staff in the console (a report that came by phone or e-mail).
        STAFF = "staff", _("staff (console)")

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="revocation_requests", verbose_name=_("community")
    )
    reason = models.TextField(_("reason"), max_length=2000)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    opened_by = models.CharField(_("opened by"), max_length=200)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    tokens_revoked = models.PositiveIntegerField(_("tokens revoked"), default=0)
    # Every secret valid when the request was opened stopped then, for good (SPEC §2.7).
    secrets_suspended = models.PositiveIntegerField(_("secrets suspended"), default=0)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.PARTNER)
    # Where a secret scanner found the leaked secret (SPEC §2.9).
    evidence_url = models.URLField(_("where it was found"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("revocation request")
        verbose_name_plural = _("revocation requests")
        ordering = ["status", "-created_at"]
        permissions = [("handle_revocationrequest", _("Can handle revocation requests"))]
        indexes = [models.Index(fields=["status", "created_at"], name="revocation_request_queue")]

    def __str__(self) -> str:
        # "Pedido #3 de acme", no status: the admin's "Recent actions" keeps this text from when it was
        # logged, so a status here would read "pendente" long after the request was completed.
        return _("Request #%(id)s of %(client_id)s") % {"id": self.pk, "client_id": self.community.client_id}
