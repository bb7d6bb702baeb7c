"""Why the API refuses a token now, as far as the token's own row, its community and the community's policy
tell, in the bearer check's order (tokens/authentication.py). Not the source-IP allowlist: it judges the
caller's address at each call, not the token, so no token is "refused by the allowlist" as such."""

from datetime import datetime
from enum import StrEnum

from django.db.models import Q

from tokens.models import IssuedToken
from tokens.services.dpop_cutoff import REFUSED_BY_DPOP_POLICY, token_refused_by_dpop_policy


class TokenRefusal(StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"
    COMMUNITY_INACTIVE = "community_inactive"
    DPOP_REQUIRED = "dpop_required"


#: Tokens neither revoked nor expired that the API refuses all the same: their community is inactive, or
#: its policy requires DPoP and they are bound to no DPoP key.
REFUSED_THOUGH_LIVE = Q(community__is_active=False) | REFUSED_BY_DPOP_POLICY


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
