"""Stronger client authentication, per community (SPEC §4, §4.1): public keys, the policy, used jtis."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from communities.models import Community
from tokens.keys import UnacceptableKey, public_key_parse
from tokens.models import ClientAuthPolicy, ClientKey, UsedJti
from tokens.policy import (
    DPOP_MODES,
    METHOD_CLIENT_SECRET,
    METHOD_PRIVATE_KEY_JWT,
    METHODS,
    ClientPolicy,
    networks_normalise,
)

Event = AuditEvent.EventType
MAX_ACTIVE_KEYS = 5  # rotation needs two; five leaves room, and bounds the work of a kid-less assertion


@dataclass(frozen=True)
class PolicyChange:
    """What ``client_auth_policy_set`` may change; ``None``: leave as is."""

    methods: list[str] | None = None
    dpop: str | None = None
    allowed_ips: list[str] | None = None
    allowlist_applies_to_api: bool | None = None


def client_auth_policy_get(*, community: Community) -> ClientPolicy:
    row = ClientAuthPolicy.objects.filter(community=community).first()
    if row is None:
        return ClientPolicy()
    return ClientPolicy(
        row.allow_client_secret,
        row.allow_private_key_jwt,
        row.dpop,
        tuple(row.allowed_ips),
        row.allowlist_applies_to_api,
    )


def _active_keys(community: Community) -> QuerySet[ClientKey]:
    return ClientKey.objects.filter(community=community, retired_at__isnull=True)


@transaction.atomic
def client_key_add(*, community: Community, key_text: str, actor: Actor) -> ClientKey:
    """Register a partner's public key (PEM or JWK) for ``private_key_jwt``; private keys are refused."""
    try:
        parsed = public_key_parse(key_text)
    except UnacceptableKey as error:
        raise ValidationError(str(error)) from error
    Community.objects.select_for_update().filter(pk=community.pk).first()  # one change at a time
    active = _active_keys(community)
    if active.filter(thumbprint=parsed.thumbprint).exists():
        raise ValidationError(_("This key is already registered for the community."))
    if active.filter(kid=parsed.kid).exists():
        raise ValidationError(
            _("The community already has an active key with kid %(kid)r.") % {"kid": parsed.kid}
        )
    if active.count() >= MAX_ACTIVE_KEYS:
        raise ValidationError(
            _("At most %(count)d active keys: retire one first.") % {"count": MAX_ACTIVE_KEYS}
        )
    key = ClientKey.objects.create(
        community=community,
        kid=parsed.kid,
        thumbprint=parsed.thumbprint,
        key_type=parsed.key_type,
        public_jwk=parsed.public_jwk,
    )
    audit_record(
        event_type=Event.CLIENT_KEY_ADDED,
        actor=actor,
        community=community,
        details={"kid": parsed.kid, "thumbprint": parsed.thumbprint, "key_type": parsed.key_type},
    )
    return key


@transaction.atomic
def client_key_retire(*, community: Community, kid: str, actor: Actor, reason: str = "") -> ClientKey:
    """Retire an active key at once: assertions signed with it are refused from the next request."""
    # The community row first, as every cut-off: a token being issued with this key holds it in SHARE
    # mode, so the retirement waits for it, or it sees the retirement (issuance._still_entitled).
    Community.objects.select_for_update().filter(pk=community.pk).first()
    key: ClientKey | None = _active_keys(community).select_for_update().filter(kid=kid).first()
    if key is None:
        raise ValidationError(_("The community has no active key with kid %(kid)r.") % {"kid": kid})
    key.retired_at = timezone.now()
    key.save(update_fields=["retired_at"])
    audit_record(
        event_type=Event.CLIENT_KEY_RETIRED,
        actor=actor,
        community=community,
        details={
            "kid": key.kid,
            "thumbprint": key.thumbprint,
            "reason": reason,
            "active_keys_left": _active_keys(community).count(),
        },
    )
    return key


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
    return after


def policy_locks_out(*, community: Community, policy: ClientPolicy) -> bool:
    """Keys only, and no active key: the community cannot get tokens until a key is registered."""
    return policy.methods == [METHOD_PRIVATE_KEY_JWT] and not _active_keys(community).exists()


def policy_summary(policy: ClientPolicy) -> dict[str, Any]:
    """The policy as SPEC §4's ``set_client_auth --json`` prints it (plus the API-allowlist switch)."""
    return {
        "methods": policy.methods,
        "dpop": policy.dpop,
        "allowed_ips": list(policy.allowed_ips),
        "allowlist_applies_to_api": policy.allowlist_applies_to_api,
    }


def api_call_refused(
    *, community_id: int, client_id: str, jti: str, source_ip: str | None, reason: str
) -> None:
    """The audit row for an API call refused by the community's policy (e.g. outside its allowlist)."""
    audit_record(
        event_type=Event.API_CALL_REFUSED,
        actor=Actor.anonymous(),
        community=Community(pk=community_id, client_id=client_id),
        jti=jti,
        source_ip=source_ip,
        details={"reason": reason},
    )


def jti_use_once(*, kind: str, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record a ``jti`` as used; ``False`` if it already was (a replay). Rests on a unique row, so it
    holds across processes and servers whatever the cache. Expired rows are purged by ``purge_tokens``.
    """
    key = hashlib.sha256(f"{kind}\x00{issuer}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    try:
        with transaction.atomic():
            UsedJti.objects.create(key=key, expires_at=expires_at)
    except IntegrityError:
        # Seen before. Only a row already past its expiry (not yet purged) may be taken over: the
        # conditional update is atomic, so of two racing requests at most one wins it.
        return bool(
            UsedJti.objects.filter(key=key, expires_at__lt=timezone.now()).update(expires_at=expires_at)
        )
    return True


def used_jtis_purge() -> int:
    """Forget jtis that can no longer be replayed (their assertion or proof has expired)."""
    return UsedJti.objects.filter(expires_at__lt=timezone.now()).delete()[0]
