"""Client secrets: format, checksum and digest. Pure functions, no database.

A secret looks like ``bfl_sk_<43 base62 chars of randomness><6 base62 chars of CRC32>``:
- 256 bits from ``secrets``: far beyond brute force, so a fast salted SHA-256 digest is enough (a slow
  password KDF would add nothing and cap the token endpoint at a few requests per second);
- the ``bfl_sk_`` prefix lets secret scanners spot a leaked one;
- the trailing CRC32 lets us refuse a mistyped secret before any database work.
"""

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass

from bfluence.scrub import SECRET_PREFIX as PREFIX

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LENGTH = 43  # 62**43 > 2**256
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
SECRET_LENGTH = len(PREFIX) + _BODY_LENGTH + _CHECKSUM_LENGTH
_HINT_BODY_CHARS = 4


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


@dataclass(frozen=True)
class SecretDigest:
    """What is stored of a secret: never the secret itself."""

    hint: str
    salt: str
    digest: str
    #: A keyed hash to find the secret by its value alone (a leaked secret reported by a scanner).
    lookup: str = ""

    def __repr__(self) -> str:
        return f"SecretDigest(hint={self.hint!r})"


def generate_secret() -> str:
    body = _base62(secrets.randbits(256), _BODY_LENGTH)
    return f"{PREFIX}{body}{_checksum(body)}"


def is_well_formed(secret: str) -> bool:
    """Prefix, length, alphabet and checksum are right: cheap, and no database work."""
    if len(secret) != SECRET_LENGTH or not secret.startswith(PREFIX):
        return False
    payload = secret[len(PREFIX) :]
    if not all(char in _ALPHABET for char in payload):
        return False
    body, checksum = payload[:_BODY_LENGTH], payload[_BODY_LENGTH:]
    return hmac.compare_digest(_checksum(body), checksum)


def hint_for(secret: str) -> str:
    """A short, non-secret label staff can match against what a partner reads to them."""
    return f"{secret[: len(PREFIX) + _HINT_BODY_CHARS]}…"


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def lookup_digest(secret: str, *, key: str) -> str:
    """HMAC-SHA256 of the secret under a server key: finds a reported secret in one indexed query,
    while the stored value alone (a database dump) still cannot be tested against guesses offline."""
    return hmac.new(f"bfluence.secret-lookup:{key}".encode(), secret.encode(), hashlib.sha256).hexdigest()


def digest_secret(secret: str, *, lookup_key: str = "") -> SecretDigest:
    salt = secrets.token_hex(16)
    return SecretDigest(
        hint=hint_for(secret),
        salt=salt,
        digest=_digest(salt, secret),
        lookup=lookup_digest(secret, key=lookup_key) if lookup_key else "",
    )


def secret_matches(secret: str, *, salt: str, digest: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(_digest(salt, secret), digest)


# Compared against when there is nothing real to compare with, so every path does the same work.
DUMMY_SALT = "0" * 32
DUMMY_DIGEST = "f" * 64
