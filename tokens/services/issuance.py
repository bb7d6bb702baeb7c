"""Client authentication and token issuance (SPEC §2.1, §2.2, §5)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record, log_auth_decision
from bfluence.conf import app_settings
from bfluence.errors import InvalidClient, InvalidScope
from bfluence.precompiled import PrecompiledInsert, PrecompiledQuery
from communities.models import Community
from tokens import crypto
from tokens.jwt import PartnerAccessToken
from tokens.models import ClientKey, ClientSecret, IssuedToken
from tokens.policy import (
    DEFAULT_POLICY,
    METHOD_CLIENT_SECRET,
    METHOD_PRIVATE_KEY_JWT,
    ClientPolicy,
    policy_columns,
)
from tokens.services.issuing_statement import token_record_if_entitled
from tokens.services.secret_memory import ClientOutdated, secret_forget, secret_recall, secret_remember

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
class ClientAssertion:
    """``private_key_jwt`` (RFC 7523 §2.2): a JWT the partner signed with its private key.

    ``audiences``: the values ``aud`` may take here (our token endpoint's URL, this endpoint's URL,
    ``JWT_ISSUER``), worked out by the view from the request.
    """

    client_id: str | None
    assertion: str = field(repr=False)
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthenticatedClient:
    community: Community
    secret_id: int | None
    last_used_at: datetime | None = None
    key_id: int | None = None
    policy: ClientPolicy = DEFAULT_POLICY
    via_basic: bool = False
    # The secrets-read row the secret matched (``secret_memory``), and whether it came from this
    # process's memory rather than the database: then only the issuing statement may confirm it.
    secret_row: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    provisional: bool = False

    @property
    def method(self) -> str:
        """How it authenticated: with a registered key, or else with a secret."""
        return METHOD_CLIENT_SECRET if self.key_id is None else METHOD_PRIVATE_KEY_JWT


@dataclass(frozen=True)
class IssuedAccessToken:
    access_token: str = field(repr=False)
    jti: str
    expires_in: int
    permissions: list[str]
    token_type: str = "Bearer"  # "DPoP" when bound to a key (RFC 9449 §5)


_COMMUNITY_FIELDS = (
    "id",
    "client_id",
    "name",
    "is_active",
    "permissions",
    "token_lifetime",
    "entitlement_revision",
)
# The hot read of every token request, compiled once: the community's two newest secrets. Rotation keeps
# every valid secret among the two newest, so validity is then checked here, with the app's clock.
# Only what the comparison and the next step need, and only each row's salt and digest are looked at
# before a match: the driver parsing a known client_id's rows (dates, JSON, intervals) took ~50 µs that
# an unknown client_id's empty answer did not, enough to tell a tenant exists (SPEC §2.1, issue 10 item
# 8, issue 14). The community and its policy come after a match: ``_entitlement``.
_newest_secrets_query = PrecompiledQuery(
    lambda client_id: (
        ClientSecret.objects.filter(community__client_id=client_id, community__is_active=True)
        .order_by("-created_at")
        .values_list(
            "salt",
            "digest",
            "id",
            "valid_until",
            "last_used_at",
            "community_id",
            "community__entitlement_revision",
        )[:_SECRETS_COMPARED]
    ),
    "\x00client-id\x00",
)
_POLICY_COLUMNS = policy_columns("auth_policy__")
_community_query = PrecompiledQuery(
    lambda community_id: Community.objects.filter(pk=community_id).values_list(
        *_COMMUNITY_FIELDS, *_POLICY_COLUMNS
    ),
    -987_654_320,
)
# A community's columns and policy as read, by community id, each with the entitlement revision they were
# read at; PostgreSQL only. A revision names one state of the community and its policy (a new value on
# every change, never one the row had before: tokens migration 0010), so a row kept here is exactly what a
# read at that revision returns, on any process; and the issuing statement checks the revision again under its lock.
# A partner's next token request then skips that read. SQLite has no triggers: every request reads.
_entitlements: dict[tuple[str, int], tuple[Any, ...]] = {}
_ENTITLEMENTS_KEPT = 10_000
_REVISION = _COMMUNITY_FIELDS.index("entitlement_revision")


def _entitlement(
    community_id: int, revision: int, *, read: bool = True
) -> tuple[Community, ClientPolicy] | None:
    """The community (and its policy) a secret just matched for, as of ``revision`` or later; None if gone.
    ``read=False``: only as this process keeps it at ``revision`` exactly, else None."""
    key = (connection.alias, community_id)
    row = _entitlements.get(key)
    # Revision 0: never renewed (no triggers, SQLite, or tokens 0010 not applied yet): always read.
    if row is None or row[_REVISION] != revision or not revision or connection.vendor != "postgresql":
        if not read:
            return None
        rows = _community_query.rows(community_id)
        if not rows:
            return None
        row = rows[0]
        if connection.vendor == "postgresql" and row[_REVISION]:
            if len(_entitlements) >= _ENTITLEMENTS_KEPT:
                _entitlements.clear()
            _entitlements[key] = row
    fields = len(_COMMUNITY_FIELDS)
    # A new instance every time: callers may change theirs (community_deactivate does).
    return Community.from_db("default", _COMMUNITY_FIELDS, row[:fields]), ClientPolicy.from_columns(
        *row[fields:]
    )


def _matching_secret(client_id: str, presented: str) -> tuple[Any, ...] | None:
    """The row of the valid stored secret ``presented`` matches, or None; the same work whatever the rows.

    Always two constant-time comparisons (against a dummy digest when the client has fewer secrets,
    or none: unknown client_id), and nothing loaded from a row unless its digest matched.
    """
    with _newest_secrets_query.unloaded_rows(client_id) as rows:
        matched = None
        for index in range(_SECRETS_COMPARED):
            known = index < rows.count
            salt = rows.text(index, 0) if known else crypto.DUMMY_SALT
            digest = rows.text(index, 1) if known else crypto.DUMMY_DIGEST
            if crypto.secret_matches(presented, salt=salt, digest=digest) and known:
                matched = index
        if matched is None:
            return None
        row = rows.row(matched)
    valid_until = row[3]
    return row if valid_until is None or valid_until > timezone.now() else None


def client_refuse(
    *,
    reason: str,
    client_id: str,
    community: Community | None,
    source_ip: str | None,
    method: str,
    via_basic: bool = False,
) -> InvalidClient:
    """The one refusal of client authentication: an audit row saying why, a log line, ``invalid_client``.

    The reason is for staff only; the caller always gets the same response.
    """
    audit_record(
        event_type=Event.CLIENT_AUTH_FAILED,
        actor=Actor.anonymous(),
        community=community,
        client_id=client_id,
        source_ip=source_ip,
        details={"reason": reason, "method": method},
    )
    log_auth_decision(outcome="denied", reason=reason, client_id=client_id, source_ip=source_ip)
    return InvalidClient(via_basic=via_basic)


def client_admit(
    *, client: AuthenticatedClient, method: str, source_ip: str | None, via_basic: bool = False
) -> AuthenticatedClient:
    """The community's policy, checked once the credentials proved who the caller is (SPEC §4.1)."""
    policy = client.policy
    reason = (
        "method_not_allowed"
        if not policy.allows_method(method)
        else "ip_not_allowed"
        if not policy.admits_client(source_ip)
        else None
    )
    if reason is not None:
        raise client_refuse(
            reason=reason,
            client_id=client.community.client_id,
            community=client.community,
            source_ip=source_ip,
            method=method,
            via_basic=via_basic,
        )
    return client


def _recalled_entitlement(
    row: tuple[Any, ...], source_ip: str | None
) -> tuple[Community, ClientPolicy] | None:
    """The community and policy kept at a recalled secret's revision, if the secret may be used as kept:
    still valid by its expiry, its ``last_used_at`` not due (that write takes the issuing transaction),
    the community kept at that same revision, and its policy as kept admitting this request. Otherwise
    None: the database decides. Nothing kept ever refuses a request: staff may have widened an IP
    allowlist or made DPoP optional since, and only the database knows."""
    now = timezone.now()
    valid_until, last_used_at, community_id, revision = row[3:7]
    if (valid_until is not None and valid_until <= now) or _last_use_due(last_used_at, now):
        return None
    entitlement = _entitlement(community_id, revision, read=False)
    # No DPoP proof here (a request carrying one never comes from the memory).
    if entitlement is None or not _policy_admits(entitlement[1], METHOD_CLIENT_SECRET, source_ip, None):
        return None
    return entitlement


def client_authenticate(
    *,
    credentials: ClientCredentials | ClientAssertion,
    source_ip: str | None,
    provisional_ok: bool = False,
    afresh: bool = False,
) -> AuthenticatedClient:
    """Check a client_id + secret, or a client assertion. Every failure looks and costs the same
    (SPEC §2.1, §4.1, §5).

    Unknown client, wrong secret, expired or suspended secret and inactive community all run one
    query and two digest comparisons, write one audit row and raise the same ``InvalidClient``. The
    work does not depend on whether the client_id exists: only each row's salt and digest are looked
    at, the row that matched alone is loaded, and the audit row never points at the community (a
    foreign key only known clients had was measurably slower to insert). Only a secret that fails its
    checksum is refused earlier, before any database work.

    ``provisional_ok`` (the token endpoint, without a DPoP proof): a secret this process saw confirmed is
    taken as kept, without the read (``secret_memory``); ``token_issue`` then raises ``ClientOutdated``
    unless the issuing statement confirms it, and the caller authenticates again without it, ``afresh``:
    from the database, the kept row forgotten first (the statement keeps it again if it still holds).
    """
    if isinstance(credentials, ClientAssertion):
        from tokens.services.key_auth import assertion_authenticate  # builds on this module's pieces

        return assertion_authenticate(credentials=credentials, source_ip=source_ip)
    presented = credentials.client_secret
    if not crypto.is_well_formed(presented):
        log_auth_decision(
            outcome="denied", reason="malformed_secret", client_id=credentials.client_id, source_ip=source_ip
        )
        raise InvalidClient(via_basic=credentials.via_basic)
    if afresh:
        secret_forget(credentials.client_id)
    matched = secret_recall(credentials.client_id, presented) if provisional_ok else None
    entitlement = _recalled_entitlement(matched, source_ip) if matched is not None else None
    provisional = entitlement is not None
    if not provisional:
        matched = _matching_secret(credentials.client_id, presented)
        entitlement = _entitlement(community_id=matched[5], revision=matched[6]) if matched else None
    if matched is None or entitlement is None:  # no valid secret matched, or its community is gone since
        raise client_refuse(
            reason="invalid_client",
            client_id=credentials.client_id,
            community=None,
            source_ip=source_ip,
            method=METHOD_CLIENT_SECRET,
            via_basic=credentials.via_basic,
        )
    _salt, _digest, secret_id, _valid_until, last_used_at, _community_id, _revision = matched
    community, policy = entitlement
    client = AuthenticatedClient(
        community=community,
        secret_id=secret_id,
        last_used_at=last_used_at,
        policy=policy,
        via_basic=credentials.via_basic,
        secret_row=matched,
        provisional=provisional,
    )
    return client_admit(
        client=client, method=METHOD_CLIENT_SECRET, source_ip=source_ip, via_basic=credentials.via_basic
    )


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


# The issuing transaction's re-read, compiled once (one per kind of credential): compiling this join on
# every token request cost ~25% of the request's CPU (profiled, issue 14). The secret's expiry is read
# with it and compared here, with the app's clock, as in _matching_secret; the policy too, since a
# policy change is a cut-off as well (methods, IP allowlist, DPoP required).
# Lock first, read after, in two statements: PostgreSQL re-checks a waiting locking SELECT against the
# new version of the locked row only, and would judge a joined secret as it was before the rotation that
# held the lock committed. The reads that follow the lock see everything committed by then. (The
# one-statement path needs no re-read: the revision it checks is on the locked row itself.)
_entitled_by_secret = PrecompiledQuery(
    lambda community_id, secret_id: (
        Community.objects.filter(pk=community_id, is_active=True, secrets__pk=secret_id)
        .order_by("pk")
        .values_list(*_COMMUNITY_FIELDS, *_POLICY_COLUMNS, "secrets__valid_until")[:1]
    ),
    -987_654_321,
    -987_654_322,
)
_entitled_by_key = PrecompiledQuery(
    lambda community_id, key_id: (
        Community.objects.filter(
            pk=community_id, is_active=True, client_keys__pk=key_id, client_keys__retired_at__isnull=True
        )
        .order_by("pk")
        .values_list(*_COMMUNITY_FIELDS, *_POLICY_COLUMNS)[:1]
    ),
    -987_654_321,
    -987_654_322,
)


def _community_hold(community_id: int) -> None:
    """Lock the community's row in SHARE mode until the issuing transaction ends.

    A shared lock: the partner's other token requests take it too and never wait for each other (an
    exclusive lock queued every token of one community behind the previous one's commit and disk flush,
    ~150 tokens/s per community whatever the servers; issue 14). Every cut-off writes or locks the row
    FOR UPDATE (``select_for_update``), which conflicts with SHARE: it waits for tokens being issued,
    and they wait for it. Django's ``select_for_update`` has no shared mode, hence this one statement
    written out. SQLite has no row locks (nor needs them: it serialises writers).
    """
    if connection.vendor != "postgresql":
        return
    table = connection.ops.quote_name(Community._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT 1 FROM {table} WHERE "id" = %s FOR SHARE', [community_id])


def _still_entitled(
    client: AuthenticatedClient, *, source_ip: str | None, dpop_jkt: str | None
) -> Community | None:
    """Inside the issuing transaction: lock the community row, then read it, its policy and the credential
    again.

    Everything that cuts a community off (rotation, deactivation, a compromise report, "revoke all", a
    key's retirement, a policy change) writes or locks that same row first, so it either committed
    before this read, and is seen here, or waits for this transaction, and then revokes the token it
    recorded (or, if it revokes none, comes after it). A request that passed verification just before
    the cut-off can therefore never mint a token that outlives it (issue 10, item 7).
    """
    row: tuple[Any, ...] | None
    _community_hold(client.community.pk)
    if client.secret_id is not None:
        rows = _entitled_by_secret.rows(client.community.pk, client.secret_id)
        if not rows or not (rows[0][-1] is None or rows[0][-1] > timezone.now()):
            return None
        row = rows[0][:-1]
    elif client.key_id is not None:
        rows = _entitled_by_key.rows(client.community.pk, client.key_id)
        if not rows:
            return None
        row = rows[0]
    else:
        row = cast(
            "tuple[Any, ...] | None",
            Community.objects.filter(pk=client.community.pk, is_active=True)
            .values_list(*_COMMUNITY_FIELDS, *_POLICY_COLUMNS)
            .first(),
        )
    if row is None:
        return None
    fields = len(_COMMUNITY_FIELDS)
    if not _policy_admits(ClientPolicy.from_columns(*row[fields:]), client.method, source_ip, dpop_jkt):
        return None
    return Community.from_db("default", _COMMUNITY_FIELDS, row[:fields])


def _policy_admits(policy: ClientPolicy, method: str, source_ip: str | None, dpop_jkt: str | None) -> bool:
    return (
        policy.allows_method(method)
        and policy.admits_client(source_ip)
        and not (policy.dpop == "required" and dpop_jkt is None)
    )


def token_issue(
    *,
    client: AuthenticatedClient,
    requested_scope: list[str] | None,
    source_ip: str | None,
    dpop_jkt: str | None = None,
) -> IssuedAccessToken:
    """Mint an access token for an authenticated client and record it under its ``jti``.

    ``dpop_jkt``: bind the token to that DPoP key (``cnf.jkt``); it then works only with a proof.
    On PostgreSQL the token and its audit row are usually written in one statement, on condition that
    nothing that entitles the client changed since it authenticated (``issuing_statement``). Otherwise,
    and whenever that condition fails, the client's right to it is checked again under a lock in the
    issuing transaction (``_still_entitled``); if it was cut off since it authenticated, the answer is
    ``invalid_client``. A client authenticated provisionally (from ``secret_memory``) is only ever issued
    a token by the statement: if it writes nothing, ``ClientOutdated``.
    """
    if _issuable_in_one_statement(client, source_ip, dpop_jkt):
        try:
            at_once = _mint(client, client.community, requested_scope, source_ip, dpop_jkt)
        except InvalidScope:
            if not client.provisional:
                raise
            at_once = None  # by permissions as kept: a permission granted since is the database's to say
        if at_once is not None and token_record_if_entitled(
            community=client.community,
            secret_id=client.secret_id,
            secret_digest=None if client.secret_row is None else (client.secret_row[0], client.secret_row[1]),
            key_id=client.key_id,
            now=at_once.token.issued_at,
            token_insert=_issued_token_insert,
            token=at_once.record,
            audit=at_once.audit,
        ):
            _secret_confirmed(client)
            return _issued(at_once)
    if client.provisional:  # nothing written: whatever this process kept may be out of date
        secret_forget(client.community.client_id)
        raise ClientOutdated()
    with transaction.atomic():
        community = _still_entitled(client, source_ip=source_ip, dpop_jkt=dpop_jkt)
        minted = None if community is None else _mint(client, community, requested_scope, source_ip, dpop_jkt)
        if minted is not None:
            _token_record(minted)
    if minted is not None:
        # After the transaction, never while it holds the community row: a credential written by hand
        # locks its own row and then (revision triggers) the community's, and an issuer holding the
        # community's while waiting for the credential's would deadlock with it.
        _last_used_record(client, minted.token.issued_at)
        return _issued(minted)
    raise client_refuse(
        reason="cut_off_while_issuing",
        client_id=client.community.client_id,
        community=None,
        source_ip=source_ip,
        method=client.method,
        via_basic=client.via_basic,
    )


def _issuable_in_one_statement(
    client: AuthenticatedClient, source_ip: str | None, dpop_jkt: str | None
) -> bool:
    """Whether the one-statement path applies: PostgreSQL, a credential to check, no ``last_used_at``
    due (that write takes the issuing transaction, once a minute per credential), and a policy that,
    unchanged, admits this request (if it changed, the transaction decides)."""
    return (
        connection.vendor == "postgresql"
        and ((client.secret_id is not None and client.secret_row is not None) or client.key_id is not None)
        and bool(client.community.entitlement_revision)  # 0: never renewed, means nothing
        and not _last_used_due(client, timezone.now())
        and _policy_admits(client.policy, client.method, source_ip, dpop_jkt)
    )


def _secret_confirmed(client: AuthenticatedClient) -> None:
    """The issuing statement wrote a token at the community's revision: keep the secret's row, if it was
    read at that same revision (a community read after the secrets may be newer)."""
    row = client.secret_row
    if row is not None and row[6] == client.community.entitlement_revision:
        secret_remember(client.community.client_id, row)


def _last_used_due(client: AuthenticatedClient, now: datetime) -> bool:
    return _last_use_due(client.last_used_at, now)


def _last_use_due(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_PRECISION


# The token's record, written with every token: compiled once, as the queries above (issue 14).
_issued_token_insert = PrecompiledInsert(IssuedToken)


@dataclass(frozen=True)
class _Minted:
    """A signed token, its record's columns and its audit row's fields, not yet written."""

    token: PartnerAccessToken = field(repr=False)
    client_id: str
    permissions: list[str]
    lifetime: timedelta
    record: dict[str, Any]
    audit: dict[str, Any]
    token_type: str


def _mint(
    client: AuthenticatedClient,
    community: Community,
    requested_scope: list[str] | None,
    source_ip: str | None,
    dpop_jkt: str | None,
) -> _Minted:
    permissions = _granted_permissions(community, requested_scope)
    lifetime = token_lifetime_for(community)
    token = PartnerAccessToken.for_community(
        client_id=community.client_id, permissions=permissions, lifetime=lifetime, dpop_jkt=dpop_jkt
    )
    jti = token["jti"]
    return _Minted(
        token=token,
        client_id=community.client_id,
        permissions=permissions,
        lifetime=lifetime,
        record={
            "jti": jti,
            "community_id": community.pk,
            "client_secret_id": client.secret_id,
            "scope": token["scope"],
            "issued_at": token.issued_at,
            "expires_at": token.issued_at + lifetime,
            "source_ip": source_ip,
        },
        audit={
            "event_type": Event.TOKEN_ISSUED,
            "actor": Actor.partner(community.client_id),
            "community": community,
            "jti": jti,
            "source_ip": source_ip,
            "details": {
                "scope": token["scope"],
                "expires_in": int(lifetime.total_seconds()),
                **({"dpop_jkt": dpop_jkt} if dpop_jkt else {}),
                **({"client_key_id": client.key_id} if client.key_id is not None else {}),
            },
        },
        token_type="DPoP" if dpop_jkt else "Bearer",
    )


def _token_record(minted: _Minted) -> None:
    """The issuing transaction's writes: the token's record and its audit row."""
    _issued_token_insert.insert(**minted.record)
    audit_record(**minted.audit)


def _last_used_record(client: AuthenticatedClient, now: datetime) -> None:
    """The credential's ``last_used_at``, for staff deciding when an old one can go: once a minute."""
    if not _last_used_due(client, now):
        return
    if client.key_id is not None:
        ClientKey.objects.filter(pk=client.key_id).update(last_used_at=now)
    elif client.secret_id is not None:
        ClientSecret.objects.filter(pk=client.secret_id).update(last_used_at=now)


def _issued(minted: _Minted) -> IssuedAccessToken:
    jti = minted.record["jti"]
    log_auth_decision(
        outcome="issued", client_id=minted.client_id, jti=jti, source_ip=minted.record["source_ip"]
    )
    return IssuedAccessToken(
        access_token=str(minted.token),
        jti=jti,
        expires_in=int(minted.lifetime.total_seconds()),
        permissions=minted.permissions,
        token_type=minted.token_type,
    )
