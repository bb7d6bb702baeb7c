"""A community's client-authentication policy (SPEC §4.1): which methods, DPoP, source-IP allowlist."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.models import ClientAuthPolicy, ClientSecret
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
        try:
            allowed_ips = networks_normalise(allowed_ips)
        except ValueError as error:
            raise ValidationError(str(error)) from error
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


def policy_change_locks_out(*, community: Community, change: PolicyChange) -> bool:
    """Whether saving ``change`` would leave the community no way to authenticate: every method it
    allows lacks a working credential (keys only and no active key; secrets only and no valid secret,
    as while a revocation request holds them suspended). The console asks before saving such a change."""
    methods = (
        change.methods if change.methods is not None else client_auth_policy_get(community=community).methods
    )
    has_key = active_keys(community).exists()
    has_secret = (
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=timezone.now()).exists()
    )
    usable = (METHOD_PRIVATE_KEY_JWT in methods and has_key) or (
        METHOD_CLIENT_SECRET in methods and has_secret
    )
    return not usable


def policy_summary(policy: ClientPolicy) -> dict[str, Any]:
    """The policy as SPEC §4's ``set_client_auth --json`` prints it (plus the API-allowlist switch)."""
    return {
        "methods": policy.methods,
        "dpop": policy.dpop,
        "allowed_ips": list(policy.allowed_ips),
        "allowlist_applies_to_api": policy.allowlist_applies_to_api,
    }
