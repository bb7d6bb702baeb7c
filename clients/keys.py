"""Partners' public keys: reading them (PEM or JWK), naming them (RFC 7638), and which JWS algorithms
each may verify. Pure functions over joserfc and PyJWT; no database, no hand-rolled crypto.

Accepted: EC P-256 (ES256), RSA of 2048 bits or more (RS256, PS256), Ed25519 (EdDSA). Anything else,
and any private key, is refused: we only ever hold what can verify, never what can sign.
"""

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

SIGNING_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")
MIN_RSA_BITS = 2048
MAX_KEY_TEXT = 16 * 1024
MAX_KID = 100
PRIVATE_KEY_REFUSED = gettext_lazy(
    "That is a private key: register the public key only, and keep the private one secret."
)
_ALGORITHMS_BY_TYPE = {"EC": ("ES256",), "RSA": ("RS256", "PS256"), "OKP": ("EdDSA",)}
_PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e"), "OKP": ("kty", "crv", "x")}


class UnacceptableKey(ValueError):
    """A key we will not register or trust; the message says why, and never contains key material."""


@dataclass(frozen=True)
class PublicKey:
    kid: str
    thumbprint: str
    key_type: str
    public_jwk: dict

    @property
    def algorithms(self) -> tuple[str, ...]:
        return _ALGORITHMS_BY_TYPE[self.key_type]


def _check_supported(key) -> None:
    if isinstance(key, ECKey):
        if key.curve_name != "P-256":
            raise UnacceptableKey(_("EC keys must be on curve P-256 (ES256)."))
    elif isinstance(key, RSAKey):
        if key.public_key.key_size < MIN_RSA_BITS:
            raise UnacceptableKey(_("RSA keys must have at least %(bits)s bits.") % {"bits": MIN_RSA_BITS})
    elif isinstance(key, OKPKey):
        if key.curve_name != "Ed25519":
            raise UnacceptableKey(_("OKP keys must be Ed25519 (EdDSA)."))
    else:
        raise UnacceptableKey(_("Only EC P-256, RSA (2048+ bits) and Ed25519 public keys are accepted."))


def _pem_key_type(text: str) -> str:
    try:
        loaded = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as error:
        raise UnacceptableKey(_("Not a PEM public key or a JWK.")) from error
    if isinstance(loaded, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        return "OKP"
    raise UnacceptableKey(_("Only EC P-256, RSA (2048+ bits) and Ed25519 public keys are accepted."))


def _import(data: str | dict):
    try:
        key = JWKRegistry.import_key(data, _pem_key_type(data) if isinstance(data, str) else None)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise UnacceptableKey(_("Not a PEM public key or a JWK.")) from error
    if key.is_private:
        raise UnacceptableKey(str(PRIVATE_KEY_REFUSED))
    _check_supported(key)
    return key


def public_key_parse(text: str) -> PublicKey:
    """A key as staff paste or upload it: PEM (``-----BEGIN PUBLIC KEY-----``) or a JWK JSON object.

    ``kid``: the JWK's own ``kid`` if it has one, else the RFC 7638 thumbprint.
    """
    text = text.strip()
    if not text or len(text) > MAX_KEY_TEXT:
        raise UnacceptableKey(_("Not a PEM public key or a JWK."))
    kid = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UnacceptableKey(_("Not a PEM public key or a JWK.")) from error
        if not isinstance(data, dict) or "keys" in data:
            raise UnacceptableKey("Give one JWK object, not a JWK set.")
        if "d" in data or "p" in data:
            raise UnacceptableKey(str(PRIVATE_KEY_REFUSED))
        kid = data.get("kid")
        if kid is not None and (
            not isinstance(kid, str) or not kid.strip() or len(kid) > MAX_KID or not kid.isprintable()
        ):
            raise UnacceptableKey(
                f"The JWK's kid must be a printable string of at most {MAX_KID} characters."
            )
        key = _import(
            {
                name: value
                for name, value in data.items()
                if name in _PUBLIC_MEMBERS.get(str(data.get("kty")), ("kty",))
            }
        )
    else:
        if "PRIVATE KEY" in text:
            raise UnacceptableKey(str(PRIVATE_KEY_REFUSED))
        key = _import(text)
    public_jwk = {
        name: value
        for name, value in key.as_dict(private=False).items()
        if name in _PUBLIC_MEMBERS[key.key_type]
    }
    thumbprint = key.thumbprint()
    return PublicKey(
        kid=kid or thumbprint, thumbprint=thumbprint, key_type=key.key_type, public_jwk=public_jwk
    )


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of a public JWK; ``UnacceptableKey`` if it is not one we accept."""
    return _import(
        {
            name: value
            for name, value in jwk.items()
            if name in _PUBLIC_MEMBERS.get(str(jwk.get("kty")), ("kty",))
        }
    ).thumbprint()


@lru_cache(maxsize=1024)
def _verifier(jwk_json: str, algorithm: str):
    return jwt.PyJWK(json.loads(jwk_json), algorithm=algorithm).key


def verifying_key(public_jwk: dict, algorithm: str):
    """The PyJWT key object for a stored public JWK (parsed once per process and key)."""
    if algorithm not in _ALGORITHMS_BY_TYPE.get(str(public_jwk.get("kty")), ()):
        raise UnacceptableKey("algorithm does not match the key type")
    return _verifier(json.dumps(public_jwk, sort_keys=True), algorithm)


@cache
def dummy_jwk(algorithm: str) -> dict:
    """A throwaway public JWK per algorithm: verified against (through ``verifying_key``, as a stored
    key is) where no real key matches, so a failure for an unknown client or kid costs what a wrong
    signature against a registered key costs."""
    generated: Any = {
        "ES256": lambda: ECKey.generate_key("P-256"),
        "RS256": lambda: RSAKey.generate_key(2048),
        "PS256": lambda: RSAKey.generate_key(2048),
        "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
    }[algorithm]()
    return {
        name: value
        for name, value in generated.as_dict(private=False).items()
        if name in _PUBLIC_MEMBERS[generated.key_type]
    }
