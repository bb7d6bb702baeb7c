"""Cut-offs that end a community's credentials and its tokens together: deactivation, and a secret
rotation that also revokes the live tokens. Each is one transaction."""

import dataclasses
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.services import SecretRotation, secret_rotate
from communities.models import Community
from notifications import events
from notifications.services import notify
from tokens.services.revocation import tokens_revoke_all


@transaction.atomic
def community_rotate_secret(
    *,
    community: Community,
    actor: Actor,
    grace: timedelta = timedelta(0),
    revoke_tokens: bool = False,
    reason: str = "",
) -> SecretRotation:
    """A new secret (``clients.services.secret_rotate``), and with ``revoke_tokens`` every live token
    revoked in the same transaction."""
    rotation = secret_rotate(community=community, actor=actor, grace=grace, reason=reason)
    if not revoke_tokens:
        return rotation
    revoked = tokens_revoke_all(community=community, actor=actor, reason=reason or _("secret rotated"))
    return dataclasses.replace(rotation, tokens_revoked=revoked)


@transaction.atomic
def community_deactivate(*, community: Community, actor: Actor, reason: str = "") -> Community:
    """An inactive community gets no tokens, and the ones it has are revoked for good."""
    Community.objects.filter(pk=community.pk).update(is_active=False)
    community.is_active = False
    revoked = tokens_revoke_all(community=community, actor=actor, reason=reason or _("community deactivated"))
    audit_record(
        event_type=AuditEvent.EventType.COMMUNITY_DEACTIVATED,
        actor=actor,
        community=community,
        details={"reason": reason, "tokens_revoked": revoked},
    )
    notify(community=community, event=events.COMMUNITY_DEACTIVATED, data={"tokens_revoked": revoked})
    return community
