"""A token's record and its audit row in one PostgreSQL statement, if nothing entitling the client changed.

The issuing transaction (``issuance._still_entitled``) costs six round trips: BEGIN, the shared lock on
the community row, the re-read, two inserts, COMMIT. Each costs the app and PostgreSQL more CPU than the
work inside it (profiled, issue 14). This path sends one statement, in autocommit:

    WITH entitled AS (SELECT the community row, FOR SHARE, if its entitlement_revision is still the one
                      read when the client authenticated, it is active and the credential is valid),
         token AS (INSERT the token's record, once per row of entitled),
         audit AS (INSERT the audit row, once per row of token)
    SELECT count(*) FROM token

Why one statement is as strict as the transaction. ``Community.entitlement_revision`` takes a new
value, by trigger, on every write to the community row and to its secrets, keys and policy (tokens
migration 0010), and every cut-off writes or locks that row FOR UPDATE before it changes anything:
- a cut-off committed before this statement began: the statement sees the new revision; nothing written;
- a cut-off holding the row: the shared lock waits for it, and PostgreSQL then re-checks the WHERE
  against the row's newest version (READ COMMITTED): a moved revision, nothing written;
- a cut-off arriving later: it waits for this statement to commit, and then revokes the token recorded.
The statement also checks that those triggers are there and enabled. When nothing is written the
caller falls back on the issuing transaction, which re-reads everything and decides (and refuses a
client cut off meanwhile). The two paths share the lock, so they order against each other and against
cut-offs the same way.
"""

from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from audit.services import audit_record_statement
from bfluence.precompiled import PrecompiledInsert, once_per_database
from communities.models import Community
from tokens.models import ClientAuthPolicy, ClientKey, ClientSecret

_statements: dict[bool, dict[tuple[str, str], str]] = {False: {}, True: {}}  # by kind of credential


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
    by_key = secret_id is None
    audit_sql, audit_params = audit_record_statement(source="token", **audit)
    sql = once_per_database(
        _statements[by_key], connection.alias, lambda _alias: _statement(by_key, token_insert, audit_sql)
    )
    credential_params = [key_id] if by_key else [secret_id, *(secret_digest or ("", "")), now]
    params = [
        community.pk,
        community.entitlement_revision,
        *credential_params,
        *token_insert.prepared(**token),
        *audit_params,
    ]
    # Inside a caller's atomic block (tests, a shell), a failure must not leave that block committable.
    with transaction.mark_for_rollback_on_error(), _server_binding_cursor() as cursor:
        cursor.execute(sql, params)
        (written,) = cursor.fetchone()
    return int(written) == 1


def _server_binding_cursor() -> CursorWrapper:
    """The ~20 values sent apart from the SQL, so psycopg dumps them in C instead of quoting each into the
    SQL text in Python: that quoting was ~6% of a token request's CPU (py-spy under gunicorn, issue 14).
    Through the project's backend (bfluence/postgresql), which makes it as Django makes any cursor."""
    make = getattr(connection, "server_binding_cursor", None)  # another PostgreSQL backend: Django's own
    return cast(CursorWrapper, make() if make is not None else connection.cursor())


def _statement(by_key: bool, token_insert: PrecompiledInsert, audit_sql: str) -> str:
    quote = connection.ops.quote_name
    community_table = quote(Community._meta.db_table)
    if by_key:
        credential = (
            f"SELECT 1 FROM {quote(ClientKey._meta.db_table)} k "
            "WHERE k.id = %s AND k.community_id = c.id AND k.retired_at IS NULL"
        )
    else:
        credential = (
            f"SELECT 1 FROM {quote(ClientSecret._meta.db_table)} s "
            # The salt and digest compared too, not only the revision: a secret rewritten where no trigger
            # fires (session_replication_role = replica, a trigger disabled for the change) is refused.
            "WHERE s.id = %s AND s.salt = %s AND s.digest = %s AND s.community_id = c.id "
            "AND (s.valid_until IS NULL OR s.valid_until > CAST(%s AS timestamp with time zone))"
        )
    token_sql = token_insert.select_sql("entitled")
    return (
        f"WITH entitled AS (SELECT c.id FROM {community_table} c "
        f"WHERE c.id = %s AND c.entitlement_revision = %s AND c.is_active AND EXISTS ({credential}) "
        f"AND {_triggers_on()} FOR SHARE OF c), "
        f"token AS ({token_sql} RETURNING 1), "
        f"audit AS ({audit_sql}) "
        "SELECT count(*) FROM token"
    )


# The triggers that renew the revision (tokens migration 0010), by table. Without any of them a revision
# could stay the same across a change (0010 not applied yet, or reverted while this code runs, or a
# trigger disabled): the statement then writes nothing, and the issuing transaction decides every time.
REVISION_TRIGGERS = {
    Community: "communities_community_revise",
    ClientSecret: "tokens_clientsecret_revise",
    ClientKey: "tokens_clientkey_revise",
    ClientAuthPolicy: "tokens_clientauthpolicy_revise",
}


def _triggers_on() -> str:
    # Each table as a regclass constant, resolved once as the statement is parsed: to_regclass(), a
    # function, was called again for every row of pg_trigger it was compared with (~0.2 ms a statement,
    # as much as the rest of its execution; EXPLAIN ANALYZE, issue 14). The tables exist wherever this
    # code runs (their migrations come before the triggers'); only the triggers may be missing.
    quote = connection.ops.quote_name
    wanted = ", ".join(
        f"('{quote(model._meta.db_table)}'::regclass, '{name}')" for model, name in REVISION_TRIGGERS.items()
    )
    return (
        "(SELECT count(*) FROM pg_trigger t "
        f"WHERE (t.tgrelid, t.tgname) IN ({wanted}) AND t.tgenabled IN ('O', 'A')) = {len(REVISION_TRIGGERS)}"
    )
