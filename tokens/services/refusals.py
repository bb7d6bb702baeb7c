"""Why the API refuses a token now, as far as its row, its community and the community's policy tell (in
the bearer check's order, tokens/authentication.py), and what requiring DPoP would cut off. The source-IP
allowlist judges the caller's address at each call, not the token: calls from outside it are refused
whatever the token, and a token issued outside it works from inside it, so it is no reason here."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Max, Q
from django.utils import timezone

from clients.models import ClientAuthPolicy
from clients.services import client_auth_policy_get
from communities.models import Community
from tokens.models import IssuedToken
from tokens.services.revocation import still_accepted_after

#: A token issued without DPoP this recently says the partner still asks for tokens without a proof.
RECENT = timedelta(days=30)
DPOP_REQUIRED = "required"


@dataclass(frozen=True)
class BearerUse:
    live_tokens: int  # live tokens bound to no DPoP key: refused from the moment the policy is saved
    last_issued_at: datetime | None  # the newest token issued without DPoP in the last ``RECENT``


def dpop_requirement_cuts(*, community: Community, dpop: str | None) -> BearerUse | None:
    """What switching DPoP to ``required`` would stop; ``None`` if ``dpop`` switches nothing or nothing stops."""
    if dpop != DPOP_REQUIRED or client_auth_policy_get(community=community).dpop == DPOP_REQUIRED:
        return None
    now = timezone.now()
    bearer = IssuedToken.objects.filter(community=community, dpop_jkt="")
    live = bearer.filter(revoked_at__isnull=True, expires_at__gt=still_accepted_after(now)).count()
    last = bearer.filter(issued_at__gte=now - RECENT).aggregate(last=Max("issued_at"))["last"]
    if not live and last is None:
        return None
    return BearerUse(live_tokens=live, last_issued_at=last)


#: Bearer tokens of a community whose policy requires DPoP: refused by the API, though live.
REFUSED_BY_DPOP_POLICY = Q(dpop_jkt="", community__auth_policy__dpop=DPOP_REQUIRED)


def token_refused_by_dpop_policy(token: IssuedToken) -> bool:
    """Whether the API refuses ``token`` for want of DPoP (a list selects ``community__auth_policy``)."""
    if token.dpop_jkt:
        return False
    try:
        policy = token.community.auth_policy
    except ClientAuthPolicy.DoesNotExist:  # no row: the defaults, DPoP off
        return False
    return policy.dpop == DPOP_REQUIRED


class TokenRefusal(StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"
    COMMUNITY_INACTIVE = "community_inactive"
    DPOP_REQUIRED = "dpop_required"


#: Tokens neither revoked nor expired that the API refuses all the same: their community is inactive, or
#: its policy requires DPoP and they are bound to no DPoP key. Not the allowlist: it refuses calls, not
#: tokens.
REFUSED_THOUGH_LIVE = Q(community__is_active=False) | REFUSED_BY_DPOP_POLICY


def api_allowlist(token: IssuedToken) -> tuple[str, ...]:
    """The networks the token's community accepts API calls from, if its policy applies the allowlist to
    API calls; () if not. Reads ``token.community.auth_policy`` (a list selects it with the tokens)."""
    try:
        policy = token.community.auth_policy
    except ClientAuthPolicy.DoesNotExist:  # no row: the defaults, no allowlist
        return ()
    return tuple(policy.allowed_ips) if policy.allowlist_applies_to_api else ()


def token_refusals(token: IssuedToken, *, now: datetime) -> list[TokenRefusal]:
    """Every reason that applies, not only the first the API meets: a revoked token whose policy now
    requires DPoP would stay refused if un-revoked. Reads ``token.community`` and its ``auth_policy``:
    a list selects both with the tokens, so this costs no query per row."""
    refusals = []
    if token.revoked_at is not None:
        refusals.append(TokenRefusal.REVOKED)
    if token.expires_at <= now:
        refusals.append(TokenRefusal.EXPIRED)
    if not token.community.is_active:
        refusals.append(TokenRefusal.COMMUNITY_INACTIVE)
    if token_refused_by_dpop_policy(token):
        refusals.append(TokenRefusal.DPOP_REQUIRED)
    return refusals
