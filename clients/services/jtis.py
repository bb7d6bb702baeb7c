"""Single-use ``jti`` values of client assertions and DPoP proofs, kept until they could no longer be
replayed."""

import hashlib
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import UsedJti


def jti_use_once(*, kind: str, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record a ``jti`` as used; ``False`` if it already was (a replay). Rests on a unique row, so it
    holds across processes and servers whatever the cache. Expired rows are purged by ``purge_tokens``.
    """
    key = hashlib.sha256(f"{kind}\x00{issuer}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    try:
        with transaction.atomic():
            UsedJti.objects.create(key=key, expires_at=expires_at)
    except IntegrityError:
        # Seen before. Only a row already past its expiry (not yet purged) may be taken over: the
        # conditional update is atomic, so of two racing requests at most one wins it.
        return bool(
            UsedJti.objects.filter(key=key, expires_at__lt=timezone.now()).update(expires_at=expires_at)
        )
    return True


def used_jtis_purge() -> int:
    """Forget jtis that can no longer be replayed (their assertion or proof has expired)."""
    return UsedJti.objects.filter(expires_at__lt=timezone.now()).delete()[0]
