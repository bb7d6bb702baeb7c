"""``private_key_jwt`` client authentication (RFC 7523 §2.2): the community's keys, the verification,
the policy, and the single-use ``jti``.

One query reads the community's active keys with the community and its policy (as the secret path
reads its secrets); then exactly the work ``tokens.assertions`` describes. Every refusal is
``client_refuse``: one audit row with the reason, the same ``invalid_client`` for the caller.
"""

from datetime import UTC, datetime
from typing import Any

from bfluence.conf import app_settings
from bfluence.errors import InvalidClient
from bfluence.precompiled import PrecompiledQuery
from communities.models import Community
from tokens.assertions import AssertionRejected, ParsedAssertion, StoredKey, assertion_parse, assertion_verify
from tokens.models import ClientKey
from tokens.policy import METHOD_PRIVATE_KEY_JWT, ClientPolicy, policy_columns
from tokens.services.client_auth import MAX_ACTIVE_KEYS, jti_use_once
from tokens.services.issuance import (
    _COMMUNITY_FIELDS,
    AuthenticatedClient,
    ClientAssertion,
    client_admit,
    client_refuse,
)

_active_keys_query = PrecompiledQuery(
    lambda client_id: (
        ClientKey.objects.filter(
            community__client_id=client_id, community__is_active=True, retired_at__isnull=True
        )
        .order_by("-created_at")
        .values_list(
            "id",
            "kid",
            "public_jwk",
            "last_used_at",
            *(f"community__{name}" for name in _COMMUNITY_FIELDS),
            *policy_columns("community__auth_policy__"),
        )[:MAX_ACTIVE_KEYS]
    ),
    "\x00client-id\x00",
)


def _keys_of(client_id: str) -> tuple[list[StoredKey], dict[int, Any], Community | None, ClientPolicy | None]:
    rows = _active_keys_query.rows(client_id)
    if not rows:
        return [], {}, None, None
    fields = len(_COMMUNITY_FIELDS)
    first = rows[0][4:]
    community = Community.from_db("default", _COMMUNITY_FIELDS, first[:fields])
    policy = ClientPolicy.from_columns(*first[fields:])
    keys = [StoredKey(key_id, kid, public_jwk) for key_id, kid, public_jwk, *_rest in rows]
    last_used = {row[0]: row[3] for row in rows}
    return keys, last_used, community, policy


def _refuse(reason: str, parsed_client_id: str, source_ip: str | None) -> InvalidClient:
    # Like the secret path: the row names the client_id but never points at the community, so a known
    # and an unknown client_id cost the same to refuse.
    return client_refuse(
        reason=reason,
        client_id=parsed_client_id,
        community=None,
        source_ip=source_ip,
        method=METHOD_PRIVATE_KEY_JWT,
    )


def assertion_authenticate(*, credentials: ClientAssertion, source_ip: str | None) -> AuthenticatedClient:
    """Authenticate a client by its signed assertion; ``invalid_client`` for every failure.

    A structurally malformed assertion (not a JWT, an algorithm we never accept, ``iss`` ≠ ``sub``, a
    ``client_id`` field naming someone else) is refused before any database work, as a secret with a
    bad checksum is. Everything else costs one query and at least one signature verification.
    """
    try:
        parsed: ParsedAssertion = assertion_parse(credentials.assertion)
        if credentials.client_id is not None and credentials.client_id != parsed.client_id:
            raise AssertionRejected("client_id_mismatch")
    except AssertionRejected as rejected:
        raise client_refuse(
            reason=rejected.reason,
            client_id=credentials.client_id or "",
            community=None,
            source_ip=source_ip,
            method=METHOD_PRIVATE_KEY_JWT,
        ) from None
    keys, last_used, community, policy = _keys_of(parsed.client_id)
    leeway = app_settings().leeway_seconds
    try:
        signer, claims = assertion_verify(parsed, keys, audiences=credentials.audiences, leeway=leeway)
    except AssertionRejected as rejected:
        raise _refuse(rejected.reason, parsed.client_id, source_ip) from None
    assert community is not None and policy is not None  # a key verified, so its row was read
    client = client_admit(
        client=AuthenticatedClient(
            community=community,
            secret_id=None,
            key_id=signer.key_id,
            last_used_at=last_used[signer.key_id],
            policy=policy,
        ),
        method=METHOD_PRIVATE_KEY_JWT,
        source_ip=source_ip,
    )
    # Consumed only once everything else holds; a replay on any process meets the same unique row.
    expires_at = datetime.fromtimestamp(claims["exp"] + leeway, tz=UTC)
    if not jti_use_once(
        kind="client_assertion", issuer=parsed.client_id, jti=claims["jti"], expires_at=expires_at
    ):
        raise _refuse("replayed_jti", parsed.client_id, source_ip)
    return client
