"""Rate limits on client authentication (SPEC §2.1): ``/auth/token``, ``/auth/revoke``,
``/auth/revocation-requests``.

Knowing a client_id gives no power over that partner, so what is counted where:

- ``token_ip``: every attempt, per source IP, counted before anything else (DRF's throttle step);
- ``token_failures``: failed client authentications, per source IP and per client_id + source IP;
- ``token_client``: per client_id, only requests that *authenticated* as that client.

Two cache round trips (one Redis script each): the attempt before the view runs, and the outcome once
authentication has returned (``count_failure`` or ``count_success``). A failure whose count comes back
past its limit is answered 429 instead of 401, so however many guesses arrive at once, exactly the limit
of them get a verdict. Counts are fixed windows (epoch-aligned, ``N/period``): a caller may fit up to
twice the rate across a boundary.

Each process remembers which limits the shared count has reached in their current window (``refusals``):
a caller already refused here gets its 429 without a cache call. With the cache unreachable the request is
answered 503 before any database work: an outage never lets guesses through uncounted.
"""

import hashlib
import itertools
import threading
import time

from django.core.cache import caches
from rest_framework import settings as drf_settings
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from bfluence import metrics
from bfluence.cache import counters
from bfluence.errors import RateLimited, ServiceUnavailable
from bfluence.source_ip import request_source_ip
from bfluence.usage import AUTH_FAILURES, usage_increment
from clients.credentials import client_id_hint

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _digest(value: str) -> str:
    # Keys built from caller input are hashed: bounded length, no odd characters in cache keys.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Window:
    """One count: its cache key for the current fixed window, its limit, and when the window ends."""

    def __init__(self, scope: str, name: str, ident: str, now: float) -> None:
        rate = drf_settings.api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        self.scope = scope
        self.enabled = isinstance(rate, str)  # None: this limit is switched off
        self.key, self.limit, self.duration, self.ends = "", 0, 1, now
        if isinstance(rate, str):
            number, period = rate.split("/")  # DRF's N/period form, as its throttles read it
            self.limit, self.duration = int(number), _PERIODS[period[0]]
            window = int(now // self.duration)
            self.key = f"throttle_{name}_{ident}:{window}"
            self.ends = (window + 1) * self.duration

    @property
    def memo_key(self) -> tuple[str, int]:
        # The limit is part of it: a count that reached 3 has not reached a limit of 300.
        return (self.key, self.limit)


class _Refusals:
    """This process's memo of limits the shared count has reached in their current window.

    Keyed by caller input (addresses, client_ids), so bounded: ended windows go first, then the oldest.
    Losing an entry costs only a round trip: the shared count still refuses.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ends: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def known(self, windows: list[_Window]) -> list[_Window]:
        return [window for window in windows if window.memo_key in self._ends]

    def remember(self, windows: list[_Window], now: float) -> None:
        with self._lock:
            for key in [key for key, ends in self._ends.items() if ends <= now]:
                del self._ends[key]
            overflow = len(self._ends) + len(windows) - self._size
            if overflow > 0:
                for key in list(itertools.islice(self._ends, overflow + self._size // 4)):
                    del self._ends[key]
            for window in windows:
                self._ends[window.memo_key] = window.ends

    def clear(self) -> None:
        with self._lock:
            self._ends.clear()


refusals = _Refusals(size=10_000)


class ClientAuthLimits:
    """The limits of one client-authenticated request: its attempt, then its outcome."""

    def __init__(self, *, source_ip: str | None, client_id: str | None, now: float) -> None:
        ip = source_ip or "unknown"
        self.now = now
        self.client_id = client_id
        self.per_ip = _Window("token_ip", "token_ip", ip, now)
        failures = [_Window("token_failures", "token_failures_ip", ip, now)]
        if client_id:
            failures.append(
                _Window("token_failures", "token_failures_client_ip", _digest(f"{client_id}\x00{ip}"), now)
            )
        self.failures = [window for window in failures if window.enabled]

    def refused_here(self) -> float | None:
        """Seconds to wait if this process already saw the shared count refuse this caller in the
        current window (no cache call); else None."""
        known = refusals.known([self.per_ip, *self.failures])
        if not known:
            return None
        metrics.throttled(known[0].scope)
        return max(window.ends for window in known) - self.now

    def count_attempt(self) -> None:
        """Count the attempt per IP and read this caller's failures; ``RateLimited`` when either is at its
        limit."""
        self._count(added=[self.per_ip], read=self.failures)

    def count_failure(self) -> None:
        """Count a failed authentication; ``RateLimited`` when it went past a limit (no verdict given).

        Every refusal passes here, whatever its reason (malformed, checksum, unknown or ended secret,
        policy): the same round trip adds it to the client_id's failures of the day (``bfluence.usage``).
        """
        extra = usage_increment(AUTH_FAILURES, self.client_id) if self.client_id else {}
        self._count(added=self.failures, read=[], extra=extra)

    def count_success(self, *, client_id: str) -> None:
        """Count an authenticated request against its client_id; ``RateLimited`` over the rate."""
        self._count(added=[_Window("token_client", "token_client", _digest(client_id), self.now)], read=[])

    def _count(self, *, added: list[_Window], read: list[_Window], extra: dict | None = None) -> None:
        added = [window for window in added if window.enabled]
        if not added and not read and not extra:
            return
        increments = {window.key: (1, window.duration + 1) for window in added} | (extra or {})
        try:
            after, counts = counters(caches["default"], increments, [window.key for window in read])
        except Exception as error:  # any cache backend's failure: Redis, memcached, …
            metrics.backend_error("cache")
            raise ServiceUnavailable() from error
        # A count added to is past its limit when above it; one only read, when at it. At its limit, a
        # count refuses every later request of its window: remembered here, bar the per-client_id one
        # (whether a request counts against it is only known once it has authenticated).
        over = [window for window, count in zip(added, after) if count > window.limit]
        reached = [window for window, count in zip(read, counts) if count >= window.limit]
        refused = over + reached
        memo = reached + [
            window
            for window, count in zip(added, after)
            if count >= window.limit and window.scope != "token_client"
        ]
        if memo:
            refusals.remember(memo, self.now)
        if refused:
            metrics.throttled(refused[0].scope)
            raise RateLimited(wait=max(window.ends for window in refused) - self.now)


class ClientAuthThrottle(BaseThrottle):
    """DRF's throttle step for the client-authenticated views: the attempt, counted before the view runs.

    The request keeps its ``ClientAuthLimits`` for the outcome the view counts. A body that does not
    parse is still an attempt: counted, then its 400 raised.
    """

    def allow_request(self, request, view) -> bool:
        unreadable = None
        try:
            client_id = client_id_hint(request)
        except APIException as error:
            client_id, unreadable = None, error
        limits = ClientAuthLimits(source_ip=request_source_ip(request), client_id=client_id, now=time.time())
        request.client_auth_limits = limits
        wait = limits.refused_here()
        if wait is not None:
            self.retry_after = wait
            return False
        limits.count_attempt()
        if unreadable is not None:
            raise unreadable
        return True

    def wait(self) -> float:
        return self.retry_after
