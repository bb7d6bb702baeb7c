"""Secrets this process saw confirmed, by client_id: a partner's next token request skips the secrets read.

A partner asks for tokens with the same client_id and secret again and again. Once the issuing
statement (``issuing_statement``) has written a token for a secret at a community's entitlement
revision, this process keeps that secret's stored row (salt, digest, id, expiry, last use, community id,
revision: never the secret itself) under its client_id. The next token request whose secret matches that
row is authenticated *provisionally*, without reading the database, and its token is written by the same
statement, which checks under the community's lock that the revision is still that one (and that the
community is active and the secret valid now). The revision takes a new value on every write to the
community, its secrets, keys and policy (tokens migration 0010), so an unchanged revision means the row
kept here is exactly what a read would return. If it changed, the statement writes nothing, the row is
forgotten and the request is authenticated again from the database, as if nothing had been kept
(``ClientOutdated``): the answer, the audit row and the counts are the same as without this memory.

Only the token endpoint uses it: nothing else confirms the credential afterwards. Whether a client_id is
kept cannot be told from outside: every provisional check compares one digest, against a dummy when
nothing is kept, before the same database read as a caller without a memory. Rows are kept only for
secrets that matched, so outsiders cannot fill it; at most ``_KEPT`` client_ids, then it starts afresh.
PostgreSQL only (the issuing statement is).
"""

from typing import Any

from django.db import connection

from tokens import crypto

_KEPT = 10_000
_rows: dict[tuple[str, str], tuple[Any, ...]] = {}


class ClientOutdated(Exception):
    """A provisional authentication met a changed community: authenticate again from the database."""


def secret_recall(client_id: str, presented: str) -> tuple[Any, ...] | None:
    """The row kept for ``client_id`` if ``presented`` matches it; one digest comparison either way."""
    row = _rows.get((connection.alias, client_id))
    salt, digest = (row[0], row[1]) if row is not None else (crypto.DUMMY_SALT, crypto.DUMMY_DIGEST)
    return row if crypto.secret_matches(presented, salt=salt, digest=digest) and row is not None else None


def secret_remember(client_id: str, row: tuple[Any, ...]) -> None:
    """Keep a secrets-read row the issuing statement has just confirmed at the row's revision."""
    if len(_rows) >= _KEPT:
        _rows.clear()
    _rows[(connection.alias, client_id)] = row


def secret_forget(client_id: str) -> None:
    _rows.pop((connection.alias, client_id), None)
