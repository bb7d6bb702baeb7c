"""Who is calling: a community's client secrets and public keys, its client-authentication policy, and the
single-use jtis of assertions and DPoP proofs.

The tables keep the names they had when these models lived in ``tokens`` (``tokens_clientsecret``, …):
moving the models moved no row (clients/migrations/0001_initial.py).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from communities.models import Community


class ClientSecret(models.Model):
    """A community's secret, stored as a salted SHA-256 digest plus a short display hint.

    A community holds one current secret, and briefly a second one during a rotation's grace window.
    """

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="secrets", verbose_name=_("community")
    )
    hint = models.CharField(_("hint"), max_length=32)
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Null while current; set when a rotation gives it a grace window (or ends it at once).
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # clients.crypto.lookup_digest: finds a secret reported leaked (SPEC §2.9). Empty for secrets made
    # before it existed (those are found by comparing every valid one's digest).
    lookup = models.CharField(max_length=64, blank=True, db_index=True)
    # When a secret scanner reported it leaked, and it was suspended for that (SPEC §2.9).
    reported_leaked_at = models.DateTimeField(_("reported leaked at"), null=True, blank=True)

    class Meta:
        db_table = "tokens_clientsecret"
        verbose_name = _("client secret")
        verbose_name_plural = _("client secrets")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["community", "valid_until"], name="secret_community_validity")]

    def __str__(self) -> str:
        # The hint only, never the secret: "Segredo bfl_sk_AbCd… de acme".
        return _("Secret %(hint)s of %(client_id)s") % {
            "hint": self.hint,
            "client_id": self.community.client_id,
        }

    def __repr__(self) -> str:
        return f"<ClientSecret {self.pk} {self.hint}>"

    def is_valid_at(self, moment) -> bool:
        return self.valid_until is None or self.valid_until > moment


class ClientAuthPolicy(models.Model):
    """How a community's server may authenticate (SPEC §4.1). No row: the defaults, secret only.

    Read with the community when a client authenticates and with the token at every API call.
    """

    class DPoP(models.TextChoices):
        OFF = "off", _("off")
        OPTIONAL = "optional", _("optional")
        REQUIRED = "required", _("required")

    community = models.OneToOneField(
        Community,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="auth_policy",
        verbose_name=_("community"),
    )
    # Named as the console names the methods everywhere else ("Segredo do parceiro (client_secret)").
    allow_client_secret = models.BooleanField(_("partner's secret (client_secret) accepted"), default=True)
    allow_private_key_jwt = models.BooleanField(
        _("signature with the partner's key (private_key_jwt) accepted"), default=False
    )
    dpop = models.CharField(_("DPoP"), max_length=10, choices=DPoP.choices, default=DPoP.OFF)
    # Normalised CIDR strings ("203.0.113.0/24", "2001:db8::/32"); empty: from anywhere.
    allowed_ips = models.JSONField(_("allowed source IPs"), default=list, blank=True)
    allowlist_applies_to_api = models.BooleanField(_("allowlist also for API calls"), default=False)
    updated_at = models.DateTimeField(pgettext_lazy("policy", "updated at"), auto_now=True)  # "atualizada"

    class Meta:
        db_table = "tokens_clientauthpolicy"
        verbose_name = _("client authentication policy")
        verbose_name_plural = _("client authentication policies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(allow_client_secret=True) | models.Q(allow_private_key_jwt=True),
                name="auth_policy_allows_some_method",
            ),
        ]

    def __str__(self) -> str:
        # "Policy of <name> (<client_id>)": a name that already says "community" is not said twice.
        return _("Policy of %(community)s") % {"community": self.community}


class ClientKey(models.Model):
    """A partner's public key for ``private_key_jwt`` (RFC 7523), stored as a public JWK.

    Never a private key. Retiring sets ``retired_at`` (at once, no grace): the row stays for the trail.
    """

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="client_keys", verbose_name=_("community")
    )
    kid = models.CharField(_("key ID (kid)"), max_length=100)
    thumbprint = models.CharField(_("thumbprint (RFC 7638)"), max_length=64)
    key_type = models.CharField(_("key type"), max_length=20)
    public_jwk = models.JSONField(_("public key (JWK)"))
    # "chave" is feminine: "criada em", beside "aposentada em".
    created_at = models.DateTimeField(pgettext_lazy("key", "created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        db_table = "tokens_clientkey"
        verbose_name = _("client public key")
        verbose_name_plural = _("client public keys")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "kid"],
                condition=models.Q(retired_at__isnull=True),
                name="client_key_active_kid_unique",
            ),
            # One key identifies one partner: active for one community at most, whatever its kid, so
            # that two registrations of one key for two communities at the same moment cannot both
            # succeed (clients.services.keys turns the loser's IntegrityError into the usual refusal).
            models.UniqueConstraint(
                fields=["thumbprint"],
                condition=models.Q(retired_at__isnull=True),
                name="client_key_active_thumbprint_unique",
            ),
        ]
        indexes = [models.Index(fields=["community", "retired_at"], name="client_key_community_active")]

    def __str__(self) -> str:
        return f"{self.kid} ({self.community_id})"


class UsedJti(models.Model):
    """A ``jti`` already seen (client assertion or DPoP proof), kept until it could no longer be replayed.

    Single use rests on the primary key, not on the cache: a replay on any process, any server, hits
    the unique row. ``key`` is a digest of (kind, issuer, jti), so caller input is bounded and opaque.
    """

    key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "tokens_usedjti"
        verbose_name = _("used jti")
        verbose_name_plural = _("used jtis")

    def __str__(self) -> str:
        return f"used jti {self.key[:12]}…"
