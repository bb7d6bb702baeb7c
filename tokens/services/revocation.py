"""Revoking tokens, one, some or all of a community's, and purging old records."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record, log_auth_decision
from bfluence.conf import app_settings
from bfluence.scrub import scrub
from clients.services import used_jtis_purge
from communities.models import Community
from tokens.jwt import decode_ignoring_expiry
from tokens.models import IssuedToken

Event = AuditEvent.EventType


def still_accepted_after(now: datetime) -> datetime:
    """Tokens expiring after this moment may still be accepted now: bearer checks allow ``JWT_LEEWAY``."""
    return now - timedelta(seconds=app_settings().leeway_seconds)


def _revoke_queryset(queryset: QuerySet[IssuedToken], *, actor: Actor, reason: str, now: datetime) -> int:
    """Revoke every token of ``queryset`` that would still be accepted, leeway included."""
    return queryset.filter(revoked_at__isnull=True, expires_at__gt=still_accepted_after(now)).update(
        revoked_at=now, revoked_by=scrub(str(actor))[:200], revocation_reason=scrub(reason)[:500]
    )


def token_revoke_presented(*, community: Community, raw_token: str, actor: Actor) -> bool:
    """RFC 7009: revoke the presented token if it is this community's. Never another's.

    The decision is logged like every other (``bfluence.auth``): ``revoked`` with the jti, or
    ``revoke_ignored`` for a token that is unknown, invalid, another community's or already revoked.
    """
    claims = decode_ignoring_expiry(raw_token)
    own = claims is not None and claims.get("community") == community.client_id
    jti = str(claims["jti"]) if own and claims is not None else ""
    with transaction.atomic():
        revoked = bool(
            own
            and tokens_revoke(
                community=community,
                jtis=[jti],
                actor=actor,
                reason=_("revoked by the partner (RFC 7009)"),
            )
        )
    log_auth_decision(
        outcome="revoked" if revoked else "revoke_ignored",
        reason="" if revoked else ("already_revoked_or_unknown" if own else "not_this_clients_token"),
        client_id=community.client_id,
        jti=jti,
        source_ip=actor.source_ip,
    )
    return revoked


@transaction.atomic
def jtis_not_issued_to(*, community: Community, jtis: list[str]) -> list[str]:
    """The jtis in ``jtis`` that were never issued to ``community`` (unknown, or another community's)."""
    issued = set(IssuedToken.objects.filter(community=community, pk__in=jtis).values_list("pk", flat=True))
    return [jti for jti in dict.fromkeys(jtis) if jti not in issued]


def tokens_revoke(*, community: Community, jtis: list[str], actor: Actor, reason: str) -> int:
    """Revoke the listed tokens of one community; tokens of other communities are left alone."""
    now = timezone.now()
    revoked = 0
    for jti in dict.fromkeys(jtis):
        if _revoke_queryset(
            IssuedToken.objects.filter(pk=jti, community=community), actor=actor, reason=reason, now=now
        ):
            revoked += 1
            audit_record(
                event_type=Event.TOKEN_REVOKED,
                actor=actor,
                community=community,
                jti=jti,
                details={"reason": reason},
            )
    return revoked


@transaction.atomic
def tokens_revoke_all(*, community: Community, actor: Actor, reason: str) -> int:
    """Revoke every outstanding token of a community, including any being issued right now."""
    now = timezone.now()
    # The cut-off also catches a token whose issuing transaction commits after this one.
    Community.objects.filter(pk=community.pk).update(tokens_revoked_before=now)
    community.tokens_revoked_before = now
    revoked = _revoke_queryset(
        IssuedToken.objects.filter(community=community), actor=actor, reason=reason, now=now
    )
    audit_record(
        event_type=Event.TOKENS_REVOKED_ALL,
        actor=actor,
        community=community,
        details={"reason": reason, "revoked": revoked},
    )
    return revoked


def tokens_purge(*, older_than: timedelta, actor: Actor, batch_size: int = 5000) -> int:
    """Delete records of tokens expired more than ``older_than`` ago, in short batches.

    Each batch is its own small transaction, so purging tens of millions of rows never holds long
    locks while the service keeps serving. The audit trail keeps the history.
    """
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                IssuedToken.objects.filter(expires_at__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            deleted += IssuedToken.objects.filter(pk__in=batch).delete()[0]
    used_jtis_purge()  # single-use jtis that have expired can no longer be replayed anyway
    audit_record(
        event_type=Event.TOKENS_PURGED,
        actor=actor,
        details={"deleted": deleted, "older_than_seconds": int(older_than.total_seconds())},
    )
    return deleted
