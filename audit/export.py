"""The audit export (SPEC §6 ``AUDIT_EXPORT``): every audit row, once its transaction commits, appended to a
file as one JSON object per line, outside the database.

Log shippers read it, and after a database restore ``post_restore`` re-applies from it what the restore
undid. Each line is written with one ``write`` to a file opened with ``O_APPEND``, so the lines of several
worker processes and hosts' commands never interleave. The row holds no secret or token (``audit_record``
scrubs it), so neither does the line.
"""

import json
import logging
import os
from typing import Any

from django.db import transaction

from audit.models import AuditEvent
from bfluence.conf import app_settings

logger = logging.getLogger("bfluence.audit")

#: The columns of the audit table, in the order a line lists them.
FIELDS = (
    "id",
    "occurred_at",
    "event_type",
    "actor_type",
    "actor",
    "community_id",
    "client_id",
    "jti",
    "source_ip",
    "details",
)


def audit_event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """One row as the export writes it: the table's columns, the time in ISO 8601."""
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "event_type": event.event_type,
        "actor_type": event.actor_type,
        "actor": event.actor,
        "community_id": event.community_id,
        "client_id": event.client_id,
        "jti": event.jti,
        "source_ip": event.source_ip,
        "details": event.details,
    }


def audit_export_on_commit(event: AuditEvent) -> None:
    """Append ``event`` to ``AUDIT_EXPORT`` once the transaction that wrote it commits (at once outside
    one); a rolled-back row is never exported."""
    path = app_settings().audit_export
    if path:
        line = json.dumps(audit_event_as_dict(event), ensure_ascii=False, separators=(",", ":")) + "\n"
        transaction.on_commit(lambda: _append(path, line.encode()))


def _append(path: str, data: bytes) -> None:
    """One ``write`` on an ``O_APPEND`` descriptor: atomic positioning, so concurrent writers never
    interleave a line. A failure is logged, never raised: the change it records has committed."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            written = os.write(descriptor, data)
        finally:
            os.close(descriptor)
        if written != len(data):
            raise OSError(f"short write: {written} of {len(data)} bytes")
    except OSError as error:
        logger.error("audit export failed", extra={"path": path, "error": str(error)})
