"""The public keys a secret scanner signs its reports with (GitHub's key-list JSON shape).

``{"public_keys": [{"key_identifier": "…", "key": "-----BEGIN PUBLIC KEY-----…", "is_current": true}]}``,
read from ``SECRET_SCANNING_KEYS_FILE`` or fetched from ``SECRET_SCANNING_KEYS_URL``. A fetched list is
kept an hour and fetched again, at most once a minute, when a report names a key it does not hold (the
scanner rotated its keys). It is public data: keeping a copy per process decides nothing about our own
credentials.
"""

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings

_log = logging.getLogger("bfluence.leaks")
KEEP_FOR = 3600.0
REFETCH_AT_MOST_EVERY = 60.0
MAX_KEY_LIST_BYTES = 256 * 1024


def parse_key_list(raw: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """Identifier → P-256 public key; entries that are not one are skipped."""
    keys = {}
    for entry in json.loads(raw).get("public_keys", []):
        try:
            key = load_pem_public_key(entry["key"].encode())
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            keys[str(entry["key_identifier"])] = key
    return keys


@dataclass
class _Fetched:
    keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")  # time.monotonic()
    lock: threading.Lock = field(default_factory=threading.Lock)


_fetched = _Fetched()


def _fetch() -> dict[str, ec.EllipticCurvePublicKey]:
    request = urllib.request.Request(
        settings.SECRET_SCANNING_KEYS_URL, headers={"Accept": "application/json", "User-Agent": "bfluence"}
    )
    with urllib.request.urlopen(request, timeout=settings.SECRET_SCANNING_KEYS_TIMEOUT) as response:
        return parse_key_list(response.read(MAX_KEY_LIST_BYTES))


def scanning_key(identifier: str) -> ec.EllipticCurvePublicKey | None:
    """The public key with this identifier, or None when the scanner publishes none by that name."""
    if settings.SECRET_SCANNING_KEYS_FILE:
        with open(settings.SECRET_SCANNING_KEYS_FILE, "rb") as keys_file:
            return parse_key_list(keys_file.read()).get(identifier)
    with _fetched.lock:
        age = time.monotonic() - _fetched.fetched_at
        if age > KEEP_FOR or (identifier not in _fetched.keys and age >= REFETCH_AT_MOST_EVERY):
            try:
                _fetched.keys = _fetch()
            except (OSError, ValueError) as error:
                _log.warning("secret-scanning keys not fetched", extra={"reason": type(error).__name__})
            _fetched.fetched_at = time.monotonic()
        return _fetched.keys.get(identifier)


def forget_keys() -> None:
    """Drop the fetched list (tests, and a setting change)."""
    with _fetched.lock:
        _fetched.keys, _fetched.fetched_at = {}, float("-inf")
