"""Django's PostgreSQL backend, with its connection health check only where it can help.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of *every* request that
reuses a persistent connection: one extra round trip per API call (~10% of get-bflus, profiled), to
catch connections that died while unused. A connection this process used a moment ago is not such a
connection: under load every worker queries many times a second, and when the server goes away those
queries fail, Django closes the connection at the end of that request, and the next request connects
anew. So the probe is sent only when the connection has been idle for ``PROBE_AFTER_IDLE`` seconds —
an idle worker still never hands a request a connection that died while it waited.

Only ``close_if_health_check_failed`` and ``_cursor`` are overridden, both Django's own steps; a
Django upgrade is covered by tests/test_database_probe.py (PostgreSQL runs). ``server_binding_cursor``
adds the one other kind of cursor the project uses, made by the same steps.
"""

import math
import time
from typing import Any, cast

from django.db.backends.postgresql import base

PROBE_AFTER_IDLE = 1.0  # seconds: far shorter than any PostgreSQL restart or failover


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_cursor_at = -math.inf

    def close_if_health_check_failed(self) -> None:
        if self.connection is not None and time.monotonic() - self.last_cursor_at < PROBE_AFTER_IDLE:
            self.health_check_done = True  # in use a moment ago: as good as probed
        super().close_if_health_check_failed()

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self.last_cursor_at = time.monotonic()
        return cursor

    def server_binding_cursor(self):
        """A cursor that sends its values apart from the SQL (psycopg's server-side binding, in the
        extended protocol's unnamed statement: nothing prepared outlives it, as PgBouncer's transaction
        pooling needs; Django keeps ``prepare_threshold`` at None), made by ``_cursor``'s own steps: the
        health check, the connection, error translation, the debug wrapper that counts queries."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            # psycopg 3's class (django-stubs describe psycopg2's, which takes no connection)
            server_binding = cast(Any, base.ServerBindingCursor)(self.connection)
            cursor = self._prepare_cursor(server_binding)
        self.last_cursor_at = time.monotonic()
        return cursor

    def connect(self) -> None:
        super().connect()
        self.last_cursor_at = -math.inf
