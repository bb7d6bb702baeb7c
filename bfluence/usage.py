"""Per-day usage counters kept in the rate-limit cache, never a database write per call.

API calls are added in the API throttle's own counter round trip, failed client authentications in
``clients.limits``' failure round trip. ``communities.services.usage_days_flush`` (run by
``purge_tokens`` or ``flush_usage``) copies them into the ``UsageDay`` table, where the console reads
them. A day is the console's day (``CONSOLE_TIME_ZONE``), as the usage chart draws it.

The counts are statistics, not security state: a cache restart loses at most the days not yet flushed,
and nothing ever decides on them.
"""

import hashlib
import zoneinfo
from datetime import date, datetime

from django.core.cache import caches

from bfluence.conf import app_settings

API_CALLS = "api"
AUTH_FAILURES = "auth_failed"
KINDS = (API_CALLS, AUTH_FAILURES)
#: A day's counter outlives the day long enough for a daily flush to miss a run or two.
TTL_SECONDS = 4 * 86400


def usage_day(moment: datetime | None = None) -> date:
    zone = zoneinfo.ZoneInfo(app_settings().console_time_zone)
    return (moment or datetime.now(tz=zone)).astimezone(zone).date()


def usage_key(kind: str, client_id: str, day: date | None = None) -> str:
    # client_ids come from callers (failures of unknown clients too): hashed, bounded, no odd characters.
    ident = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"usage_{kind}_{ident}:{(day or usage_day()).isoformat()}"


def usage_increment(kind: str, client_id: str, amount: int = 1) -> dict[str, tuple[int, int]]:
    """The increment to add to a ``bfluence.cache.counters`` call already being made."""
    return {usage_key(kind, client_id): (amount, TTL_SECONDS)}


def usage_read(client_ids: list[str], days: list[date]) -> dict[tuple[str, date, str], int]:
    """The counters of these clients on these days (absent: not in the map). One ``get_many``."""
    wanted = {
        usage_key(kind, client_id, day): (client_id, day, kind)
        for client_id in client_ids
        for day in days
        for kind in KINDS
    }
    found = caches["default"].get_many(list(wanted))
    return {wanted[key]: int(value) for key, value in found.items() if value is not None}
