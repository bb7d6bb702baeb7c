"""Credentials: authenticating clients, issuing and revoking tokens, creating and rotating secrets.

Views, admin actions and management commands call these functions and nothing else writes credentials.
Every write is atomic and records its audit event in the same transaction.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bfluence.conf import app_settings
from bfluence.errors import InvalidClient, InvalidScope
from bfluence.precompiled import PrecompiledQuery
from communities.models import Community
from tokens import crypto
from tokens.audit import Actor, audit_record, log_auth_decision
from tokens.jwt import PartnerAccessToken, decode_ignoring_expiry
from tokens.models import AuditEvent, ClientSecret, IssuedToken, RevocationRequest

MAX_GRACE = timedelta(days=7)
# "Last used" is for staff deciding when an old secret can go: a minute is precise enough, and saves
# a write on every token request of a busy partner.
LAST_USED_PRECISION = timedelta(minutes=1)
_SECRETS_COMPARED = 2  # a community holds at most two valid secrets (during a rotation window)
Event = AuditEvent.EventType


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    via_basic: bool = False


@dataclass(frozen=True)
class AuthenticatedClient:
    community: Community
    secret_id: int
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class IssuedAccessToken:
    access_token: str = field(repr=False)
    jti: str
    expires_in: int
    permissions: list[str]


@dataclass(frozen=True)
class SecretRotation:
    community: Community
    client_secret: str = field(repr=False)
    previous_secret_valid_until: object  # datetime | None
    tokens_revoked: int


@dataclass(frozen=True)
class _StoredSecret:
    secret_id: int
    salt: str
    digest: str
    last_used_at: datetime | None
    community: Community


_COMMUNITY_FIELDS = ("id", "client_id", "name", "is_active", "permissions", "token_lifetime")
# The hot read of every token request, compiled once: the community's two newest secrets. Rotation
# keeps every valid secret among the two newest, so validity is then checked here, with the app's clock.
_newest_secrets_query = PrecompiledQuery(
    lambda client_id: ClientSecret.objects
    .filter(community__client_id=client_id, community__is_active=True)
    .order_by("-created_at")
    .values_list("id", "salt", "digest", "last_used_at", "valid_until",
                 *(f"community__{name}" for name in _COMMUNITY_FIELDS))
    [:_SECRETS_COMPARED],
    "\x00client-id\x00",
)


def _valid_secrets(client_id: str) -> list[_StoredSecret]:
    now = timezone.now()
    return [
        _StoredSecret(secret_id, salt, digest, last_used_at,
                      Community.from_db("default", _COMMUNITY_FIELDS, community_values))
        for secret_id, salt, digest, last_used_at, valid_until, *community_values
        in _newest_secrets_query.rows(client_id)
        if valid_until is None or valid_until > now
    ]


def client_authenticate(*, credentials: ClientCredentials, source_ip: str | None) -> AuthenticatedClient:
    """Check a client_id + secret. Every failure looks and costs the same (SPEC §2.1, §5).

    Unknown client, wrong secret, expired secret and inactive community all run one query and two
    digest comparisons, write one audit row and raise the same ``InvalidClient``. Only a secret that
    fails its checksum is refused earlier, before any database work.
    """
    presented = credentials.client_secret
    if not crypto.is_well_formed(presented):
        log_auth_decision(outcome="denied", reason="malformed_secret", client_id=credentials.client_id,
                          source_ip=source_ip)
        raise InvalidClient(via_basic=credentials.via_basic)
    candidates = _valid_secrets(credentials.client_id)
    matched = None
    for index in range(_SECRETS_COMPARED):
        stored = candidates[index] if index < len(candidates) else None
        salt, digest = (stored.salt, stored.digest) if stored else (crypto.DUMMY_SALT, crypto.DUMMY_DIGEST)
        if crypto.secret_matches(presented, salt=salt, digest=digest) and stored is not None:
            matched = stored
    if matched is None:
        audit_record(
            event_type=Event.CLIENT_AUTH_FAILED,
            actor=Actor.anonymous(),
            community=candidates[0].community if candidates else None,
            client_id=credentials.client_id,
            source_ip=source_ip,
        )
        log_auth_decision(outcome="denied", reason="invalid_client", client_id=credentials.client_id,
                          source_ip=source_ip)
        raise InvalidClient(via_basic=credentials.via_basic)
    return AuthenticatedClient(community=matched.community, secret_id=matched.secret_id,
                               last_used_at=matched.last_used_at)


def _granted_permissions(community: Community, requested: list[str] | None) -> list[str]:
    granted = [code for code in app_settings().permission_catalogue if code in community.permissions]
    if requested is None:
        return granted
    if any(code not in granted for code in requested):
        raise InvalidScope()
    return [code for code in granted if code in requested]


def token_lifetime_for(community: Community) -> timedelta:
    default = app_settings().access_token_lifetime
    return min(default, community.token_lifetime) if community.token_lifetime else default


@transaction.atomic
def token_issue(
    *, client: AuthenticatedClient, requested_scope: list[str] | None, source_ip: str | None
) -> IssuedAccessToken:
    """Mint an access token for an authenticated client and record it under its ``jti``."""
    community = client.community
    permissions = _granted_permissions(community, requested_scope)
    lifetime = token_lifetime_for(community)
    token = PartnerAccessToken.for_community(
        client_id=community.client_id, permissions=permissions, lifetime=lifetime
    )
    jti = token["jti"]
    IssuedToken.objects.create(
        jti=jti,
        community=community,
        client_secret_id=client.secret_id,
        scope=token["scope"],
        issued_at=token.issued_at,
        expires_at=token.issued_at + lifetime,
        source_ip=source_ip,
    )
    if client.last_used_at is None or token.issued_at - client.last_used_at >= LAST_USED_PRECISION:
        ClientSecret.objects.filter(pk=client.secret_id).update(last_used_at=token.issued_at)
    audit_record(
        event_type=Event.TOKEN_ISSUED,
        actor=Actor.partner(community.client_id),
        community=community,
        jti=jti,
        source_ip=source_ip,
        details={"scope": token["scope"], "expires_in": int(lifetime.total_seconds())},
    )
    log_auth_decision(outcome="issued", client_id=community.client_id, jti=jti, source_ip=source_ip)
    return IssuedAccessToken(
        access_token=str(token),
        jti=jti,
        expires_in=int(lifetime.total_seconds()),
        permissions=permissions,
    )


def _revoke_queryset(queryset, *, actor: Actor, reason: str, now) -> int:
    return queryset.filter(revoked_at__isnull=True, expires_at__gt=now).update(
        revoked_at=now, revoked_by=str(actor)[:200], revocation_reason=reason[:500]
    )


@transaction.atomic
def token_revoke_presented(
    *, community: Community, raw_token: str, actor: Actor, source_ip: str | None
) -> bool:
    """RFC 7009: revoke the presented token if it is this community's. Never another's."""
    claims = decode_ignoring_expiry(raw_token)
    if claims is None or claims.get("community") != community.client_id:
        return False
    return bool(
        tokens_revoke(community=community, jtis=[str(claims["jti"])], actor=actor,
                      reason=_("revoked by the partner (RFC 7009)"), source_ip=source_ip)
    )


@transaction.atomic
def tokens_revoke(
    *, community: Community, jtis: list[str], actor: Actor, reason: str, source_ip: str | None = None
) -> int:
    """Revoke the listed tokens of one community; tokens of other communities are left alone."""
    now = timezone.now()
    revoked = 0
    for jti in dict.fromkeys(jtis):
        if _revoke_queryset(IssuedToken.objects.filter(pk=jti, community=community), actor=actor,
                            reason=reason, now=now):
            revoked += 1
            audit_record(event_type=Event.TOKEN_REVOKED, actor=actor, community=community, jti=jti,
                         source_ip=source_ip, details={"reason": reason})
    return revoked


@transaction.atomic
def tokens_revoke_all(
    *, community: Community, actor: Actor, reason: str, source_ip: str | None = None
) -> int:
    """Revoke every outstanding token of a community, including any being issued right now."""
    now = timezone.now()
    # The cut-off also catches a token whose issuing transaction commits after this one.
    Community.objects.filter(pk=community.pk).update(tokens_revoked_before=now)
    community.tokens_revoked_before = now
    revoked = _revoke_queryset(IssuedToken.objects.filter(community=community), actor=actor,
                               reason=reason, now=now)
    audit_record(event_type=Event.TOKENS_REVOKED_ALL, actor=actor, community=community,
                 source_ip=source_ip, details={"reason": reason, "revoked": revoked})
    return revoked


@transaction.atomic
def secret_create(*, community: Community, actor: Actor) -> str:
    """Create a secret for a new community; the plaintext is returned here, once, and never again."""
    secret = crypto.generate_secret()
    stored = crypto.digest_secret(secret)
    ClientSecret.objects.create(community=community, hint=stored.hint, salt=stored.salt, digest=stored.digest)
    audit_record(event_type=Event.SECRET_CREATED, actor=actor, community=community,
                 details={"hint": stored.hint})
    return secret


@transaction.atomic
def secret_rotate(
    *,
    community: Community,
    actor: Actor,
    grace: timedelta = timedelta(0),
    revoke_tokens: bool = False,
    reason: str = "",
) -> SecretRotation:
    """Issue a new secret; the current one keeps working for ``grace`` (at most 7 days), then stops.

    Only the newest previous secret gets the grace window: any older one stops now, so a community
    never holds more than two valid secrets.
    """
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValidationError(_("The grace period must be between 0 and 7 days."))
    community = Community.objects.select_for_update().get(pk=community.pk)
    now = timezone.now()
    valid = list(ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now)
                 .order_by("-created_at"))
    valid_until = now + grace if valid else None
    for position, old in enumerate(valid):
        old.valid_until = valid_until if position == 0 else now
        old.save(update_fields=["valid_until"])
    secret = crypto.generate_secret()
    stored = crypto.digest_secret(secret)
    ClientSecret.objects.create(community=community, hint=stored.hint, salt=stored.salt, digest=stored.digest)
    revoked = 0
    if revoke_tokens:
        revoked = tokens_revoke_all(community=community, actor=actor, reason=reason or _("secret rotated"))
    audit_record(
        event_type=Event.SECRET_ROTATED,
        actor=actor,
        community=community,
        details={
            "hint": stored.hint,
            "grace_seconds": int(grace.total_seconds()),
            "tokens_revoked": revoked,
            "reason": reason,
        },
    )
    return SecretRotation(community=community, client_secret=secret,
                          previous_secret_valid_until=valid_until, tokens_revoked=revoked)


@transaction.atomic
def secret_expire_previous(*, community: Community, actor: Actor) -> int:
    """End a rotation's grace window now: every valid secret but the newest stops at once."""
    now = timezone.now()
    valid = list(ClientSecret.objects.select_for_update().filter(community=community)
                 .exclude(valid_until__lte=now).order_by("-created_at"))
    previous = [secret.pk for secret in valid[1:]]
    stopped = ClientSecret.objects.filter(pk__in=previous).update(valid_until=now)
    if stopped:
        audit_record(event_type=Event.SECRET_EXPIRED, actor=actor, community=community,
                     details={"secrets_stopped": stopped})
    return stopped


@transaction.atomic
def revocation_request_open(
    *, community: Community, reason: str, actor: Actor, source_ip: str | None = None
) -> RevocationRequest:
    """"Our credentials are compromised": revoke every token now, and queue the request for staff."""
    revoked = tokens_revoke_all(community=community, actor=actor,
                                reason=_("revocation request: %(reason)s") % {"reason": reason[:200]},
                                source_ip=source_ip)
    request = RevocationRequest.objects.create(
        community=community, reason=reason, opened_by=str(actor), source_ip=source_ip, tokens_revoked=revoked
    )
    audit_record(event_type=Event.REVOCATION_REQUEST_OPENED, actor=actor, community=community,
                 source_ip=source_ip, details={"request_id": request.pk, "tokens_revoked": revoked})
    return request


@transaction.atomic
def revocation_request_handle(*, revocation: RevocationRequest, staff_user, grace: timedelta = timedelta(0)
                              ) -> SecretRotation:
    """Close a revocation request the safe way: a new secret now (shown once), every token revoked."""
    revocation = RevocationRequest.objects.select_for_update().get(pk=revocation.pk)
    if revocation.status != RevocationRequest.Status.PENDING:
        raise ValidationError(_("This revocation request has already been handled."))
    actor = Actor.staff(staff_user)
    rotation = secret_rotate(community=revocation.community, actor=actor, grace=grace, revoke_tokens=True,
                             reason=_("revocation request #%(id)s") % {"id": revocation.pk})
    revocation.status = RevocationRequest.Status.DONE
    revocation.handled_by = staff_user
    revocation.handled_at = timezone.now()
    revocation.save(update_fields=["status", "handled_by", "handled_at"])
    audit_record(event_type=Event.REVOCATION_REQUEST_HANDLED, actor=actor, community=revocation.community,
                 details={"request_id": revocation.pk, "tokens_revoked": rotation.tokens_revoked})
    return rotation


def tokens_purge(*, older_than: timedelta, actor: Actor, batch_size: int = 5000) -> int:
    """Delete records of tokens expired more than ``older_than`` ago, in short batches.

    Each batch is its own small transaction, so purging tens of millions of rows never holds long
    locks while the service keeps serving. The audit trail keeps the history.
    """
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(IssuedToken.objects.filter(expires_at__lt=cutoff).order_by()
                         .values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            deleted += IssuedToken.objects.filter(pk__in=batch).delete()[0]
    audit_record(event_type=Event.TOKENS_PURGED, actor=actor,
                 details={"deleted": deleted, "older_than_seconds": int(older_than.total_seconds())})
    return deleted
