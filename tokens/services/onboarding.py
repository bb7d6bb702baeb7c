"""Community lifecycle steps that also touch credentials: onboarding with a first secret, deactivation
that revokes every token, and the demo community. They sit here, above ``communities``, because they
drive both apps; the community records themselves stay in ``communities.services``.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from communities.models import Community, Member
from communities.services import community_reactivate, community_register, member_set_bflus
from tokens.services.client_secrets import secret_create, secret_rotate
from tokens.services.revocation import tokens_revoke_all

Event = AuditEvent.EventType


@dataclass(frozen=True)
class NewCommunity:
    community: Community
    client_secret: str = field(repr=False)


@transaction.atomic
def community_create(
    *,
    client_id: str,
    name: str,
    actor: Actor,
    permissions: list[str] | None = None,
    token_lifetime: timedelta | None = None,
) -> NewCommunity:
    """Onboard a community with its first secret, which is returned here once and never again."""
    community = community_register(
        client_id=client_id, name=name, actor=actor, permissions=permissions, token_lifetime=token_lifetime
    )
    return NewCommunity(community=community, client_secret=secret_create(community=community, actor=actor))


@transaction.atomic
def community_deactivate(*, community: Community, actor: Actor, reason: str = "") -> Community:
    """An inactive community gets no tokens, and the ones it has are revoked for good."""
    Community.objects.filter(pk=community.pk).update(is_active=False)
    community.is_active = False
    revoked = tokens_revoke_all(community=community, actor=actor, reason=reason or _("community deactivated"))
    audit_record(
        event_type=Event.COMMUNITY_DEACTIVATED,
        actor=actor,
        community=community,
        details={"reason": reason, "tokens_revoked": revoked},
    )
    return community


DEMO_CLIENT_ID = "demo-community"
DEMO_MEMBERS = {"123": 1500, "456": 320, "789": 0}


@transaction.atomic
def community_seed_demo(*, actor: Actor) -> NewCommunity:
    """The demo community with a few members. Run again, it gets a fresh secret (the old one stops):
    a secret is never shown twice, so a new one is the only way to print working credentials."""
    community = Community.objects.filter(client_id=DEMO_CLIENT_ID).first()
    if community is None:
        created = community_create(
            client_id=DEMO_CLIENT_ID, name="Comunidade Demo", actor=actor, permissions=["bflus:read"]
        )
        community, secret = created.community, created.client_secret
    else:
        if not community.is_active:
            community = community_reactivate(community=community, actor=actor, reason="seed_demo")
        secret = secret_rotate(community=community, actor=actor, reason="seed_demo").client_secret
    for reference, bflus in DEMO_MEMBERS.items():
        if not Member.objects.filter(community=community, reference=reference).exists():
            member_set_bflus(community=community, reference=reference, bflus=bflus, actor=actor)
    return NewCommunity(community=community, client_secret=secret)
