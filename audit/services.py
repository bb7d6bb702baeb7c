"""Who did it: actors, and the one function that writes the audit trail.

Services call ``audit_record`` inside the same transaction as the change it describes, so the trail
never claims what did not happen, and never misses what did.
"""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.export import audit_export_on_commit
from audit.models import AuditEvent
from bfluence import metrics
from bfluence.scrub import SECRET_PREFIX, scrub, scrub_value

if TYPE_CHECKING:  # for the annotations only: the audit trail imports no app above it
    from django.contrib.auth.base_user import AbstractBaseUser

    from communities.models import Community

_MAX_CLIENT_ID = 100


@dataclass(frozen=True)
class Actor:
    """The one responsible for an action: a staff user, a partner client or an operator's command."""

    kind: str
    name: str
    source_ip: str | None = None

    @classmethod
    def staff(cls, user: "AbstractBaseUser", source_ip: str | None = None) -> "Actor":
        return cls(AuditEvent.ActorType.STAFF, user.get_username(), source_ip)

    @classmethod
    def partner(cls, client_id: str, source_ip: str | None = None) -> "Actor":
        return cls(AuditEvent.ActorType.PARTNER, client_id, source_ip)

    @classmethod
    def command(cls, name: str) -> "Actor":
        return cls(AuditEvent.ActorType.COMMAND, f"manage.py {name}")

    @classmethod
    def scanner(cls, name: str, source_ip: str | None = None) -> "Actor":
        """A secret-scanning partner whose signed report was verified (SPEC §2.9)."""
        return cls(AuditEvent.ActorType.SCANNER, name, source_ip)

    @classmethod
    def anonymous(cls) -> "Actor":
        return cls(AuditEvent.ActorType.ANONYMOUS, "-")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def printable_client_id(client_id: str) -> str:
    """The client_id as recorded: bounded, and never a secret pasted into the wrong field."""
    if client_id.startswith(SECRET_PREFIX):
        return f"{SECRET_PREFIX}…(redacted)"
    # scrub: a secret's body sent without its prefix (the fields swapped, the prefix trimmed) was stored.
    return scrub("".join(char if char.isprintable() else "?" for char in client_id[:_MAX_CLIENT_ID]))


def loggable_client_id(client_id: str) -> str:
    """The client_id for a log field: as sent (bounded), since the JSON encoder escapes control
    characters; a secret pasted into the wrong field never."""
    if client_id.startswith(SECRET_PREFIX):
        return f"{SECRET_PREFIX}…(redacted)"
    return client_id[:_MAX_CLIENT_ID]


def audit_record(
    *,
    event_type: str,
    actor: Actor,
    community: "Community | None" = None,
    client_id: str = "",
    jti: str = "",
    source_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit row (an INSERT, never an UPDATE). Free text in ``details`` (reasons, names) is
    scrubbed of secrets and tokens. Once the transaction commits, the row is also appended to
    ``AUDIT_EXPORT`` (audit/export.py)."""
    event = AuditEvent.objects.create(
        event_type=event_type,
        actor_type=actor.kind,
        actor=scrub(actor.name)[:200],
        community_id=community.pk if community else None,
        client_id=printable_client_id(client_id or (community.client_id if community else "")),
        jti=jti,
        source_ip=source_ip or actor.source_ip,
        details=scrub_value(details or {}),
    )
    audit_export_on_commit(event)
    return event


_decisions = logging.getLogger("bfluence.auth")


def log_auth_decision(
    *,
    outcome: str,
    reason: str = "",
    client_id: str = "",
    jti: str = "",
    source_ip: str | None = None,
    kind: str = "client",
) -> None:
    """One structured line per authentication decision: never a secret, never a whole token.

    Every value is a field of its own (``extra``), so the JSON formatter escapes it: a client_id holding
    spaces, ``key=value`` or a newline stays one string in one line (SECURITY.md, log-line forgery).
    """
    metrics.auth_decision(kind=kind, outcome=outcome, reason=reason)  # "bearer" or "client"
    _decisions.info(
        "auth decision",
        extra={
            "outcome": outcome,
            "reason": reason or None,
            "client_id": loggable_client_id(client_id) or None,
            "jti": jti or None,
            "ip": source_ip or None,
        },
    )
