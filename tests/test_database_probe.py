"""Persistent connections with Django's health check (``CONN_HEALTH_CHECKS``): a connection that died
between two requests is replaced before it fails one.

PostgreSQL runs only: the SQLite run has no persistent server connection to lose.
"""

import pytest
from django.db import OperationalError, connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


@pytest.fixture
def wrapper():
    """A second connection to the test database, as a worker's persistent connection."""
    other = connections.create_connection("default")
    other.settings_dict.update(CONN_HEALTH_CHECKS=True, CONN_MAX_AGE=None)  # persistent, as in production
    other.ensure_connection()
    yield other
    other.close()


def backend_pid(wrapper) -> int:
    return wrapper.connection.info.backend_pid


def last_statement(wrapper) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [backend_pid(wrapper)])
        return cursor.fetchone()[0]


def next_request(wrapper) -> None:
    """What Django does at the end of a request (request_finished): the next one checks the connection."""
    wrapper.close_if_unusable_or_obsolete()


def query(wrapper, sql: str):
    with wrapper.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_a_reused_connection_is_checked_before_its_first_query(wrapper):
    query(wrapper, "SELECT 42")
    next_request(wrapper)
    wrapper.close_if_health_check_failed()
    assert last_statement(wrapper) == "SELECT 1"


def test_a_connection_that_died_while_idle_is_replaced_without_failing_the_request(wrapper):
    query(wrapper, "SELECT 42")
    dead = backend_pid(wrapper)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [dead])
    next_request(wrapper)
    assert query(wrapper, "SELECT 7") == 7
    assert backend_pid(wrapper) != dead


def test_a_connection_that_died_mid_request_fails_that_request_only(wrapper):
    query(wrapper, "SELECT 42")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid(wrapper)])
    with pytest.raises(OperationalError):
        query(wrapper, "SELECT 7")  # the same request: no check between its queries
    next_request(wrapper)  # the end of that request: Django drops the broken connection
    assert query(wrapper, "SELECT 8") == 8
