"""Client authentication (SPEC §2.1, §4.1, §5): who is calling, by secret or by signed assertion, and
whether the community's policy admits the call now.

Every failure looks the same to the caller (``invalid_client``) and writes one audit row saying why. A
secret that fails its checksum, or an assertion that is not even a JWT, is refused before any database
work; everything else costs the same whether the client_id exists or not: two digest comparisons
(against a dummy when there are fewer secrets), and only the matched secret's community is read. A real
secret that no longer entitles (ended, suspended, its community inactive) is refused naming the community
and why, learnt from that same read.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection

from audit.models import AuditEvent
from audit.services import Actor, audit_record, log_auth_decision
from bfluence import metrics
from bfluence.conf import app_settings
from bfluence.errors import InvalidClient
from clients import crypto
from clients.assertions import AssertionRejected, StoredKey, assertion_parse, assertion_verify
from clients.models import ClientKey
from clients.policy import METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT, ClientPolicy
from clients.selectors import (
    NotEntitled,
    credential_entitlement_get,
    credential_entitlement_read,
    secret_digests_newest,
)
from clients.services.jtis import jti_use_once
from clients.services.keys import MAX_ACTIVE_KEYS
from communities.models import Community

_SECRETS_COMPARED = 2  # a community holds at most two valid secrets (during a rotation window)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    via_basic: bool = False


@dataclass(frozen=True)
class ClientAssertion:
    """``private_key_jwt`` (RFC 7523 §2.2): a JWT the partner signed with its private key.

    ``audiences``: the values ``aud`` may take at this endpoint, worked out by the view from the request.
    """

    client_id: str | None
    assertion: str = field(repr=False)
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthenticatedClient:
    """A caller whose credential checked out, its community as read then, and that community's policy."""

    community: Community
    policy: ClientPolicy
    secret_id: int | None = None
    key_id: int | None = None
    last_used_at: datetime | None = None
    via_basic: bool = False

    @property
    def method(self) -> str:
        return METHOD_CLIENT_SECRET if self.key_id is None else METHOD_PRIVATE_KEY_JWT


def client_authenticate(
    *, credentials: ClientCredentials | ClientAssertion, source_ip: str | None
) -> AuthenticatedClient:
    """The client behind ``credentials``, admitted by its community's policy; ``InvalidClient`` otherwise."""
    if isinstance(credentials, ClientAssertion):
        return _by_assertion(credentials, source_ip)
    return _admitted(_by_secret(credentials, source_ip), source_ip)


def client_still_entitled(
    *, client: AuthenticatedClient, source_ip: str | None, dpop_jkt: str | None
) -> AuthenticatedClient | None:
    """Inside the issuing transaction: hold the community row, then read again what entitles the client.

    Everything that cuts a community off (rotation, deactivation, a compromise report, "revoke all", a
    key's retirement, a policy change) first locks that row ``FOR UPDATE``. Here it is held ``FOR SHARE``
    (a partner's token requests share it and never wait for each other), so a cut-off either committed
    before this read and is seen, or waits until the token is recorded and then revokes it. None: the
    client was cut off since it authenticated.
    """
    _community_hold(client.community.pk)
    entitled = credential_entitlement_get(secret_id=client.secret_id, key_id=client.key_id)
    if entitled is None or _policy_refusal(entitled.policy, client.method, source_ip, dpop_jkt) is not None:
        return None
    return AuthenticatedClient(
        community=entitled.community,
        policy=entitled.policy,
        secret_id=client.secret_id,
        key_id=client.key_id,
        last_used_at=entitled.last_used_at,
        via_basic=client.via_basic,
    )


# How the request being served counts its failures (set by the view: ``failures_counted_by``). A refusal is
# counted before it is recorded: past a rate limit the count raises ``RateLimited`` (answered 429, with no
# audit row: an outsider's flood writes nothing), past the per-client_id audit allowance it answers False.
_count_failure: ContextVar[Callable[..., bool] | None] = ContextVar("bfluence_count_failure", default=None)


@contextmanager
def failures_counted_by(count: Callable[..., bool]) -> Iterator[None]:
    """Within this block, every ``client_refuse`` first calls ``count`` (see ``_count_failure``)."""
    token = _count_failure.set(count)
    try:
        yield
    finally:
        _count_failure.reset(token)


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

    The reason is for staff only; the caller always gets the same response. Inside
    ``failures_counted_by`` the failure is counted first: past a limit no row is written (429), past its
    per-client_id audit allowance (guesses, or refusals of a real credential) a metric counts it instead
    of a row.
    """
    count = _count_failure.get()
    # A refusal that names the community came from someone holding a real credential (its policy said
    # no, or the credential no longer entitles): it spends the client_id's own allowance for those, not
    # the guesses' one. So it is recorded however many guesses outsiders sent, and an old leaked secret
    # replayed from many addresses cannot bury staff actions in the community's trail either.
    audited = count is None or count(names_community=community is not None)
    if audited:
        audit_record(
            event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED,
            actor=Actor.anonymous(),
            community=community,
            client_id=client_id,
            source_ip=source_ip,
            details={"reason": reason, "method": method},
        )
    else:
        metrics.unaudited_failure()
    log_auth_decision(outcome="denied", reason=reason, client_id=client_id, source_ip=source_ip)
    return InvalidClient(via_basic=via_basic)


def _by_secret(credentials: ClientCredentials, source_ip: str | None) -> AuthenticatedClient:
    presented = credentials.client_secret
    if not crypto.is_well_formed(presented):
        log_auth_decision(
            outcome="denied", reason="malformed_secret", client_id=credentials.client_id, source_ip=source_ip
        )
        raise InvalidClient(via_basic=credentials.via_basic)
    secret_id = _matching_secret(credentials.client_id, presented)
    entitled = credential_entitlement_read(secret_id=secret_id) if secret_id is not None else None
    if isinstance(entitled, NotEntitled):
        # The caller holds one of the community's real secrets, but it has ended or the community is
        # inactive: say which, naming the community, so staff reactivate rather than rotate. Read in the
        # same statement as an entitlement, so it costs what a current secret costs.
        raise client_refuse(
            reason=entitled.reason,
            client_id=credentials.client_id,
            community=entitled.community,
            source_ip=source_ip,
            method=METHOD_CLIENT_SECRET,
            via_basic=credentials.via_basic,
        )
    if entitled is None:  # no stored secret matched
        # The row never points at the community: a known and an unknown client_id cost the same.
        raise client_refuse(
            reason="invalid_client",
            client_id=credentials.client_id,
            community=None,
            source_ip=source_ip,
            method=METHOD_CLIENT_SECRET,
            via_basic=credentials.via_basic,
        )
    return AuthenticatedClient(
        community=entitled.community,
        policy=entitled.policy,
        secret_id=secret_id,
        last_used_at=entitled.last_used_at,
        via_basic=credentials.via_basic,
    )


def _matching_secret(client_id: str, presented: str) -> int | None:
    """The id of the community's newest secrets that ``presented`` matches: always two constant-time
    comparisons, against a dummy digest where the client has fewer secrets (or none: unknown client_id).
    Only ids, salts and digests are read here, so a known client_id's rows cost no more to load."""
    rows: list[tuple[int | None, str, str]] = list(
        secret_digests_newest(client_id=client_id, count=_SECRETS_COMPARED)
    )
    rows += [(None, crypto.DUMMY_SALT, crypto.DUMMY_DIGEST)] * (_SECRETS_COMPARED - len(rows))
    matched = None
    for secret_id, salt, digest in rows:
        if crypto.secret_matches(presented, salt=salt, digest=digest) and secret_id is not None:
            matched = secret_id
    return matched


def _by_assertion(credentials: ClientAssertion, source_ip: str | None) -> AuthenticatedClient:
    """``private_key_jwt``: a structurally malformed assertion (not a JWT, an algorithm we never accept,
    ``iss`` ≠ ``sub``, a ``client_id`` field naming someone else) is refused before any database work;
    anything else costs one read of the community's active keys and at least one signature check."""

    def refuse(reason: str, client_id: str) -> InvalidClient:
        return client_refuse(
            reason=reason,
            client_id=client_id,
            community=None,
            source_ip=source_ip,
            method=METHOD_PRIVATE_KEY_JWT,
        )

    try:
        parsed = assertion_parse(credentials.assertion)
        if credentials.client_id is not None and credentials.client_id != parsed.client_id:
            raise AssertionRejected("client_id_mismatch")
    except AssertionRejected as rejected:
        raise refuse(rejected.reason, credentials.client_id or "") from None
    keys = [
        StoredKey(key_id, kid, public_jwk)
        for key_id, kid, public_jwk in ClientKey.objects.filter(
            community__client_id=parsed.client_id, community__is_active=True, retired_at__isnull=True
        )
        .order_by("-created_at")
        .values_list("id", "kid", "public_jwk")[:MAX_ACTIVE_KEYS]
    ]
    leeway = app_settings().leeway_seconds
    try:
        signer, claims = assertion_verify(
            parsed, keys, audiences=credentials.audiences, leeway=leeway, most_keys=MAX_ACTIVE_KEYS
        )
    except AssertionRejected as rejected:
        raise refuse(rejected.reason, parsed.client_id) from None
    entitled = credential_entitlement_get(key_id=signer.key_id)
    if entitled is None:  # retired or deactivated since the keys were read
        raise refuse("invalid_client", parsed.client_id)
    client = _admitted(
        AuthenticatedClient(
            community=entitled.community,
            policy=entitled.policy,
            key_id=signer.key_id,
            last_used_at=entitled.last_used_at,
        ),
        source_ip,
    )
    # Spent only once everything else holds; a replay on any process meets the same unique row.
    expires_at = datetime.fromtimestamp(claims["exp"] + leeway, tz=UTC)
    if not jti_use_once(
        kind="client_assertion", issuer=parsed.client_id, jti=claims["jti"], expires_at=expires_at
    ):
        raise refuse("replayed_jti", parsed.client_id)
    return client


def _admitted(client: AuthenticatedClient, source_ip: str | None) -> AuthenticatedClient:
    """The client, if its community's policy admits this call (method, source IP); else refused."""
    reason = _policy_refusal(client.policy, client.method, source_ip, dpop_jkt=None, at_token_endpoint=False)
    if reason is not None:
        raise client_refuse(
            reason=reason,
            client_id=client.community.client_id,
            community=client.community,
            source_ip=source_ip,
            method=client.method,
            via_basic=client.via_basic,
        )
    return client


def _policy_refusal(
    policy: ClientPolicy,
    method: str,
    source_ip: str | None,
    dpop_jkt: str | None,
    *,
    at_token_endpoint: bool = True,
) -> str | None:
    """Why the community's policy refuses this request, or None (SPEC §4.1). DPoP is the token
    endpoint's alone: a token bound to no key when the policy requires one is refused there."""
    if not policy.allows_method(method):
        return "method_not_allowed"
    if not policy.admits_client(source_ip):
        return "ip_not_allowed"
    if at_token_endpoint and policy.dpop == "required" and dpop_jkt is None:
        return "dpop_proof_required"
    return None


def _community_hold(community_id: int) -> None:
    """Lock the community's row ``FOR SHARE`` until the transaction ends. Django's ``select_for_update``
    has no shared mode, hence this one statement. SQLite serialises writers and has no row locks."""
    if connection.vendor != "postgresql":
        return
    table = connection.ops.quote_name(Community._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT 1 FROM {table} WHERE "id" = %s FOR SHARE', [community_id])
