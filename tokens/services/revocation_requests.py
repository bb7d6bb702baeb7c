"""Revocation requests: a partner's "our credentials are compromised", and staff closing it."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record, log_auth_decision
from bfluence.scrub import scrub
from clients.models import ClientSecret
from clients.services import SecretRotation, secrets_ended
from communities.models import Community
from notifications import events
from notifications.services import notify
from tokens.models import IssuedToken, RevocationRequest
from tokens.services.lifecycle import community_rotate_secret
from tokens.services.revocation import still_accepted_after, tokens_revoke_all

Event = AuditEvent.EventType
Source = RevocationRequest.Source


def revocation_request_open(
    *,
    community: Community,
    reason: str,
    actor: Actor,
    leaked_secret: ClientSecret | None = None,
    evidence_url: str = "",
) -> RevocationRequest:
    """ "Our credentials are compromised" (SPEC §2.7): stop every current secret and every token now, and
    queue the request for staff.

    Whoever holds the leaked secret must not mint one more token, so every secret valid now is
    suspended, for good: its validity ends now, and nothing ever extends a secret's validity again (a
    later rotation gives a grace window only to secrets still valid). Staff hand over a new secret.

    With ``leaked_secret`` (a secret scanner's report, SPEC §2.9) exactly that secret is suspended, and
    the request records the scanner as its source and ``evidence_url``; the caller checked, under the
    community's lock, that the secret is still valid. Once committed, the decision is logged like every
    other (``bfluence.auth``).
    """
    request = _revocation_request_open(
        community=community,
        reason=reason,
        actor=actor,
        leaked_secret=leaked_secret,
        evidence_url=evidence_url,
    )
    log_auth_decision(
        outcome="revocation_requested",
        client_id=community.client_id,
        source_ip=actor.source_ip,
    )
    return request


@transaction.atomic
def _revocation_request_open(
    *,
    community: Community,
    reason: str,
    actor: Actor,
    leaked_secret: ClientSecret | None,
    evidence_url: str,
) -> RevocationRequest:
    reason = scrub(reason)  # people paste the leaked secret or token as evidence
    # The community row first, as every cut-off (clients.services.client_still_entitled).
    community = Community.objects.select_for_update().get(pk=community.pk)
    now = timezone.now()
    secrets = ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now)
    if leaked_secret is not None:
        secrets = secrets.filter(pk=leaked_secret.pk)
        ClientSecret.objects.filter(pk=leaked_secret.pk).update(reported_leaked_at=now)
    current = list(secrets)
    suspended = ClientSecret.objects.filter(pk__in=[secret.pk for secret in current]).update(valid_until=now)
    for secret in current:
        secret.valid_until = now
    revoked = tokens_revoke_all(
        community=community,
        actor=actor,
        reason=_("revocation request: %(reason)s") % {"reason": reason[:200]},
    )
    request = RevocationRequest.objects.create(
        community=community,
        reason=reason,
        opened_by=str(actor)[:200],
        source_ip=actor.source_ip,
        tokens_revoked=revoked,
        secrets_suspended=suspended,
        source=_source(actor, leaked_secret),
        evidence_url=scrub(evidence_url)[:1000],
    )
    audit_record(
        event_type=Event.REVOCATION_REQUEST_OPENED,
        actor=actor,
        community=community,
        details={
            "request_id": request.pk,
            "tokens_revoked": revoked,
            "secrets_suspended": suspended,
            "secrets_ended": secrets_ended(current),
            "source": request.source,
            "evidence_url": request.evidence_url,
        },
    )
    facts: dict[str, object] = {
        "request_id": request.pk,
        "tokens_revoked": revoked,
        "secrets_suspended": suspended,
    }
    if leaked_secret is not None:
        facts.update(secret_hint=leaked_secret.hint, found_at=request.evidence_url)
    notify(
        community=community,
        event=events.SECRET_LEAKED if leaked_secret else events.SECRETS_SUSPENDED,
        data=facts,
    )
    return request


def _source(actor: Actor, leaked_secret: ClientSecret | None) -> str:
    """Who reported it: a secret scanner, staff in the console, else the partner itself."""
    if leaked_secret is not None:
        return Source.SECRET_SCANNING
    return Source.STAFF if actor.kind == "staff" else Source.PARTNER


@transaction.atomic
def revocation_request_handle(
    *, revocation: RevocationRequest, staff_user: User, source_ip: str | None = None, reason: str = ""
) -> SecretRotation:
    """Close a revocation request the safe way: a new secret now (shown once), every token revoked.

    There is no grace window to give: the reported secrets were suspended when the request was opened,
    and a rotation extends no secret that is no longer valid.

    Two people: whoever opened a request in the console cannot also complete it, so no one account
    can both cut a partner off and obtain its next secret. Requests the partner opened have no such
    opener.
    """
    revocation = RevocationRequest.objects.select_for_update().get(pk=revocation.pk)
    if revocation.status != RevocationRequest.Status.PENDING:
        raise ValidationError(_("This revocation request has already been handled."))
    actor = Actor.staff(staff_user, source_ip=source_ip)
    if revocation.opened_by == str(actor):
        raise ValidationError(_("You opened this request: someone else must complete it."))
    # The secrets opening the request suspended stop for good now: the rotation's row names them.
    suspended = ClientSecret.objects.filter(
        pk__in=secrets_named_on_opening(revocation.community_id, [revocation.pk])
    ).order_by("-created_at")
    rotation = community_rotate_secret(
        community=revocation.community,
        actor=actor,
        revoke_tokens=True,
        reason=reason or _("revocation request #%(id)s") % {"id": revocation.pk},
        suspended_hints=tuple(secret.hint for secret in suspended),
    )
    revocation.status = RevocationRequest.Status.DONE
    revocation.handled_by = staff_user
    revocation.handled_at = timezone.now()
    revocation.save(update_fields=["status", "handled_by", "handled_at"])
    audit_record(
        event_type=Event.REVOCATION_REQUEST_HANDLED,
        actor=actor,
        community=revocation.community,
        details={"request_id": revocation.pk, "tokens_revoked": rotation.tokens_revoked, "reason": reason},
    )
    notify(
        community=revocation.community,
        event=events.REVOCATION_REQUEST_COMPLETED,
        data={"request_id": revocation.pk, "tokens_revoked": rotation.tokens_revoked},
    )
    return rotation


def secrets_named_on_opening(community_id: int, request_ids: list[int]) -> list[int]:
    """The ids of the secrets these requests suspended: the ``secrets_ended`` of their opening audit rows
    (a request keeps only their count)."""
    if not request_ids:
        return []
    opened = AuditEvent.objects.filter(
        community_id=community_id,
        event_type=AuditEvent.EventType.REVOCATION_REQUEST_OPENED,
        details__request_id__in=request_ids,
    ).values_list("details", flat=True)
    return [
        item["id"]
        for details in opened
        for item in details.get("secrets_ended", [])
        if isinstance(item, dict) and isinstance(item.get("id"), int)
    ]


@dataclass(frozen=True)
class TokensCompletionRevokes:
    """The live tokens completing a request revokes: every token opening it revoked is gone already, so
    these were issued since (with a key the request left working, or a secret handed over later)."""

    community: Community
    count: int = 0
    with_key: int = 0  # of them, obtained by signing with one of the community's keys

    @property
    def all_with_key(self) -> bool:
        return bool(self.count) and self.with_key == self.count


def tokens_a_completion_revokes(*, revocation: RevocationRequest) -> TokensCompletionRevokes:
    """What ``revocation_request_handle`` would revoke now (its rotation revokes every live token): staff
    see it before completing, so "completing ends nothing more" is never said while tokens would go."""
    live = IssuedToken.objects.filter(
        community=revocation.community,
        revoked_at__isnull=True,
        expires_at__gt=still_accepted_after(timezone.now()),
    )
    return TokensCompletionRevokes(
        community=revocation.community,
        count=live.count(),
        with_key=live.filter(client_key__isnull=False).count(),
    )
