"""Revocation requests: a partner's "our credentials are compromised", and staff closing it."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bfluence.scrub import scrub
from communities.models import Community
from tokens.audit import Actor, audit_record
from tokens.models import AuditEvent, RevocationRequest
from tokens.services.client_secrets import SecretRotation, secret_rotate
from tokens.services.revocation import tokens_revoke_all

Event = AuditEvent.EventType


@transaction.atomic
def revocation_request_open(*, community: Community, reason: str, actor: Actor) -> RevocationRequest:
    """"Our credentials are compromised": revoke every token now, and queue the request for staff."""
    reason = scrub(reason)  # people paste the leaked secret or token as evidence
    revoked = tokens_revoke_all(community=community, actor=actor,
                                reason=_("revocation request: %(reason)s") % {"reason": reason[:200]})
    request = RevocationRequest.objects.create(community=community, reason=reason, opened_by=str(actor),
                                               source_ip=actor.source_ip, tokens_revoked=revoked)
    audit_record(event_type=Event.REVOCATION_REQUEST_OPENED, actor=actor, community=community,
                 details={"request_id": request.pk, "tokens_revoked": revoked})
    return request


@transaction.atomic
def revocation_request_handle(*, revocation: RevocationRequest, staff_user: User,
                              grace: timedelta = timedelta(0)
                              ) -> SecretRotation:
    """Close a revocation request the safe way: a new secret now (shown once), every token revoked."""
    revocation = RevocationRequest.objects.select_for_update().get(pk=revocation.pk)
    if revocation.status != RevocationRequest.Status.PENDING:
        raise ValidationError(_("This revocation request has already been handled."))
    actor = Actor.staff(staff_user)
    rotation = secret_rotate(community=revocation.community, actor=actor, grace=grace, revoke_tokens=True,
                             reason=_("revocation request #%(id)s") % {"id": revocation.pk})
    revocation.status = RevocationRequest.Status.DONE
    revocation.handled_by = staff_user
    revocation.handled_at = timezone.now()
    revocation.save(update_fields=["status", "handled_by", "handled_at"])
    audit_record(event_type=Event.REVOCATION_REQUEST_HANDLED, actor=actor, community=revocation.community,
                 details={"request_id": revocation.pk, "tokens_revoked": rotation.tokens_revoked})
    return rotation
