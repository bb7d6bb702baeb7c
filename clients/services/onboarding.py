"""Onboarding a community with its first secret, and the demo community. Here, above ``communities``,
because they create credentials too; the community records themselves stay in ``communities.services``.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from audit.services import Actor
from clients.services.secrets import secret_create, secret_rotate
from communities.models import Community, Member
from communities.services import community_reactivate, community_register, member_set_bflus


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
