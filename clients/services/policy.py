"""A community's client-authentication policy (SPEC §4.1): which methods, DPoP, source-IP allowlist."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Q, QuerySet, Window
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.models import ClientAuthPolicy, ClientKey, ClientSecret
from clients.policy import (
    DPOP_MODES,
    METHOD_CLIENT_SECRET,
    METHOD_PRIVATE_KEY_JWT,
    METHODS,
    ClientPolicy,
    networks_normalise,
)
from clients.services.keys import active_keys
from communities.models import Community
from notifications import events
from notifications.services import notify

Event = AuditEvent.EventType
#: A secret used this recently is one the partner still calls with (policy changes ask before cutting it).
RECENT_USE = timedelta(days=30)


@dataclass(frozen=True)
class PolicyChange:
    """What ``client_auth_policy_set`` may change; ``None``: leave as is."""

    methods: list[str] | None = None
    dpop: str | None = None
    allowed_ips: list[str] | None = None
    allowlist_applies_to_api: bool | None = None


def client_auth_policy_get(*, community: Community) -> ClientPolicy:
    return ClientPolicy.of(ClientAuthPolicy.objects.filter(community=community).first())


def _validated(change: PolicyChange) -> PolicyChange:
    methods = change.methods
    if methods is not None:
        unknown = [method for method in methods if method not in METHODS]
        if unknown or not methods:
            raise ValidationError(
                _("Methods must be one or both of: %(known)s.") % {"known": ", ".join(METHODS)}
            )
    if change.dpop is not None and change.dpop not in DPOP_MODES:
        raise ValidationError(_("DPoP must be one of: %(known)s.") % {"known": ", ".join(DPOP_MODES)})
    allowed_ips = change.allowed_ips
    if allowed_ips is not None:
        allowed_ips = networks_normalise(allowed_ips)  # ValidationError, one message per wrong entry
    return PolicyChange(methods, change.dpop, allowed_ips, change.allowlist_applies_to_api)


@transaction.atomic
def client_auth_policy_set(
    *, community: Community, change: PolicyChange, actor: Actor, reason: str = ""
) -> ClientPolicy:
    """Set the community's allowed methods, DPoP mode and IP allowlist; unspecified parts stay.

    Keys only with no active key locks the partner out until one is added: allowed (staff may switch
    first and register the key next), and callers warn (``policy_locks_out``).
    """
    change = _validated(change)
    Community.objects.select_for_update().filter(pk=community.pk).first()
    row, _created = ClientAuthPolicy.objects.get_or_create(community=community)
    before = client_auth_policy_get(community=community)
    if change.methods is not None:
        row.allow_client_secret = METHOD_CLIENT_SECRET in change.methods
        row.allow_private_key_jwt = METHOD_PRIVATE_KEY_JWT in change.methods
    if change.dpop is not None:
        row.dpop = change.dpop
    if change.allowed_ips is not None:
        row.allowed_ips = change.allowed_ips
    if change.allowlist_applies_to_api is not None:
        row.allowlist_applies_to_api = change.allowlist_applies_to_api
    row.save()
    after = client_auth_policy_get(community=community)
    audit_record(
        event_type=Event.CLIENT_AUTH_POLICY_SET,
        actor=actor,
        community=community,
        details={"before": policy_summary(before), "after": policy_summary(after), "reason": reason},
    )
    notify(community=community, event=events.POLICY_CHANGED, data={"policy": policy_summary(after)})
    return after


def policy_locks_out(*, community: Community, policy: ClientPolicy) -> bool:
    """Keys only, and no active key: the community cannot get tokens until a key is registered."""
    return policy.methods == [METHOD_PRIVATE_KEY_JWT] and not active_keys(community).exists()


def working_methods(*, community: Community, methods: list[str] | None = None) -> list[str]:
    """The methods among ``methods`` (default: the policy's own) that have a working credential now: an
    active key for ``private_key_jwt``, a valid secret (not suspended, not ended) for ``client_secret``."""
    if methods is None:
        methods = client_auth_policy_get(community=community).methods
    working = []
    if METHOD_CLIENT_SECRET in methods and _valid_secrets(community).exists():
        working.append(METHOD_CLIENT_SECRET)
    if METHOD_PRIVATE_KEY_JWT in methods and active_keys(community).exists():
        working.append(METHOD_PRIVATE_KEY_JWT)
    return working


class ClosedWay(StrEnum):
    """Why one way to authenticate gets no token: the community is deactivated (every way, whatever the
    credential: invalid_client), the policy refuses the method, or it accepts it and the community has no
    working credential for it."""

    COMMUNITY_INACTIVE = "community_inactive"
    SECRETS_REFUSED = "secrets_refused"
    NO_VALID_SECRET = "no_valid_secret"  # every secret suspended (a revocation request) or ended
    KEYS_REFUSED = "keys_refused"
    NO_ACTIVE_KEY = "no_active_key"

    @property
    def missing_credential(self) -> bool:
        """The policy accepts the method, but no credential works: registering or handing one over helps."""
        return self in (ClosedWay.NO_VALID_SECRET, ClosedWay.NO_ACTIVE_KEY)

    @property
    def about_methods(self) -> bool:
        """A cause the policy and the credentials decide (a policy change can open or close it)."""
        return self is not ClosedWay.COMMUNITY_INACTIVE


def closed_ways(*, community: Community, methods: list[str] | None = None) -> list[ClosedWay]:
    """Why the partner can get no token with ``methods`` (default: the policy's own; a
    ``PolicyChange``'s, before saving it): first that the community is deactivated, if it is, then one
    reason per method when none of them works; empty when the partner can get a token.
    The console names these causes wherever it says no token can be obtained (a keys-only policy whose
    key was retired is not a matter of suspended secrets), and asks before saving a policy that closes
    every method (``about_methods``: deactivation is not the policy's doing)."""
    if methods is None:
        methods = client_auth_policy_get(community=community).methods
    closed = [] if community.is_active else [ClosedWay.COMMUNITY_INACTIVE]
    if working_methods(community=community, methods=methods):
        return closed
    return [
        *closed,
        ClosedWay.NO_VALID_SECRET if METHOD_CLIENT_SECRET in methods else ClosedWay.SECRETS_REFUSED,
        ClosedWay.NO_ACTIVE_KEY if METHOD_PRIVATE_KEY_JWT in methods else ClosedWay.KEYS_REFUSED,
    ]


def keys_outlasting_secrets(*, community: Community) -> int:
    """How many keys keep getting the partner tokens when its secrets are suspended (a revocation request
    stops secrets only, SPEC §2.7): its active keys, if the policy admits ``private_key_jwt`` and the
    community is active; else 0 (a deactivated community gets no token at all: invalid_client)."""
    return keys_that_outlast_secrets(community=community).count()


def keys_that_outlast_secrets(*, community: Community) -> QuerySet[ClientKey]:
    """The keys ``keys_outlasting_secrets`` counts, oldest first (staff name them by ``kid``)."""
    if not community.is_active:
        return ClientKey.objects.none()
    if METHOD_PRIVATE_KEY_JWT not in client_auth_policy_get(community=community).methods:
        return ClientKey.objects.none()
    return active_keys(community).order_by("created_at")


def communities_keys_outlast_secrets(*, limit: int = 5) -> list[tuple[Community, int]]:
    """The communities (first ``limit``, by client_id) whose keys would outlast a revocation request,
    each with how many of its keys keep working (none of a deactivated community: it gets no token)."""
    keys = active_keys_everywhere().filter(
        community__is_active=True, community__auth_policy__allow_private_key_jwt=True
    )
    communities = (
        Community.objects.filter(pk__in=keys.values("community"))
        .annotate(working_keys=Count("client_keys", filter=Q(client_keys__retired_at__isnull=True)))
        .order_by("client_id")[:limit]
    )
    return [(community, community.working_keys) for community in communities]


def communities_a_new_secret_cannot_reopen(*, limit: int | None = 3) -> tuple[list[Community], int]:
    """The communities (first ``limit``, by client_id; all with ``None``) where completing a revocation request gives the
    partner no tokens back, and how many there are in all: deactivated ones, and those whose policy
    refuses client secrets (no policy row: secrets accepted). One query: the total is a window count; each
    carries ``secrets_refused`` (a deactivated one may be both)."""
    refused = Q(auth_policy__allow_client_secret=False)
    found = (
        Community.objects.filter(Q(is_active=False) | refused)
        .annotate(
            secrets_refused=ExpressionWrapper(refused, output_field=BooleanField()), total=Window(Count("pk"))
        )
        .order_by("client_id")[:limit]
    )
    communities: list[Community] = list(found)
    total: int = found[0].total if communities else 0  # the cached rows: no second query
    return communities, total


def secret_use_a_change_cuts(*, community: Community, change: PolicyChange) -> datetime | None:
    """When a valid secret was last used, if ``change`` turns secrets off while one was used in the last
    ``RECENT_USE`` and no active key has ever been used: the partner most likely still calls with the
    secret. ``None`` when the change does not turn secrets off, or nothing suggests that."""
    if change.methods is None or METHOD_CLIENT_SECRET in change.methods:
        return None
    if METHOD_CLIENT_SECRET not in client_auth_policy_get(community=community).methods:
        return None
    if active_keys(community).filter(last_used_at__isnull=False).exists():
        return None
    last_use: datetime | None = (
        _valid_secrets(community)
        .filter(last_used_at__gte=timezone.now() - RECENT_USE)
        .aggregate(last=Max("last_used_at"))["last"]
    )
    return last_use


def active_keys_everywhere() -> QuerySet[ClientKey]:
    return ClientKey.objects.filter(retired_at__isnull=True)


def _valid_secrets(community: Community) -> QuerySet[ClientSecret]:
    return ClientSecret.objects.filter(community=community).exclude(valid_until__lte=timezone.now())


def policy_summary(policy: ClientPolicy) -> dict[str, Any]:
    """The policy as SPEC §4's ``set_client_auth --json`` prints it (plus the API-allowlist switch)."""
    return {
        "methods": policy.methods,
        "dpop": policy.dpop,
        "allowed_ips": list(policy.allowed_ips),
        "allowlist_applies_to_api": policy.allowlist_applies_to_api,
    }
