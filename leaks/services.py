"""Leaked secrets reported by a secret scanner (SPEC §2.9): verify the report, find each reported
secret, suspend it and revoke the community's tokens, and answer which reports were true."""

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients import crypto
from clients.models import ClientSecret
from communities.models import Community
from leaks.keys import scanning_key
from tokens.services import revocation_request_open

TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"


@dataclass(frozen=True)
class ReportedToken:
    token: str = field(repr=False)
    type: str
    url: str
    source: str


def report_signature_valid(*, body: bytes, key_identifier: str, signature: str) -> bool:
    """The raw body signed (ECDSA P-256, SHA-256, base64 DER) by the scanner's key with that identifier."""
    if not key_identifier or not signature or len(key_identifier) > 200 or len(signature) > 500:
        return False
    key = scanning_key(key_identifier)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _find_secret(token: str) -> ClientSecret | None:
    """The current, in-grace or already-reported secret this token is; the same queries for a miss.

    The checksum first (no database work for what cannot be ours), then the keyed lookup digest (one
    indexed query); secrets made before the lookup digest existed are compared one by one, among the
    valid ones only (clients.crypto.secret_matches, constant time).
    """
    if not crypto.is_well_formed(token):
        return None
    now = timezone.now()
    lookup = crypto.lookup_digest(token, key=settings.SECRET_KEY)
    found = ClientSecret.objects.filter(lookup=lookup).select_related("community").first()
    older = ClientSecret.objects.filter(lookup="").exclude(valid_until__lte=now).select_related("community")
    for candidate in older:
        if crypto.secret_matches(token, salt=candidate.salt, digest=candidate.digest) and found is None:
            found = candidate
    if found is None:
        return None
    if found.reported_leaked_at is not None or found.is_valid_at(now):
        return found
    return None


@transaction.atomic
def _suspend(*, secret: ClientSecret, reported: ReportedToken, actor: Actor) -> None:
    """Suspend the secret and revoke every token (SPEC §2.7), once: a second report finds it done."""
    Community.objects.select_for_update().get(pk=secret.community_id)  # as every cut-off, first
    secret = ClientSecret.objects.select_for_update().get(pk=secret.pk)
    if secret.reported_leaked_at is not None or not secret.is_valid_at(timezone.now()):
        return
    request = revocation_request_open(
        community=secret.community,
        reason=f"secret scanning: {reported.type[:100]} found at {reported.url[:500]}",
        actor=actor,
        leaked_secret=secret,
        evidence_url=reported.url,
    )
    audit_record(
        event_type=AuditEvent.EventType.SECRET_LEAK_REPORTED,
        actor=actor,
        community=secret.community,
        details={
            "secret_hint": secret.hint,
            "token_type": reported.type[:100],
            "url": reported.url[:1000],
            "source": reported.source[:100],
            "request_id": request.pk,
        },
    )


def secret_scanning_report(*, tokens: list[ReportedToken], actor: Actor) -> list[dict[str, str]]:
    """GitHub's feedback array, one item per reported token, in order."""
    feedback = []
    for reported in tokens:
        secret = _find_secret(reported.token)
        if secret is not None:
            _suspend(secret=secret, reported=reported, actor=actor)
        feedback.append(
            {
                "token_hash": hashlib.sha256(reported.token.encode()).hexdigest(),
                "token_type": reported.type,
                "label": TRUE_POSITIVE if secret is not None else FALSE_POSITIVE,
            }
        )
    return feedback
