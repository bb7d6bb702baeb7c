"""Hot reads planned once per connection (bfluence/plan_cache.py): get-bflus's and the revocation check's
reads go through functions that ``migrate`` installs, answer exactly as their SQL does, and fall back on
that SQL when a function is missing."""

import logging

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bfluence import plan_cache
from bfluence.precompiled import PLANNED_ONCE, install_planned_once
from tests.conftest import bearer, get_bflus, issue_token, make_community
from tokens.selectors import _token_query, _token_with_member_query

FUNCTION_CALL = "SELECT * FROM bfluence_q_"


def _compiled(query):
    return query._compiled_for(connection.alias)


def test_the_token_reads_are_planned_once_and_nothing_else_registers():
    assert {id(query) for query in PLANNED_ONCE} == {id(_token_query), id(_token_with_member_query)}


def test_placeholders_are_numbered_as_postgresql_numbers_them():
    assert plan_cache._numbered("a = %s AND b LIKE 'x%%' AND c = %s") == "a = $1 AND b LIKE 'x%' AND c = $2"
    assert plan_cache.function_name("SELECT 1") != plan_cache.function_name("SELECT 2")


@pytest.mark.django_db
def test_get_bflus_and_me_call_their_functions(api, acme, postgresql_only):
    token = issue_token(api, acme)
    with CaptureQueriesContext(connection) as captured:
        answered = get_bflus(api, token)
        me = api.get("/auth/me", **bearer(token))

    assert answered.status_code == 200 and answered.json()["bflus"] == 1500
    assert me.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 2 and all(sql.startswith(FUNCTION_CALL) for sql in statements)


@pytest.mark.django_db
def test_a_function_answers_exactly_as_its_sql(api, acme, postgresql_only):
    """Every column, as the SQL's: a member, no such member, a revoked token, no such token."""
    jti = _jti(issue_token(api, acme))
    revoked = issue_token(api, acme)
    assert api.post("/auth/revoke", {"token": revoked}, format="json", **_basic(acme)).status_code == 200

    cases = [
        (_token_with_member_query, (jti, "123")),
        (_token_with_member_query, (jti, "no-such-member")),
        (_token_with_member_query, (_jti(revoked), "123")),
        (_token_with_member_query, ("no-such-jti", "123")),
        (_token_query, (jti,)),
        (_token_query, (_jti(revoked),)),
        (_token_query, ("no-such-jti",)),
    ]
    for query, arguments in cases:
        compiled = _compiled(query)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params(arguments))
            by_sql = cursor.fetchall()
            cursor.execute(compiled.call, compiled.params(arguments))
            by_function = cursor.fetchall()
        assert by_function == by_sql, arguments
    assert by_sql == [] and len(_token_query.rows(jti)) == 1
    assert _token_with_member_query.rows(_jti(revoked), "123")[0][2] is not None  # its revoked_at


def _jti(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


@pytest.mark.django_db
def test_a_revoked_token_is_refused_on_the_next_request_through_the_function(api, acme, postgresql_only):
    token = issue_token(api, acme)
    assert get_bflus(api, token).status_code == 200
    assert api.post("/auth/revoke", {"token": token}, format="json", **_basic(acme)).status_code == 200

    with CaptureQueriesContext(connection) as captured:
        refused = get_bflus(api, token)

    assert refused.status_code == 401
    assert captured.captured_queries[0]["sql"].startswith(FUNCTION_CALL)


def _basic(created):
    from tests.conftest import basic

    return basic(created.community.client_id, created.client_secret)


@pytest.mark.django_db(transaction=True)
def test_a_missing_function_falls_back_on_the_sql_until_migrate_installs_it(api, postgresql_only, caplog):
    created = make_community("unplanned", members={"123": 1500})
    token = issue_token(api, created)
    name = plan_cache.function_name(_compiled(_token_with_member_query).sql)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {name}")
    try:
        with (
            caplog.at_level(logging.WARNING, logger="bfluence.db"),
            CaptureQueriesContext(connection) as first,
        ):
            assert get_bflus(api, token).json()["bflus"] == 1500
        with CaptureQueriesContext(connection) as second:
            assert get_bflus(api, token).json()["bflus"] == 1500
    finally:
        install_planned_once(connection.alias)

    assert [q["sql"].startswith(FUNCTION_CALL) for q in first.captured_queries] == [True, False]
    assert [q["sql"].startswith(FUNCTION_CALL) for q in second.captured_queries] == [False]  # remembered
    assert f"{name} is missing or stale" in caplog.text
    with CaptureQueriesContext(connection) as after_migrate:
        assert get_bflus(api, token).json()["bflus"] == 1500
    assert after_migrate.captured_queries[0]["sql"].startswith(FUNCTION_CALL)


@pytest.mark.django_db
def test_installing_is_idempotent_and_a_query_it_cannot_plan_is_skipped(postgresql_only, caplog):
    install_planned_once(connection.alias)
    install_planned_once(connection.alias)  # CREATE OR REPLACE: no error

    with caplog.at_level(logging.WARNING, logger="bfluence.db"):
        plan_cache.install_all(connection, ["SELECT x FROM no_such_table WHERE y = %s"])

    assert "could not install" in caplog.text
    with connection.cursor() as cursor:  # the failed install left the connection usable
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_sqlite_sends_the_sql(api, acme):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL calls the functions (above)")
    token = issue_token(api, acme)
    with CaptureQueriesContext(connection) as captured:
        assert get_bflus(api, token).status_code == 200
    assert _compiled(_token_with_member_query).call is None
    assert not captured.captured_queries[0]["sql"].startswith(FUNCTION_CALL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ddl",
    [
        # CharField -> TextField: Django's SELECT, and so the function's name, stay the same.
        "ALTER TABLE communities_community ALTER COLUMN name TYPE text",
        "ALTER TABLE communities_member ALTER COLUMN bflus TYPE numeric(30, 0)",
    ],
)
def test_a_column_type_migration_gets_a_new_function_at_migrate(api, postgresql_only, ddl):
    """Found by review: the function kept its old result types, its replacement failed, and every call
    failed until it was dropped by hand."""
    created = make_community("retyped", members={"123": 1500})
    token = issue_token(api, created)
    assert get_bflus(api, token).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending deferred checks
        cursor.execute(ddl)  # what a migration would do, then post_migrate:
    install_planned_once(connection.alias)

    with CaptureQueriesContext(connection) as captured:
        answered = get_bflus(api, token)
    assert answered.status_code == 200 and answered.json()["bflus"] == 1500
    assert captured.captured_queries[0]["sql"].startswith(FUNCTION_CALL)


@pytest.mark.django_db(transaction=True)
def test_a_stale_function_falls_back_on_the_sql_in_autocommit(api, postgresql_only):
    """Between a migration that changes a column's type and the install after it, running processes
    answer from the SQL."""
    created = make_community("stale", members={"123": 1500})
    token = issue_token(api, created)
    try:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE communities_community ALTER COLUMN name TYPE text")
        assert get_bflus(api, token).json()["bflus"] == 1500
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE communities_community ALTER COLUMN name TYPE varchar(200)")
        install_planned_once(connection.alias)


@pytest.mark.django_db
def test_a_failing_probe_leaves_no_prepared_statement_behind(postgresql_only):
    """Found by review: a probe failing at run time left it prepared on the connection (DEALLOCATE ran in
    the aborted transaction), and every later install there failed."""
    name = plan_cache.function_name(_compiled(_token_query).sql)
    failing = "SELECT 1 / (CASE WHEN %s::int IS NULL THEN 0 ELSE 1 END) AS x"
    plan_cache.install_all(connection, [failing])  # logged and skipped

    install_planned_once(connection.alias)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = %s", [name])
        (installed,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'bfluence_plan_probe'")
        (left,) = cursor.fetchone()
    assert (installed, left) == (1, 0)


def test_only_a_missing_or_mismatched_function_sends_the_sql(caplog):
    """Every backend: which failures of a call fall back on the SQL (SQLSTATE class 42: no such function,
    other result types, no right to run it), and that the fallback is remembered and said once."""

    class Failed(Exception):
        def __init__(self, sqlstate):
            super().__init__(sqlstate)
            self.__cause__ = type("DriverError", (Exception,), {"sqlstate": sqlstate})()

    assert plan_cache.call_failed(Failed("42883")) and plan_cache.call_failed(Failed("42804"))
    assert plan_cache.call_failed(Failed("42501"))
    assert not plan_cache.call_failed(Failed("40001")) and not plan_cache.call_failed(Failed(None))

    sql = "SELECT 'only this test' WHERE %s"
    assert plan_cache.usable("other", sql)
    with caplog.at_level(logging.WARNING, logger="bfluence.db"):
        plan_cache.found_missing("other", sql)
        plan_cache.found_missing("other", sql)
    assert not plan_cache.usable("other", sql) and plan_cache.usable("default", sql)
    assert caplog.text.count("is missing or stale") == 1
    assert plan_cache.function_call(sql, 2) == f"SELECT * FROM {plan_cache.function_name(sql)}(%s, %s)"
