"""Cut-offs that end a community's credentials and its tokens together: deactivation, a secret
rotation that also revokes the live tokens, a partner key retired with the tokens it obtained. Each is
one transaction."""

import dataclasses
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.models import ClientKey
from clients.services import SecretRotation, client_key_retire, secret_rotate
from communities.models import Community
from notifications import events
from notifications.services import notify
from tokens.models import IssuedToken
from tokens.services.revocation import still_accepted_after, tokens_revoke, tokens_revoke_all


@transaction.atomic
def community_rotate_secret(
    *,
    community: Community,
    actor: Actor,
    grace: timedelta = timedelta(0),
    revoke_tokens: bool = False,
    reason: str = "",
    suspended_hints: tuple[str, ...] = (),
) -> SecretRotation:
    """A new secret (``clients.services.secret_rotate``), and with ``revoke_tokens`` every live token
    revoked in the same transaction."""
    rotation = secret_rotate(
        community=community, actor=actor, grace=grace, reason=reason, suspended_hints=suspended_hints
    )
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


@dataclasses.dataclass(frozen=True)
class KeyRetirement:
    key: ClientKey
    tokens_revoked: int


@transaction.atomic
def community_retire_key(
    *, community: Community, kid: str, actor: Actor, reason: str = "", revoke_tokens: bool = True
) -> KeyRetirement:
    """Retire a partner key at once (``clients.services.client_key_retire``) and, unless told to keep
    them (a planned retirement), revoke every live token the key obtained, in the same transaction.

    The retirement locks the community row first, so a token being issued with the key right now either
    committed before (and is revoked here) or waits and is then refused (SPEC §4, architecture.md).
    """
    key = client_key_retire(community=community, kid=kid, actor=actor, reason=reason)
    if not revoke_tokens:
        return KeyRetirement(key=key, tokens_revoked=0)
    live = IssuedToken.objects.filter(
        community=community,
        client_key=key,
        revoked_at__isnull=True,
        expires_at__gt=still_accepted_after(timezone.now()),
    )
    revoked = tokens_revoke(
        community=community,
        jtis=list(live.values_list("jti", flat=True)),
        actor=actor,
        reason=reason or _("the partner key that obtained it was retired"),
    )
    return KeyRetirement(key=key, tokens_revoked=revoked)
