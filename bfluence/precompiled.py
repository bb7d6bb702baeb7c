"""ORM queries compiled once and run many times: for the few queries and inserts every request makes.

Django turns a QuerySet into SQL on every evaluation. For the hot path that compilation cost more than
the query itself (profiled: ~60% of the authentication query's time). A ``PrecompiledQuery`` builds the
QuerySet with marker parameters, compiles it once per database alias and vendor, and afterwards only
executes the SQL with new parameters, passing rows through the same converters Django would (JSON,
datetimes on SQLite, …). The SQL is Django's own: no hand-written SQL to keep in step with the models.

A ``PrecompiledInsert`` does the same for the INSERT of one row: Django's ``SQLInsertCompiler`` builds the
statement once, and each call only prepares the values, each with its field's own ``get_db_prep_save``
(what ``Model.save`` sends), and executes. Compiling the INSERT and the model's save machinery cost ~20%
of a token request's CPU (profiled, issue 14).

What is cached holds no database connection. Connections are per thread, and Django's threaded dev
server starts a thread per request: a cache that kept (or was keyed by) a connection kept every thread's
connection object alive for ever. Converters that Django binds to one connection's ``ops`` are rebound
to the calling thread's connection on each call.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import ProgrammingError, connections, transaction
from django.db.models import DateField, DateTimeField, Field, Model, QuerySet, TimeField, signals
from django.db.models.sql import InsertQuery

from bfluence import plan_cache

T = TypeVar("T")
# (value, expression, connection) -> value, as Django's converters take them.
Converter = Callable[[object, object, object], object]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: list[int]  # where each argument goes in the compiled parameter list
    static_params: list
    converters: list[tuple[int, list[Converter], object]]  # (column, converters, expression)
    call: str | None = None  # the same query through its planned-once function (bfluence.plan_cache)

    def params(self, arguments) -> list:
        params = list(self.static_params)
        for position, argument in zip(self.positions, arguments):
            params[position] = argument
        return params


def _detached(converter: Converter, connection) -> Converter:
    """The same converter, taking whatever it was bound to from the connection it is called with."""
    owner = getattr(converter, "__self__", None)
    function = getattr(converter, "__func__", None)
    if function is not None and owner is connection.ops:
        return lambda value, expression, conn: function(conn.ops, value, expression, conn)
    if function is not None and owner is connection:
        return lambda value, expression, conn: function(conn, value, expression, conn)
    return converter  # bound to a field or an expression, or a plain function: no connection inside


def once_per_database(compiled: dict[tuple[str, str], T], using: str, compile: Callable[[str], T]) -> T:
    """``compile(using)``, cached per alias and vendor: never per connection (see the module docstring)."""
    key = (using, connections[using].vendor)
    found = compiled.get(key)
    if found is None:
        found = compiled[key] = compile(using)
    return found


class PrecompiledQuery:
    """``build(*markers)`` returns a ``values_list`` QuerySet in which each marker appears exactly once
    as a parameter; markers must be values no real call uses (and of the field's type).

    ``planned_once``: on PostgreSQL, run through a function that keeps its plan per connection, once
    ``migrate`` has installed it (bfluence.plan_cache); for reads whose planning costs more than their run.
    """

    def __init__(self, build: Callable[..., QuerySet], *markers, planned_once: bool = False) -> None:
        self._build = build
        self._markers = list(markers)
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._planned_once = planned_once
        if planned_once:
            PLANNED_ONCE.append(self)

    def _compile(self, alias: str) -> _Compiled:
        connection = connections[alias]
        queryset = self._build(*self._markers)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        params = list(params)
        positions = [params.index(marker) for marker in self._markers]
        converters = compiler.get_converters([column for column, _sql, _alias in compiler.select])
        detached = [
            (position, [_detached(converter, connection) for converter in functions], expression)
            for position, (functions, expression) in converters.items()
        ]
        call = None
        if self._planned_once and connection.vendor == "postgresql":
            call = plan_cache.function_call(sql, len(params))
        return _Compiled(sql, positions, params, detached, call)

    def _compiled_for(self, using: str) -> _Compiled:
        return once_per_database(self._compiled, using, self._compile)

    def rows(self, *arguments, using: str = "default") -> list[tuple]:
        compiled = self._compiled_for(using)
        with connections[using].cursor() as cursor:
            _execute(cursor, compiled, compiled.params(arguments), using)
            rows = cursor.fetchall()
        if compiled.converters:
            connection = connections[using]
            rows = [_converted(row, compiled.converters, connection) for row in rows]
        return rows

    @contextmanager
    def unloaded_rows(self, *arguments, using: str = "default") -> Iterator["UnloadedRows"]:
        """The rows as the server sent them, each turned into Python values only when asked for.

        For callers that must do the same work whatever the rows: client authentication compares two
        columns of every row and loads only the row that matched, so the columns a known client_id's
        rows carry cost nothing until then (the driver would otherwise parse every date, JSON and
        interval of every row: ~50 µs a known client_id took longer than an unknown one; issue 14).
        """
        compiled = self._compiled_for(using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params(arguments))
            yield UnloadedRows(cursor.cursor, compiled.converters, connections[using])

    def install_function(self, using: str) -> None:
        """Create this query's planned-once function on ``using`` (PostgreSQL), for its SQL as compiled now."""
        plan_cache.install_all(connections[using], [self._compiled_for(using).sql])


# The queries to install as functions after every migrate (``install_planned_once``).
PLANNED_ONCE: list[PrecompiledQuery] = []


def install_planned_once(using: str = "default", **_signal) -> None:
    """A ``post_migrate`` receiver: every planned-once query's function, for the SQL this code compiles.
    Connected by the app whose ``ready()`` imports those queries (Django sends ``post_migrate`` only for
    apps with models)."""
    if connections[using].vendor == "postgresql":
        for query in PLANNED_ONCE:
            query.install_function(using)


def _execute(cursor, compiled: _Compiled, params: list, using: str) -> None:
    if compiled.call is not None and plan_cache.usable(using, compiled.sql):
        try:
            cursor.execute(compiled.call, params)
            return
        except ProgrammingError as error:
            # No function matching this SQL (migrate not run since this SQL or its columns' types
            # changed): in autocommit the call changed nothing and the SQL itself answers; inside a
            # transaction the error stands (it has aborted that transaction).
            if not plan_cache.call_failed(error) or connections[using].in_atomic_block:
                raise
            plan_cache.found_missing(using, compiled.sql)
    cursor.execute(compiled.sql, params)


class UnloadedRows:
    """A query's result, loaded row by row: psycopg keeps the server's bytes until a row is fetched."""

    def __init__(self, cursor, converters, connection) -> None:
        self._cursor = cursor
        self._converters = converters
        self._connection = connection
        self._result = getattr(cursor, "pgresult", None)  # psycopg; other drivers load as they fetch
        self._fetched: list[tuple[Any, ...]] = [] if self._result is not None else cursor.fetchall()
        self.count: int = self._result.ntuples if self._result is not None else len(self._fetched)

    def text(self, index: int, column: int) -> str:
        """One column of one row as text, unparsed (text columns need nothing more); NULL as ""."""
        if self._result is None:
            return self._fetched[index][column] or ""
        value = self._result.get_value(index, column)
        return "" if value is None else bytes(value).decode()

    def row(self, index: int) -> tuple[Any, ...]:
        """One whole row, converted as ``PrecompiledQuery.rows`` converts it."""
        if self._result is None:
            row = self._fetched[index]
        else:
            self._cursor.scroll(index, mode="absolute")
            row = self._cursor.fetchone()
        return _converted(row, self._converters, self._connection) if self._converters else tuple(row)


def _converted(row, converters, connection) -> tuple:
    values = list(row)
    for position, functions, expression in converters:
        value = values[position]
        for converter in functions:
            value = converter(value, expression, connection)
        values[position] = value
    return tuple(values)


# pre_save hooks that write the value as set unless auto_now/auto_now_add is on (refused below).
_PLAIN_PRE_SAVE = {Field.pre_save, DateField.pre_save, DateTimeField.pre_save, TimeField.pre_save}


def _insert_fields(model: type[Model]) -> list[Field]:
    """The columns ``Model.save`` writes for a new row (all but an auto primary key and generated
    columns), refusing whatever it would compute on its way to the database: a precompiled insert
    writes exactly the values given, or the fields' Python defaults."""
    meta = model._meta
    if meta.parents or meta.order_with_respect_to:
        raise ValueError(f"{model.__name__}: parent tables and _order are written by the ORM; use it")
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    for field in fields:
        if (
            field.has_db_default()
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
            or type(field).pre_save not in _PLAIN_PRE_SAVE
            or hasattr(field, "get_placeholder")
        ):
            raise ValueError(f"{model.__name__}.{field.name}: saved as more than its value; use the ORM")
    return fields


class PrecompiledInsert:
    """``insert(**values)``: one new row of ``model``, as ``model.objects.create(**values)`` writes it.

    ``values`` are keyed by attname (``community_id``, not ``community``); a field left out takes its
    default, called per row (``timezone.now``, ``dict``). Runs on the caller's connection, inside its
    transaction. No pk is returned: no caller needs one, and not asking spares a RETURNING clause.
    Models whose saves have receivers (``pre_save``/``post_save``) are refused on every call, so a
    receiver added later is never silently skipped.
    """

    def __init__(self, model: type[Model]) -> None:
        self._model = model
        self._fields = _insert_fields(model)
        self._attnames = frozenset(field.attname for field in self._fields)
        self._sql: dict[tuple[str, str], str] = {}

    def _compile(self, alias: str) -> str:
        query = InsertQuery(self._model)
        query.insert_values(self._fields, [self._model()])
        # One statement taking one "%s" per field, in order (no field with its own placeholder is
        # accepted): insert() passes its prepared values in that order.
        [(sql, _params)] = query.get_compiler(using=alias).as_sql()
        return sql

    def _sql_for(self, using: str) -> str:
        return once_per_database(self._sql, using, self._compile)

    def insert(self, *, using: str = "default", **values) -> None:
        params = self.prepared(using=using, **values)
        # As Model.save: a failed insert inside an atomic block marks it for rollback, so the caller
        # cannot commit the rest of the transaction without it (SQLite would let it).
        with transaction.mark_for_rollback_on_error(using), connections[using].cursor() as cursor:
            cursor.execute(self._sql_for(using), params)

    def prepared(self, *, using: str = "default", **values) -> list:
        """The row's values as ``insert`` sends them, one per insert field, in order."""
        unknown = values.keys() - self._attnames
        if unknown:
            raise TypeError(f"{self._model.__name__} has no column {', '.join(sorted(unknown))}")
        if signals.pre_save.has_listeners(self._model) or signals.post_save.has_listeners(self._model):
            raise RuntimeError(f"{self._model.__name__} has save receivers: use the ORM")
        connection = connections[using]
        return [
            field.get_db_prep_save(
                values[field.attname] if field.attname in values else field.get_default(), connection
            )
            for field in self._fields
        ]

    def columns(self, *, using: str = "default", **values) -> dict[str, Any]:
        """The row's values as ``insert`` sends them, keyed by column name: for a statement that writes
        the row by name (tokens/services/issuing_statement.py)."""
        return {
            field.column: value
            for field, value in zip(self._fields, self.prepared(using=using, **values), strict=True)
        }
