"""Token issuance (SPEC §2.1, §2.2): one transaction from an authenticated client to a recorded token."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from audit.models import AuditEvent
from audit.services import Actor, audit_record, log_auth_decision
from bfluence.conf import app_settings
from bfluence.errors import InvalidScope
from clients.models import ClientKey, ClientSecret
from clients.services import AuthenticatedClient, client_refuse, client_still_entitled
from communities.models import Community
from tokens.jwt import PartnerAccessToken
from tokens.models import IssuedToken

# "Last used" is for staff deciding when an old credential can go: a minute is precise enough, and saves
# a write on every token request of a busy partner.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedAccessToken:
    access_token: str = field(repr=False)
    jti: str
    expires_in: int
    permissions: list[str]
    token_type: str = "Bearer"  # "DPoP" when bound to a key (RFC 9449 §5)


def token_issue(
    *,
    client: AuthenticatedClient,
    requested_scope: list[str] | None,
    source_ip: str | None,
    dpop_jkt: str | None = None,
) -> IssuedAccessToken:
    """Mint an access token for an authenticated client and record it under its ``jti``.

    In one transaction: hold the community and read again what entitles the client (a cut-off since it
    authenticated is refused with ``invalid_client``), record the token and its audit row, note the
    credential's last use. The token is signed once that has committed. ``dpop_jkt``: bind the token to
    that DPoP key (``cnf.jkt``); it then works only with a proof.
    """
    with transaction.atomic():
        entitled = client_still_entitled(client=client, source_ip=source_ip, dpop_jkt=dpop_jkt)
        if entitled is not None:
            token, lifetime = _token_record(entitled, requested_scope, source_ip, dpop_jkt)
            _last_use_record(entitled, now=token.issued_at)
    if entitled is None:
        raise client_refuse(
            reason="cut_off_while_issuing",
            client_id=client.community.client_id,
            community=None,
            source_ip=source_ip,
            method=client.method,
            via_basic=client.via_basic,
        )
    log_auth_decision(outcome="issued", client_id=token["client_id"], jti=token["jti"], source_ip=source_ip)
    return IssuedAccessToken(
        access_token=str(token),  # signed here, after the commit
        jti=token["jti"],
        expires_in=int(lifetime.total_seconds()),
        permissions=token["permissions"],
        token_type="DPoP" if dpop_jkt else "Bearer",
    )


def token_lifetime_for(community: Community) -> timedelta:
    default = app_settings().access_token_lifetime
    return min(default, community.token_lifetime) if community.token_lifetime else default


def _token_record(
    client: AuthenticatedClient,
    requested_scope: list[str] | None,
    source_ip: str | None,
    dpop_jkt: str | None,
) -> tuple[PartnerAccessToken, timedelta]:
    """The token's claims and lifetime, its record and its ``token_issued`` audit row."""
    community = client.community
    lifetime = token_lifetime_for(community)
    token = PartnerAccessToken.for_community(
        client_id=community.client_id,
        permissions=_granted_permissions(community, requested_scope),
        lifetime=lifetime,
        dpop_jkt=dpop_jkt,
    )
    IssuedToken.objects.create(
        jti=token["jti"],
        community=community,
        client_secret_id=client.secret_id,
        client_key_id=client.key_id,
        scope=token["scope"],
        dpop_jkt=dpop_jkt or "",
        issued_at=token.issued_at,
        expires_at=token.issued_at + lifetime,
        source_ip=source_ip,
    )
    audit_record(
        event_type=AuditEvent.EventType.TOKEN_ISSUED,
        actor=Actor.partner(community.client_id),
        community=community,
        jti=token["jti"],
        source_ip=source_ip,
        details={
            "scope": token["scope"],
            "expires_in": int(lifetime.total_seconds()),
            **({"dpop_jkt": dpop_jkt} if dpop_jkt else {}),
            **({"client_key_id": client.key_id} if client.key_id is not None else {}),
        },
    )
    return token, lifetime


def _granted_permissions(community: Community, requested: list[str] | None) -> list[str]:
    granted = [code for code in app_settings().permission_catalogue if code in community.permissions]
    if requested is None:
        return granted
    if any(code not in granted for code in requested):
        raise InvalidScope()
    return [code for code in granted if code in requested]


def _last_use_record(client: AuthenticatedClient, *, now: datetime) -> None:
    """The credential's ``last_used_at``, for staff deciding when an old one can go: once a minute."""
    if client.last_used_at is not None and now - client.last_used_at < LAST_USED_PRECISION:
        return
    if client.key_id is not None:
        ClientKey.objects.filter(pk=client.key_id).update(last_used_at=now)
    elif client.secret_id is not None:
        ClientSecret.objects.filter(pk=client.secret_id).update(last_used_at=now)
