"""Partner key pairs for tests: generated with joserfc, signed with Authlib's own assertion helper or PyJWT."""

import json
import time
import uuid

import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_GENERATORS = {
    "ES256": lambda: ECKey.generate_key("P-256"),
    "RS256": lambda: RSAKey.generate_key(2048),
    "PS256": lambda: RSAKey.generate_key(2048),
    "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
}
_cache: dict[str, object] = {}


def private_key(alg: str = "ES256", *, fresh: bool = False):
    """A private joserfc key for ``alg`` (RSA keys are slow to make: reused unless ``fresh``)."""
    if fresh or alg not in _cache:
        key = _GENERATORS[alg]()
        if fresh:
            return key
        _cache[alg] = key
    return _cache[alg]


def public_pem(key) -> str:
    return key.as_pem(private=False).decode()


def public_jwk_json(key, **extra) -> str:
    return json.dumps({**key.as_dict(private=False), **extra})


def pem_private(key) -> bytes:
    return key.as_pem(private=True)


def assertion(
    key, client_id: str, audience: str, *, alg: str = "ES256", headers: dict | None = None, **claims
) -> str:
    """A client assertion as RFC 7523 §3 describes it; ``claims`` override or (with None) drop defaults."""
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    for name, value in claims.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return jwt.encode(payload, pem_private(key), algorithm=alg, headers=headers)


def dpop_proof(
    key,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    alg: str = "ES256",
    headers: dict | None = None,
    **claims,
) -> str:
    """A DPoP proof (RFC 9449 §4.2) for one request; ``claims`` override or (with None) drop defaults."""
    import base64
    import hashlib

    payload = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        payload["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    for name, value in claims.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    header = {"typ": "dpop+jwt", "jwk": key.as_dict(private=False), **(headers or {})}
    return jwt.encode(payload, pem_private(key), algorithm=alg, headers=header)


def wrong_secret_for(secret: str) -> str:
    """The secret with its last character changed: never equal to it (a blind replace may be a no-op)."""
    return secret[:-1] + ("a" if secret[-1] != "a" else "b")
