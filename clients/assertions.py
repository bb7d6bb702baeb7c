"""``private_key_jwt`` client assertions (RFC 7523 §2.2 and §3, RFC 7521 §4.2): reading and verifying.

Pure functions over PyJWT; the database part (keys, single-use ``jti``) is in
``clients.services.authentication``. Every refusal raises ``AssertionRejected`` with a reason for the audit
trail; the caller answers all of them with the same ``invalid_client``.

What an assertion must be: signed with ES256, RS256, PS256 or EdDSA (never ``none``, never HS*: a
public key used as an HMAC secret would let anyone sign); ``iss`` = ``sub`` = the client_id; ``aud``
one of our own URLs or ``JWT_ISSUER``; ``exp`` in the future and at most an hour ahead; ``iat`` not in
the future; a ``jti``; no header that names its own key (``jwk``, ``jku``, ``x5u``, ``x5c``) or
``crit``.
"""

import time
from dataclasses import dataclass

import jwt

from bfluence.text import text_refusal
from clients.keys import SIGNING_ALGORITHMS, UnacceptableKey, dummy_jwk, verifying_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LENGTH = 8192
MAX_LIFETIME_SECONDS = 3600  # what Authlib and most clients send by default
MAX_JTI_LENGTH = 200
MAX_KID_LENGTH = 100  # ClientKey.kid
MAX_CLIENT_ID_LENGTH = 100
_FORBIDDEN_HEADERS = {"jku", "jwk", "x5u", "x5c", "crit", "b64"}
_KEY_TYPE_FOR = {"ES256": "EC", "RS256": "RSA", "PS256": "RSA", "EdDSA": "OKP"}


#: Every reason an assertion is refused for, as the audit trail records it (``details["reason"]``); the
#: console words each one (console/audit_details.py). ``client_id_mismatch`` is raised by the caller.
ASSERTION_REFUSALS = frozenset(
    {
        "malformed_assertion",
        "algorithm_not_allowed",
        "forbidden_header",
        "unacceptable_text",
        "iss_sub_mismatch",
        "client_id_mismatch",
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "invalid_claims",
        "bad_signature_or_unknown_key",
        "lifetime_too_long",
        "invalid_jti",
    }
)


class AssertionRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedAssertion:
    """What the assertion claims, before anything about it is trusted."""

    raw: str
    algorithm: str
    kid: str | None
    client_id: str


@dataclass(frozen=True)
class StoredKey:
    key_id: int
    kid: str
    public_jwk: dict


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def assertion_parse(raw: str) -> ParsedAssertion:
    """Structure only, no signature: a malformed assertion is refused before any database work."""
    if not isinstance(raw, str) or len(raw) > MAX_ASSERTION_LENGTH:
        raise AssertionRejected("malformed_assertion")
    try:
        header = jwt.get_unverified_header(raw)
        claims = jwt.decode(raw, options={"verify_signature": False})
    except (jwt.InvalidTokenError, ValueError, TypeError) as error:
        raise AssertionRejected("malformed_assertion") from error
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in SIGNING_ALGORITHMS:
        raise AssertionRejected("algorithm_not_allowed")
    if _FORBIDDEN_HEADERS.intersection(header) or (kid is not None and not isinstance(kid, str)):
        raise AssertionRejected("forbidden_header")
    issuer, subject = claims.get("iss"), claims.get("sub")
    # Before anything is looked up by them: text no honest client signs (bfluence/text.py).
    if (kid is not None and text_refusal(kid, max_length=MAX_KID_LENGTH)) or any(
        isinstance(value, str) and text_refusal(value, max_length=MAX_CLIENT_ID_LENGTH)
        for value in (issuer, subject)
    ):
        raise AssertionRejected("unacceptable_text")
    if not isinstance(issuer, str) or not issuer or issuer != subject:
        raise AssertionRejected("iss_sub_mismatch")
    return ParsedAssertion(raw=raw, algorithm=algorithm, kid=kid, client_id=issuer)


def assertion_client_id_hint(raw) -> str | None:
    """The client_id an assertion claims, for rate limiting only: never raises."""
    try:
        return assertion_parse(raw).client_id
    except AssertionRejected:
        return None


def _candidates(parsed: ParsedAssertion, keys: list[StoredKey]) -> list[StoredKey]:
    key_type = _KEY_TYPE_FOR[parsed.algorithm]
    return [
        key
        for key in keys
        if key.public_jwk.get("kty") == key_type and (parsed.kid is None or key.kid == parsed.kid)
    ]


def _decode(parsed: ParsedAssertion, key, audiences: tuple[str, ...], leeway: int) -> dict:
    return jwt.decode(
        parsed.raw,
        key,
        algorithms=[parsed.algorithm],
        audience=list(audiences),
        issuer=parsed.client_id,
        leeway=leeway,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
    )


def assertion_verify(
    parsed: ParsedAssertion,
    keys: list[StoredKey],
    *,
    audiences: tuple[str, ...],
    leeway: int,
    most_keys: int,
) -> tuple[StoredKey, dict]:
    """The key that signed it and its verified claims; ``AssertionRejected`` otherwise.

    Picks the key by ``kid``, or tries the community's keys of the right type when there is none
    (Authlib sends no ``kid`` by default). Until a key verifies, the work is the same whoever is named:
    with a ``kid``, one verification; without, ``most_keys`` (the most active keys a community may hold),
    a throwaway key of the same algorithm standing in for every key the community does not have. So an
    unknown client_id or kid costs what a community with the most keys costs (SPEC §2.1).
    """
    candidates = _candidates(parsed, keys)
    claims, signer = None, None
    try:
        tried: list[StoredKey | None] = [*candidates]
        tried += [None] * ((1 if parsed.kid is not None else most_keys) - len(tried))
        for candidate in tried:
            jwk = dummy_jwk(parsed.algorithm) if candidate is None else candidate.public_jwk
            key = verifying_key(jwk, parsed.algorithm)
            try:
                claims = _decode(parsed, key, audiences, leeway)
            except jwt.InvalidSignatureError:
                continue
            signer = candidate
            break
    except jwt.ExpiredSignatureError as error:
        raise AssertionRejected("expired") from error
    except jwt.ImmatureSignatureError as error:
        raise AssertionRejected("not_yet_valid") from error
    except jwt.InvalidAudienceError as error:
        raise AssertionRejected("wrong_audience") from error
    except (jwt.InvalidTokenError, UnacceptableKey, ValueError, TypeError) as error:
        raise AssertionRejected("invalid_claims") from error
    if signer is None or claims is None:
        raise AssertionRejected("bad_signature_or_unknown_key")
    now = time.time()
    if not _is_int(claims["exp"]) or claims["exp"] > now + MAX_LIFETIME_SECONDS + leeway:
        raise AssertionRejected("lifetime_too_long")
    if not _is_int(claims["iat"]):
        raise AssertionRejected("invalid_claims")
    jti = claims["jti"]
    if not jti or text_refusal(jti, max_length=MAX_JTI_LENGTH):
        raise AssertionRejected("invalid_jti")
    return signer, claims
