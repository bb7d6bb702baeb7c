"""On PostgreSQL the statements every request repeats are prepared once per connection (psycopg's
``prepare_threshold``, Django's ``server_side_binding``), and ``DATABASE_PREPARED_STATEMENTS=false`` turns
that off for a pooler that cannot keep them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import get_bflus, issue_token, request_token

ROOT = Path(__file__).resolve().parent.parent


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.django_db
def test_the_hot_reads_are_prepared_after_their_second_use(api, acme, postgresql_only):
    token = issue_token(api, acme)
    for _ in range(3):
        assert get_bflus(api, token).status_code == 200
        assert request_token(api, acme).status_code == 200
    prepared = _prepared_statements()
    assert any('FROM "tokens_issuedtoken"' in statement for statement in prepared), prepared
    assert any('FROM "tokens_clientsecret"' in statement for statement in prepared), prepared


def _database_options(**environment: str) -> str:
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEBUG="false",
        SECRET_KEY="prepared-statements-test-secret-key-with-some-variety-0123456789-abcdefgh",
        JWT_SIGNING_KEY="j" * 40,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DJANGO_SETTINGS_MODULE="bfluence.settings",
        **environment,
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_statements_are_prepared_by_default_and_the_switch_turns_it_off():
    assert "'prepare_threshold': 2" in _database_options()
    assert "'server_side_binding': True" in _database_options()
    assert "'prepare_threshold': None" in _database_options(DATABASE_PREPARED_STATEMENTS="false")
