"""Whether requiring DPoP would cut the partner off (SPEC §5a, "no silent cut-off"): once the policy says
``required``, its Bearer tokens (not bound to a DPoP key) are refused at once, and so is every token request
without a DPoP proof."""

from dataclasses import dataclass
from datetime import datetime, timedelta

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
    """What requiring DPoP stops: live Bearer tokens, and the partner's habit of asking without a proof."""

    live_tokens: int  # live tokens not bound to a DPoP key: refused from the moment the policy is saved
    last_issued_at: datetime | None  # the newest token issued without DPoP in the last ``RECENT``


def dpop_requirement_cuts(*, community: Community, dpop: str | None) -> BearerUse | None:
    """What switching DPoP to ``required`` would stop, or ``None`` when ``dpop`` does not switch it to
    required (it is required already, or stays off/optional) or the partner has shown no Bearer use."""
    if dpop != DPOP_REQUIRED or client_auth_policy_get(community=community).dpop == DPOP_REQUIRED:
        return None
    now = timezone.now()
    bearer = IssuedToken.objects.filter(community=community, dpop_jkt="")
    live = bearer.filter(revoked_at__isnull=True, expires_at__gt=still_accepted_after(now)).count()
    last: datetime | None = bearer.filter(issued_at__gte=now - RECENT).aggregate(last=Max("issued_at"))[
        "last"
    ]
    if not live and last is None:
        return None
    return BearerUse(live_tokens=live, last_issued_at=last)


#: Bearer tokens (bound to no DPoP key) of a community whose policy requires DPoP: the API refuses them
#: though they are neither revoked nor expired. A filter on ``IssuedToken``, so a count is one query.
REFUSED_BY_DPOP_POLICY = Q(dpop_jkt="", community__auth_policy__dpop=DPOP_REQUIRED)


def token_refused_by_dpop_policy(token: IssuedToken) -> bool:
    """Whether the API refuses ``token`` because its community's policy requires DPoP and it has none.

    Reads the policy through ``token.community.auth_policy``: a list selects it with the token
    (``select_related("community__auth_policy")``), so no row costs a query."""
    if token.dpop_jkt:
        return False
    try:
        policy = token.community.auth_policy
    except ClientAuthPolicy.DoesNotExist:  # no row: the defaults, DPoP off
        return False
    return policy.dpop == DPOP_REQUIRED
