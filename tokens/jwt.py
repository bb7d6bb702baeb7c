"""Access tokens in the RFC 9068 profile, minted and verified with simplejwt.

simplejwt does the encoding, the claim bookkeeping (``exp``, ``iat``, ``jti``, ``token_type``) and the
verification steps; we add what it lacks: a ``kid`` per signing key (so a new key never logs partners
out), the ``typ: at+jwt`` header, and a strict look at the header and claim types before anything
trusts them.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken, TokenError
from rest_framework_simplejwt.tokens import Token

from bfluence.conf import AppSettings, app_settings

ALGORITHM = "HS256"
TOKEN_MEDIA_TYPES = {"at+jwt", "application/at+jwt"}
MAX_TOKEN_LENGTH = 4096
# Header parameters that would make a verifier fetch or trust a key named by the token itself.
_FORBIDDEN_HEADERS = {"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"}
_REQUIRED_CLAIMS = ["exp", "iat", "jti", "iss", "aud", "sub", "token_type"]
_LARGEST_TIMESTAMP = 2**34  # year 2514: beyond it a timestamp is an attack, not a date
# Tokens whose signature and claims this process has already verified, newest use last: a partner sends
# the same token for hours (bench/README.md says what verifying it again costs). Bounded: 2,048 entries
# of a few hundred bytes each, per process. Never a revocation state: that is read on every call.
VERIFIED_CACHE_SIZE = 2048


def key_id(key: str) -> str:
    """A stable, non-secret name for a signing key (the JWT ``kid``)."""
    return hashlib.sha256(f"bfluence-kid:{key}".encode()).hexdigest()[:16]


class KeyringTokenBackend(TokenBackend):
    """simplejwt's backend with several verification keys told apart by ``kid``; signs with the first."""

    def __init__(self, conf: AppSettings) -> None:
        super().__init__(
            ALGORITHM,
            signing_key=conf.signing_key,
            audience=conf.audience,
            issuer=conf.issuer,
            leeway=conf.leeway_seconds,
        )
        self.current_kid = key_id(conf.signing_key)
        self.keys = {key_id(key): key for key in (*conf.previous_signing_keys, conf.signing_key)}
        # Per backend, so per keyring: a key taken out of the settings takes its tokens' entries with it.
        # Locked: the development server (and any threaded worker) reaches it from several threads.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def encode(self, payload: dict[str, Any]) -> str:
        claims = {**payload, "iss": self.issuer, "aud": self.audience}
        return jwt.encode(
            claims,
            self.keys[self.current_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.current_kid, "typ": "at+jwt"},
        )

    def decode(self, token, verify: bool = True, *, verify_expiry: bool = True) -> dict[str, Any]:
        """The verified claims. A token verified before by this process skips the signature and claim
        work, never the expiry check; only fully verified tokens are remembered, under their exact text."""
        if not (verify and verify_expiry):
            return self._decode(token, verify, verify_expiry=verify_expiry)
        with self._verified_lock:
            claims = self._verified.get(token) if isinstance(token, str) else None
            if claims is not None:
                self._verified.move_to_end(token, last=True)
        if claims is None:
            claims = self._decode(token, verify, verify_expiry=True)
            self._remember(token, claims)
        elif claims["exp"] <= time.time() - self.get_leeway().total_seconds():  # as PyJWT decides it
            raise TokenBackendExpiredToken(_("Token is expired"))
        return _copied(claims)  # callers may change theirs, never the remembered one

    def _remember(self, token, claims: dict[str, Any]) -> None:
        if not isinstance(token, str):
            return
        with self._verified_lock:
            self._verified[token] = _copied(claims)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)

    def _decode(self, token, verify: bool, *, verify_expiry: bool) -> dict[str, Any]:
        key = self._key_for(token)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={
                    "verify_signature": verify,
                    "verify_exp": verify_expiry,
                    "require": _REQUIRED_CLAIMS,
                    "strict_aud": True,
                },
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenBackendExpiredToken(_("Token is expired")) from error
        except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError) as error:
            raise TokenBackendError(_("Token is invalid")) from error

    def _key_for(self, token) -> str:
        """Pick the key by ``kid`` after checking the header, before any signature work."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenBackendError(_("Token is invalid"))
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.InvalidTokenError, ValueError, TypeError) as error:
            raise TokenBackendError(_("Token is invalid")) from error
        typ, kid = header.get("typ"), header.get("kid")
        if (
            header.get("alg") != ALGORITHM
            or not isinstance(typ, str)
            or typ.lower() not in TOKEN_MEDIA_TYPES
            or _FORBIDDEN_HEADERS.intersection(header)
            or not isinstance(kid, str)
            or kid not in self.keys
        ):
            raise TokenBackendError(_("Token is invalid"))
        return self.keys[kid]


def _copied(value):
    """A deep copy of JSON claims (dicts, lists and immutable scalars), faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


@lru_cache(maxsize=4)
def _backend_for(conf: AppSettings) -> KeyringTokenBackend:
    return KeyringTokenBackend(conf)


def token_backend() -> KeyringTokenBackend:
    return _backend_for(app_settings())


_ABSENT = object()


def _valid_confirmation(cnf: object) -> bool:
    """No ``cnf``, or exactly ``{"jkt": <RFC 7638 thumbprint>}``."""
    if cnf is _ABSENT:
        return True
    return (
        isinstance(cnf, dict)
        and set(cnf) == {"jkt"}
        and isinstance(cnf["jkt"], str)
        and 0 < len(cnf["jkt"]) <= 64
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PartnerAccessToken(Token):
    """The access token a community gets at ``POST /auth/token``."""

    token_type = "access"
    lifetime = timedelta(hours=24)  # replaced per token by the community's lifetime

    @property
    def token_backend(self) -> KeyringTokenBackend:
        return token_backend()

    @classmethod
    def for_community(
        cls, *, client_id: str, permissions: list[str], lifetime: timedelta, dpop_jkt: str | None = None
    ) -> "PartnerAccessToken":
        token = cls()
        token.set_exp(from_time=token.current_time, lifetime=lifetime)
        token["sub"] = token["client_id"] = token["community"] = client_id
        token["permissions"] = list(permissions)
        token["scope"] = " ".join(permissions)
        if dpop_jkt is not None:
            token["cnf"] = {"jkt": dpop_jkt}  # RFC 9449 §6.1: usable only with proofs by that key
        return token

    @property
    def dpop_jkt(self) -> str | None:
        """The DPoP key this token is bound to, if any (checked to be well-formed by ``verify``)."""
        confirmation = self.payload.get("cnf")
        return confirmation["jkt"] if confirmation is not None else None

    @property
    def issued_at(self) -> datetime:
        """The exact moment of issue (``iat`` is rounded down to the second)."""
        return self.current_time

    def verify(self) -> None:
        """Claim types first (a mistyped claim is a forgery, never a crash), then simplejwt's checks."""
        claims = self.payload
        if not (_is_int(claims.get("exp")) and 0 < claims["exp"] < _LARGEST_TIMESTAMP):
            raise TokenError(_("Token is invalid"))
        if not (_is_int(claims.get("iat")) and 0 < claims["iat"] < _LARGEST_TIMESTAMP):
            raise TokenError(_("Token is invalid"))
        client_id, jti, permissions = claims.get("sub"), claims.get("jti"), claims.get("permissions")
        if not (
            isinstance(jti, str)
            and 0 < len(jti) <= 64
            and isinstance(client_id, str)
            and claims.get("client_id") == client_id
            and claims.get("community") == client_id
            and isinstance(permissions, list)
            and all(isinstance(code, str) for code in permissions)
            and claims.get("scope") == " ".join(permissions)
            and _valid_confirmation(claims.get("cnf", _ABSENT))
        ):
            raise TokenError(_("Token is invalid"))
        super().verify()


def decode_ignoring_expiry(raw_token: str) -> dict[str, Any] | None:
    """The verified claims of one of our tokens, expired or not; ``None`` for anything else (RFC 7009)."""
    try:
        return token_backend().decode(raw_token, verify_expiry=False)
    except TokenBackendError:
        return None
