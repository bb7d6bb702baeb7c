"""Partner communities and their members' bflus balances."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Identifiers travel in URLs, headers and logs: letters, digits and a few safe marks, matched exactly.
# Written as OpenAPI (ECMA-262) documents them; the validators below end with \Z instead, because
# Python's "$" also matches before a trailing newline ("acme\n" would pass).
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MEMBER_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+:~-]{0,63}$"


def _whole(pattern: str) -> str:
    return pattern.removesuffix("$") + r"\Z"


class Community(models.Model):
    """A partner community: its public ``client_id``, what it may do, and whether it may do it now."""

    client_id = models.CharField(
        _("client ID"),
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                _whole(CLIENT_ID_PATTERN),
                _("Up to 64 letters, digits, '.', '-' and '_', starting with a letter or digit."),
            )
        ],
    )
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    token_lifetime = models.DurationField(
        _("token lifetime"),
        null=True,
        blank=True,
        help_text=_("Shorter than the default, like 1h; blank: the default."),
    )
    # Tokens issued before this moment are refused, whatever their own state ("revoke all").
    tokens_revoked_before = models.DateTimeField(_("tokens revoked before"), null=True, blank=True)
    # "Criada em": comunidade is feminine in Portuguese.
    created_at = models.DateTimeField(pgettext_lazy("community", "created at"), auto_now_add=True)
    updated_at = models.DateTimeField(pgettext_lazy("community", "updated at"), auto_now=True)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["client_id"]
        constraints = [
            # "acme" and "ACME" would be two tenants that staff, partners and logs cannot tell apart
            # (SPEC §4). Matching stays exact: a client_id keeps the case it was created with.
            models.UniqueConstraint(
                Lower("client_id"),
                name="community_client_id_unique_ignoring_case",
                violation_error_message=_(
                    "A community with this client ID, ignoring letter case, already exists."
                ),
            ),
        ]
        permissions = [
            ("rotate_secret", _("Can rotate a community's client secret")),
            ("deactivate_community", _("Can deactivate and reactivate a community")),
            ("revoke_community_tokens", _("Can revoke all tokens of a community")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class Member(models.Model):
    """One member of a community, known by the community's own reference for them (e.g. ``123``)."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="members", verbose_name=_("community")
    )
    reference = models.CharField(
        _("member reference"),
        max_length=64,
        validators=[
            RegexValidator(
                _whole(MEMBER_REFERENCE_PATTERN),
                _("Up to 64 letters, digits and . _ @ + : ~ -, starting with a letter or digit."),
            )
        ],
    )
    bflus = models.BigIntegerField(_("bflus"), default=0, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["community", "reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "reference"],
                name="member_unique_per_community",
                violation_error_message=_("This community already has a member with this reference."),
            ),
            models.CheckConstraint(condition=models.Q(bflus__gte=0), name="member_bflus_not_negative"),
        ]

    def __str__(self) -> str:
        return _("Member %(reference)s of %(client_id)s") % {
            "reference": self.reference,
            "client_id": self.community.client_id,
        }


class UsageDay(models.Model):
    """A community's API calls and failed client authentications on one day (the console's zone).

    Copied from the cache's day counters (``bfluence.usage``) by ``usage_days_flush``: counting costs
    no database write per call. A flush sets a day's counts to the larger of the stored and the
    counted value, so flushing twice, or after the cache lost a counter, never lowers them.
    """

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="usage_days", verbose_name=_("community")
    )
    day = models.DateField(_("day"))
    api_calls = models.PositiveBigIntegerField(_("API calls"), default=0)
    auth_failures = models.PositiveBigIntegerField(_("failed authentications"), default=0)

    class Meta:
        verbose_name = _("usage of a day")
        verbose_name_plural = _("usage per day")
        constraints = [models.UniqueConstraint(fields=["community", "day"], name="usage_day_unique")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day}"
