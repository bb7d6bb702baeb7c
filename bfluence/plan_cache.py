"""Hot reads planned once per connection on PostgreSQL, through functions, with no session state.

PostgreSQL parses, analyses and plans an ad-hoc statement every time it gets one. For get-bflus's read
(the token record joined to its community, the community's policy and one member) planning is most of
the server's work: 0.30-0.45 ms planning against 0.05-0.09 ms running it (``EXPLAIN ANALYZE``), while the
plain one-table read of the bench's ceiling plans in 0.04 ms. Prepared statements would keep the plan,
but they are session state, which PgBouncer's transaction pooling loses (docs/capacity.md §4). A
PL/pgSQL function's statements are planned once per connection and kept with the connection's function
cache, which any connection has, pooled or not.

So a ``PrecompiledQuery(..., planned_once=True)`` is installed, after every ``migrate``, as a function
``bfluence_q_<digest of its SQL>`` whose body is that same SQL (Django's own, as compiled from the
QuerySet) and whose result has the same columns in the same order; the query then calls it instead of
sending its SQL. The name follows the SQL, so code never calls a function made from other SQL: after a
model or Django change the new SQL gets its own function at the next ``migrate``, and until then (or
if it is missing for any other reason) the query sends its SQL as before, only slower. A migration that
changes only a column's type keeps the SQL and the name: every install drops the function and creates
it anew for the types of the day, and until it has, a call that fails for want of a matching function
(SQLSTATE class 42) is answered by the SQL. Old functions are left in place for code still running them
during an upgrade (a few small functions per release).
"""

import hashlib
import itertools
import logging
import re

from django.db import DatabaseError, transaction

_log = logging.getLogger("bfluence.db")
_PROBE = "bfluence_plan_probe"
# (alias, SQL) whose function this process found missing: the SQL then. Keyed by the SQL itself, not its
# function's name: a str caches its hash, so the check on every call costs no digest.
_missing: set[tuple[str, str]] = set()


def function_name(sql: str) -> str:
    return "bfluence_q_" + hashlib.sha256(sql.encode()).hexdigest()[:24]


def function_call(sql: str, parameters: int) -> str:
    """The statement that runs ``sql`` (with its ``parameters`` placeholders) through its function."""
    return f"SELECT * FROM {function_name(sql)}({', '.join(['%s'] * parameters)})"


def call_failed(error: Exception) -> bool:
    """Whether a call failed for want of a matching function (missing, or made for other column types,
    or not executable): SQLSTATE class 42. The SQL itself answers then."""
    return str(getattr(error.__cause__, "sqlstate", "") or "").startswith("42")


def usable(alias: str, sql: str) -> bool:
    return (alias, sql) not in _missing


def found_missing(alias: str, sql: str) -> None:
    if (alias, sql) not in _missing:
        _missing.add((alias, sql))
        _log.warning("%s is missing or stale (run migrate): the query is sent as SQL", function_name(sql))


def install(connection, sql: str) -> None:
    """Create ``sql``'s function on ``connection`` anew: its parameter and result types as PostgreSQL
    infers them for ``sql`` now (a migration may have changed a column's type without changing the SQL,
    so whatever had the name is dropped first). One transaction, so a pooler keeps one server connection
    for the probe's PREPARE, EXECUTE and DEALLOCATE, and the function is never seen half replaced."""
    name = function_name(sql)
    numbered = _numbered(sql)
    atomic = transaction.atomic(using=connection.alias)
    with atomic, connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the driver's cursor (no placeholder processing); its errors as Django's
        raw.execute(f"PREPARE {_PROBE} AS {numbered}")
        try:
            # In a savepoint: a failing probe must leave the transaction able to DEALLOCATE (a prepared
            # statement outlives a rollback, and would stop every later install on this connection).
            with transaction.atomic(using=connection.alias):
                raw.execute(
                    f"SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = '{_PROBE}'"
                )
                (parameter_types,) = raw.fetchone()
                raw.execute(f"EXECUTE {_PROBE}({', '.join(['NULL'] * len(parameter_types))})")
                result = raw.pgresult
                column_types = [result.ftype(column) for column in range(result.nfields)]
        finally:
            raw.execute(f"DEALLOCATE {_PROBE}")
        raw.execute(
            "SELECT format_type(t.oid, NULL) FROM unnest(%s::oid[]) WITH ORDINALITY AS t(oid, n) ORDER BY n",
            [column_types],
        )
        columns = ", ".join(f"c{number} {row[0]}" for number, row in enumerate(raw.fetchall(), 1))
        raw.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = %s "
            "AND p.pronamespace = current_schema()::regnamespace",
            [name],
        )
        for (signature,) in raw.fetchall():
            raw.execute(f"DROP FUNCTION {signature}")
        # The result columns are named c1, c2, … (variables in PL/pgSQL): the query's own column names win.
        raw.execute(
            f"CREATE FUNCTION {name}({', '.join(parameter_types)}) "
            f"RETURNS TABLE ({columns}) LANGUAGE plpgsql STABLE AS $bfluence$\n"
            "#variable_conflict use_column\n"
            f"BEGIN\n    RETURN QUERY {numbered};\nEND $bfluence$"
        )
    _missing.discard((connection.alias, sql))


def install_all(connection, sqls: list[str]) -> None:
    for sql in sqls:
        try:
            install(connection, sql)
        except DatabaseError as error:  # e.g. migrated back to before its tables: the SQL is sent instead
            _log.warning("could not install %s: %s", function_name(sql), error)


def _numbered(sql: str) -> str:
    """Django's ``%s`` placeholders as ``$1``, ``$2``, …, and its ``%%`` as ``%``."""
    number = itertools.count(1)
    return re.sub(r"%[s%]", lambda match: "%" if match.group() == "%%" else f"${next(number)}", sql)
