"""Client secrets: creation, rotation with a grace window, and ending that window early."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients import crypto
from clients.models import ClientSecret
from communities.models import Community
from notifications import events
from notifications.services import notifications_withdraw, notify_rotation

MAX_GRACE = timedelta(days=7)
Event = AuditEvent.EventType


@dataclass(frozen=True)
class SecretRotation:
    community: Community
    client_secret: str = field(repr=False)
    previous_secret_valid_until: datetime | None
    #: Secrets older than the previous one that were still in a grace window, and stop now.
    older_secrets_stopped: int = 0
    #: Live tokens revoked with it (tokens.services.community_rotate_secret), else 0.
    tokens_revoked: int = 0
    #: The hints of the secrets this rotation ended at once, newest first (its audit row's ``ended_hints``).
    ended_hints: tuple[str, ...] = ()


def secrets_ended(secrets: list[ClientSecret]) -> list[dict[str, Any]]:
    """Which secrets a cut-off ended, and until when each works, for its audit row: what
    ``post_restore`` re-applies after a database restore undid the change (never a digest or a hint)."""
    return [
        {"id": secret.pk, "valid_until": secret.valid_until.isoformat() if secret.valid_until else None}
        for secret in secrets
    ]


def _store(community: Community, secret: str) -> crypto.SecretDigest:
    stored = crypto.digest_secret(secret, lookup_key=settings.SECRET_KEY)
    ClientSecret.objects.create(
        community=community, hint=stored.hint, salt=stored.salt, digest=stored.digest, lookup=stored.lookup
    )
    return stored


@transaction.atomic
def secret_create(*, community: Community, actor: Actor) -> str:
    """Create a secret for a new community; the plaintext is returned here, once, and never again."""
    secret = crypto.generate_secret()
    stored = _store(community, secret)
    audit_record(
        event_type=Event.SECRET_CREATED, actor=actor, community=community, details={"hint": stored.hint}
    )
    return secret


@transaction.atomic
def secret_rotate(
    *,
    community: Community,
    actor: Actor,
    grace: timedelta = timedelta(0),
    reason: str = "",
    suspended_hints: tuple[str, ...] = (),
) -> SecretRotation:
    """Issue a new secret; the current one keeps working for ``grace`` (at most 7 days), then stops.

    Only the newest previous secret gets the grace window: any older one stops now, so a community
    never holds more than two valid secrets. ``suspended_hints``: the secrets a revocation request
    suspended, which the rotation completing it ends for good (they work no more already).
    """
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValidationError(_("The grace period must be between 0 and 7 days."))
    community = Community.objects.select_for_update().get(pk=community.pk)
    now = timezone.now()
    valid = list(
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now).order_by("-created_at")
    )
    valid_until = now + grace if valid else None
    ended_now = [secret.hint for secret in _ended_by_rotation(valid, grace)]
    for position, old in enumerate(valid):
        old.valid_until = valid_until if position == 0 else now
        old.save(update_fields=["valid_until"])
    secret = crypto.generate_secret()
    stored = crypto.digest_secret(secret, lookup_key=settings.SECRET_KEY)
    created = ClientSecret.objects.create(
        community=community, hint=stored.hint, salt=stored.salt, digest=stored.digest, lookup=stored.lookup
    )
    details = {
        "hint": stored.hint,
        "grace_seconds": int(grace.total_seconds()),
        # Which secrets this rotation ended at once (by hint): an older one still in its grace
        # window, and with no grace the current one too.
        "ended_hints": ended_now,
        "reason": reason,
        "secret_id": created.pk,
        "secrets_ended": secrets_ended(valid),
    }
    if suspended_hints:  # only a revocation request's completion: "—" would say none ended
        details["ended_suspended_hints"] = list(suspended_hints)
    audit_record(event_type=Event.SECRET_ROTATED, actor=actor, community=community, details=details)
    notify_rotation(community=community, hint=stored.hint, previous_valid_until=valid_until)
    return SecretRotation(
        community=community,
        client_secret=secret,
        previous_secret_valid_until=valid_until,
        older_secrets_stopped=max(len(valid) - 1, 0),
        ended_hints=tuple(ended_now),
    )


def _ended_by_rotation(valid: list[ClientSecret], grace: timedelta) -> list[ClientSecret]:
    """Of the secrets valid now (newest first), those a rotation with ``grace`` ends at once: the newest
    keeps working for ``grace`` (with none, it ends too), every older one ends now."""
    return list(valid) if grace <= timedelta(0) else list(valid[1:])


def secrets_a_rotation_ends(*, community: Community, grace: timedelta = timedelta(0)) -> list[ClientSecret]:
    """Which secrets a rotation now with ``grace`` would end at once, newest first: exactly the ones its
    audit row's ``ended_hints`` will name. The console lists them before anyone confirms."""
    now = timezone.now()
    valid = list(
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now).order_by("-created_at")
    )
    return _ended_by_rotation(valid, grace)


def secret_in_grace(*, community: Community) -> ClientSecret | None:
    """The previous secret still working beside the current one (a rotation's grace window), else None.

    A rotation now would end it at once: the console names it (hint, last use) and asks first.
    """
    now = timezone.now()
    valid = list(
        ClientSecret.objects.filter(community=community)
        .exclude(valid_until__lte=now)
        .order_by("-created_at")[:2]
    )
    return valid[1] if len(valid) > 1 and valid[1].valid_until is not None else None


def secret_grace_window_end(*, community: Community) -> datetime | None:
    """When the open grace window ends (a previous secret still works beside the current one), else None.

    Rotating again while it is open stops that previous secret at once: only the newest previous secret
    ever gets a grace window.
    """
    now = timezone.now()
    valid = (
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now).order_by("-created_at")
    )
    in_grace = [secret.valid_until for secret in valid[1:] if secret.valid_until is not None]
    return max(in_grace) if in_grace else None


@transaction.atomic
def secret_expire_previous(*, community: Community, actor: Actor, reason: str = "") -> list[ClientSecret]:
    """End a rotation's grace window now: every valid secret but the newest stops at once. Returns the
    secrets it ended, newest first (staff are told which, by hint)."""
    Community.objects.select_for_update().get(pk=community.pk)  # authentication.client_still_entitled
    now = timezone.now()
    valid = list(
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now).order_by("-created_at")
    )
    previous = [secret.pk for secret in valid[1:]]
    stopped = ClientSecret.objects.filter(pk__in=previous).update(valid_until=now)
    for secret in valid[1:]:
        secret.valid_until = now
    if stopped:
        notifications_withdraw(community=community, event=events.SECRET_EXPIRING)
        audit_record(
            event_type=Event.SECRET_EXPIRED,
            actor=actor,
            community=community,
            details={"secrets_stopped": stopped, "reason": reason, "secrets_ended": secrets_ended(valid[1:])},
        )
    return valid[1:] if stopped else []
