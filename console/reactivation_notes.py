"""On the reactivate page: the secrets and keys that will get the partner tokens once the community is
active again, and whether the newest secret was made while it was deactivated (a rotation then hands the
secret to staff: the partner may not have it yet, and its calls keep failing after the reactivation)."""

from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, ClientSecret
from clients.services import active_keys, client_auth_policy_get
from console.forms import console_time_zoned_inside_brackets
from console.humane import quoted_hint, words_list


def reactivation_credentials_line(community) -> str:
    """What works once reactivated, in a fixed number of queries (the policy, the secrets with the last
    deactivation's time beside them, the keys): a deactivation leaves secrets and keys as they were, so
    what is valid now is what will work, if the policy accepts it."""
    policy = client_auth_policy_get(community=community)
    secrets = _valid_secrets_since_deactivation(community) if policy.allow_client_secret else []
    kids = (
        list(active_keys(community).order_by("created_at").values_list("kid", flat=True))
        if policy.allow_private_key_jwt
        else []
    )
    named = [_secret_named(secret) for secret in secrets] + [
        _("the key %(kid)s (private_key_jwt)") % {"kid": kid} for kid in kids
    ]
    if not named:
        return _(
            "Once reactivated, the partner still cannot get tokens: none of its secrets or keys that the "
            "policy accepts works."
        )
    said = _("Once reactivated, the partner can get tokens with %(credentials)s.") % {
        "credentials": words_list(named)
    }
    if policy.dpop == ClientAuthPolicy.DPoP.REQUIRED:
        said = " ".join(
            [
                said,
                _(
                    "Each token request and each API call then also needs a DPoP proof: the policy "
                    "requires DPoP."
                ),
            ]
        )
    newest = secrets[0] if secrets else None
    deactivated_at = getattr(newest, "deactivated_at", None)  # annotated by the query below
    if newest is not None and deactivated_at is not None and newest.created_at > deactivated_at:
        said = " ".join(
            [
                said,
                _(
                    "The secret starting with %(hint)s was created while the community was deactivated "
                    "(%(moment)s): the partner may not have received it yet."
                )
                % {"hint": newest.hint, "moment": console_time_zoned_inside_brackets(newest.created_at)},
            ]
        )
    return said


def _valid_secrets_since_deactivation(community) -> list[ClientSecret]:
    """The secrets valid now, newest first, each with ``deactivated_at``: when the community was last
    deactivated (its audit trail keeps that moment; the community row does not)."""
    last_deactivation = (
        AuditEvent.objects.filter(community=community, event_type=AuditEvent.EventType.COMMUNITY_DEACTIVATED)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    return list(
        ClientSecret.objects.filter(community=community)
        .exclude(valid_until__lte=timezone.now())
        .annotate(deactivated_at=Subquery(last_deactivation))
        .order_by("-created_at")
    )


def _secret_named(secret: ClientSecret) -> str:
    if secret.valid_until is None:
        return _("the secret starting with %(hint)s") % {"hint": quoted_hint(secret.hint)}
    return _("the secret starting with %(hint)s (valid until %(moment)s)") % {
        "hint": quoted_hint(secret.hint),
        "moment": console_time_zoned_inside_brackets(secret.valid_until),
    }
