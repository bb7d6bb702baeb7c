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
from collections.abc import Iterable
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

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


def audit_export_parse(lines: Iterable[str], *, since: datetime) -> list[dict[str, Any]]:
    """The exported rows that occurred at or after ``since``, validated, in the order they occurred.

    Every line is checked before any is used, so a damaged export is refused whole with the number of
    the first bad line (``ValidationError``), never half applied.
    """
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _exported_row(line)
        except ValueError as error:
            raise ValidationError(
                _("Line %(number)d of the audit export is not an audit row: %(error)s")
                % {"number": number, "error": error}
            ) from error
        if row["occurred_at"] >= since:
            rows.append(row)
    return sorted(rows, key=lambda row: (row["occurred_at"], row["id"] or 0))


_LENGTHS = {"event_type": 40, "actor_type": 20, "actor": 200, "client_id": 100, "jti": 64}


def _exported_row(line: str) -> dict[str, Any]:
    """One line back into the row's values; ``ValueError`` saying what is wrong."""
    try:
        row = json.loads(line)
    except ValueError as error:
        raise ValueError(_("not valid JSON (%(error)s)") % {"error": error}) from error
    if not isinstance(row, dict) or set(row) != set(FIELDS):
        raise ValueError(
            _("expected a JSON object with the fields %(fields)s") % {"fields": ", ".join(FIELDS)}
        )
    for name, limit in _LENGTHS.items():
        if not isinstance(row[name], str) or len(row[name]) > limit:
            raise ValueError(
                _("%(field)s must be a string of at most %(limit)d characters")
                % {"field": name, "limit": limit}
            )
    if row["event_type"] not in AuditEvent.EventType.values:
        raise ValueError(_("unknown event_type %(value)r") % {"value": row["event_type"][:40]})
    for name in ("id", "community_id"):
        if row[name] is not None and (not isinstance(row[name], int) or isinstance(row[name], bool)):
            raise ValueError(_("%(field)s must be an integer or null") % {"field": name})
    if not isinstance(row["details"], dict):
        raise ValueError(_("details must be a JSON object"))
    if row["source_ip"] is not None:
        try:
            row["source_ip"] = str(ip_address(row["source_ip"]))
        except ValueError as error:
            raise ValueError(_("source_ip must be an IP address or null")) from error
    occurred_at = parse_datetime(row["occurred_at"]) if isinstance(row["occurred_at"], str) else None
    if occurred_at is None or occurred_at.tzinfo is None:
        raise ValueError(_("occurred_at must be an ISO 8601 time with its offset"))
    row["occurred_at"] = occurred_at
    return row
