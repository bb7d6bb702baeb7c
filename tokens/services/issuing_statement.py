"""A token's record and its audit row in one PostgreSQL statement, if nothing entitling the client changed.

The issuing transaction (``issuance._still_entitled``) costs six round trips: BEGIN, the shared lock on
the community row, the re-read, two inserts, COMMIT. Each costs the app and PostgreSQL more CPU than the
work inside it (profiled, issue 14). This path sends one statement, in autocommit: a call to
``tokens_issue_if_entitled`` (tokens migration 0012), a PL/pgSQL function that

    locks the community row FOR SHARE if its entitlement_revision is still the one read when the client
    authenticated, it is active, the credential is valid and the revision triggers are all on;
    then inserts the token's record and its audit row; true if it wrote them, false if it wrote nothing.

A function rather than the same SQL sent each time: PostgreSQL plans a function's statements once per
connection, where an ad-hoc statement is parsed, analysed and planned on every request (about half of
PostgreSQL's CPU per token, perf, issue 14), and unlike a prepared statement it keeps no session state
that a transaction-pooling PgBouncer could lose.

Why one statement is as strict as the transaction. ``Community.entitlement_revision`` takes a new
value, by trigger, on every write to the community row and to its secrets, keys and policy (tokens
migration 0010), and every cut-off writes or locks that row FOR UPDATE before it changes anything:
- a cut-off committed before this statement began: the statement sees the new revision; nothing written;
- a cut-off holding the row: the shared lock waits for it, and PostgreSQL then re-checks the WHERE
  against the row's newest version (READ COMMITTED): a moved revision, nothing written;
- a cut-off arriving later: it waits for this statement to commit, and then revokes the token recorded.
The function also checks that those triggers are there and enabled. When nothing is written the
caller falls back on the issuing transaction, which re-reads everything and decides (and refuses a
client cut off meanwhile). The two paths share the lock, so they order against each other and against
cut-offs the same way.
"""

import json
import logging
from datetime import date, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any, cast

from django.db import ProgrammingError, connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg.errors import UndefinedFunction
from psycopg.types.json import Jsonb

from audit.services import audit_record_columns
from bfluence.precompiled import PrecompiledInsert
from communities.models import Community

_log = logging.getLogger("bfluence.tokens")

# Every value cast to the function's own parameter types, so the call resolves to it whatever types
# psycopg would infer for the values.
_CALL = (
    "SELECT tokens_issue_if_entitled(%s::bigint, %s::bigint, %s::bigint, %s::text, %s::text, "
    "%s::timestamptz, %s::bigint, %s::jsonb, %s::jsonb)"
)
_missing_reported = False


def token_record_if_entitled(
    *,
    community: Community,
    secret_id: int | None,
    secret_digest: tuple[str, str] | None,
    key_id: int | None,
    now: datetime,
    token_insert: PrecompiledInsert,
    token: dict[str, Any],
    audit: dict[str, Any],
) -> bool:
    """Write the token's record (``token``: ``token_insert``'s columns) and its audit row
    (``audit``: ``audit_record``'s arguments) if ``community`` is still as read, with its revision; the
    credential is the secret ``secret_id`` (valid at ``now``, still stored with ``secret_digest``: its salt
    and digest as compared) or else the unretired key ``key_id``.

    True if both rows were written; False if nothing was. PostgreSQL only.
    """
    salt, digest = secret_digest if secret_id is not None and secret_digest else (None, None)
    params = [
        community.pk,
        community.entitlement_revision,
        secret_id,
        salt,
        digest,
        now,
        key_id if secret_id is None else None,
        _json(token_insert.columns(**token)),
        _json(audit_record_columns(**audit)),
    ]
    try:
        # Inside a caller's atomic block (tests, a shell), a failure must not leave it committable.
        with transaction.mark_for_rollback_on_error(), _server_binding_cursor() as cursor:
            cursor.execute(_CALL, params)
            (written,) = cursor.fetchone()
    except ProgrammingError as error:
        # The function is not there (migration 0012 reverted while this code runs): in autocommit the
        # failed call changed nothing, and the issuing transaction decides, as for missing triggers.
        if not isinstance(error.__cause__, UndefinedFunction) or connection.in_atomic_block:
            raise
        _report_missing()
        return False
    return bool(written)


def _report_missing() -> None:
    global _missing_reported
    if not _missing_reported:  # once per process: every token request would say it again
        _missing_reported = True
        _log.warning("tokens_issue_if_entitled is missing (tokens migration 0012): issuing by transaction")


def _json(row: dict[str, Any]) -> str:
    """A row's prepared values as the JSON object the function expands into the table's row type: each
    value in the text form its column's type reads back exactly (datetimes to the microsecond)."""
    return json.dumps(row, default=_json_value, ensure_ascii=False, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (IPv4Address, IPv6Address)):
        return str(value)
    if isinstance(value, Jsonb):  # a JSONField's value, adapted for psycopg: the value itself
        return value.obj
    raise TypeError(f"no JSON form for a {type(value).__name__} column value")


def _server_binding_cursor() -> CursorWrapper:
    """The values sent apart from the SQL, so psycopg dumps them in C instead of quoting each into the
    SQL text in Python (~6% of a token request's CPU with the earlier ~20 values; py-spy, issue 14).
    Through the project's backend (bfluence/postgresql), which makes it as Django makes any cursor."""
    make = getattr(connection, "server_binding_cursor", None)  # another PostgreSQL backend: Django's own
    return cast(CursorWrapper, make() if make is not None else connection.cursor())
