"""DPoP proofs (RFC 9449 §4.3): checking one, and binding a token to the proof's key.

A proof is a JWT the partner signs, per request, with a key pair of its own; its public key rides in the
header (``jwk``). We check, in order: ``typ`` = ``dpop+jwt``; an algorithm we accept (never ``none`` or
HS*); a public key of a supported type; the signature; ``htm`` and ``htu`` name this very request;
``iat`` is recent (``PROOF_MAX_AGE``) and not in the future; a ``jti``; and at API calls ``ath`` is the
hash of the presented token. Single use of ``jti`` is the database's job (``dpop_proof_accept``).
"""

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import jwt

from bfluence.text import text_refusal
from clients.keys import SIGNING_ALGORITHMS, UnacceptableKey, jwk_thumbprint, verifying_key

PROOF_TYPE = "dpop+jwt"
PROOF_MAX_AGE = 60  # seconds a proof stays usable after its iat (plus JWT_LEEWAY)
MAX_PROOF_LENGTH = 4096
MAX_JTI_LENGTH = 200
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
_FORBIDDEN_HEADERS = {"jku", "x5u", "x5c", "crit", "b64"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


#: Every reason a DPoP proof is refused for; the audit trail records it as ``dpop_<reason>`` and the console
#: words each one (console/audit_details.py). ``replayed_jti`` is raised by tokens/services/dpop_binding.py.
PROOF_REFUSALS = frozenset(
    {
        "algorithm_not_allowed",
        "bad_key",
        "malformed_proof",
        "wrong_typ",
        "bad_signature",
        "iat_in_future",
        "invalid_claims",
        "stale_proof",
        "wrong_method",
        "wrong_url",
        "wrong_ath",
        "replayed_jti",
    }
)


class ProofRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str  # RFC 7638 thumbprint of the proof's key: what a bound token's cnf.jkt names
    jti: str
    expires_at: datetime  # until when its jti must be remembered


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url(SHA-256(token)), no padding (RFC 9449 §4.2)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _normalised_url(url: str) -> tuple[str, str, int | None, str] | None:
    """Scheme and host compared case-insensitively, default ports made explicit; query and fragment
    ignored (RFC 9449 §4.3 point 9)."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port, parts.path or "/"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _proof_key(header: dict):
    """The proof's own public key, checked: a supported type, public members only, matching ``alg``."""
    algorithm, jwk = header.get("alg"), header.get("jwk")
    if algorithm not in SIGNING_ALGORITHMS:
        raise ProofRejected("algorithm_not_allowed")
    if (
        not isinstance(jwk, dict)
        or _PRIVATE_MEMBERS.intersection(jwk)
        or _FORBIDDEN_HEADERS.intersection(header)
    ):
        raise ProofRejected("bad_key")
    try:
        thumbprint = jwk_thumbprint(jwk)
        key = verifying_key(
            {name: jwk[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in jwk}, algorithm
        )
    except (UnacceptableKey, ValueError, TypeError, KeyError, jwt.PyJWKError) as error:
        raise ProofRejected("bad_key") from error
    return algorithm, key, thumbprint


def proof_verify(
    proof: str, *, method: str, url: str, access_token: str | None, leeway: int
) -> VerifiedProof:
    """Everything about a proof but its single use; ``ProofRejected`` with the reason otherwise."""
    if not isinstance(proof, str) or not proof or len(proof) > MAX_PROOF_LENGTH:
        raise ProofRejected("malformed_proof")
    try:
        header = jwt.get_unverified_header(proof)
    except (jwt.InvalidTokenError, ValueError, TypeError) as error:
        raise ProofRejected("malformed_proof") from error
    if header.get("typ") != PROOF_TYPE:
        raise ProofRejected("wrong_typ")
    algorithm, key, thumbprint = _proof_key(header)
    try:
        claims = jwt.decode(
            proof,
            key,
            algorithms=[algorithm],
            leeway=leeway,
            options={"require": ["jti", "htm", "htu", "iat"], "verify_aud": False},
        )
    except jwt.InvalidSignatureError as error:
        raise ProofRejected("bad_signature") from error
    except jwt.ImmatureSignatureError as error:
        raise ProofRejected("iat_in_future") from error
    except (jwt.InvalidTokenError, ValueError, TypeError) as error:
        raise ProofRejected("invalid_claims") from error
    now = time.time()
    if not _is_int(claims["iat"]) or claims["iat"] < now - PROOF_MAX_AGE - leeway:
        raise ProofRejected("stale_proof")
    if claims["htm"] != method:
        raise ProofRejected("wrong_method")
    if not isinstance(claims["htu"], str) or _normalised_url(claims["htu"]) != _normalised_url(url):
        raise ProofRejected("wrong_url")
    jti = claims["jti"]
    if not jti or text_refusal(jti, max_length=MAX_JTI_LENGTH):
        raise ProofRejected("invalid_claims")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise ProofRejected("wrong_ath")
    expires_at = datetime.fromtimestamp(claims["iat"] + PROOF_MAX_AGE + 2 * leeway, tz=UTC)
    return VerifiedProof(jkt=thumbprint, jti=jti, expires_at=expires_at)
