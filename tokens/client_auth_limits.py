"""Rate limits on client authentication (SPEC §2.1): ``/auth/token``, ``/auth/revoke``,
``/auth/revocation-requests``.

Knowing a client_id gives no power over that partner. So what is counted where:

- ``token_ip``: every attempt, per source IP;
- ``token_failures``: failed client authentications, per source IP and per client_id + source IP;
- ``token_client``: per client_id, only requests that *authenticated* as that client — what the partner
  itself consumes. Nothing an outsider without the secret sends, from any number of addresses, touches
  a count the partner's own requests from its own address are checked against.

One cache round trip (one Redis pipeline) per request, once its outcome is known:

- the credentials failed (``record_failure``): the attempt counted per IP and the failure per IP and
  per client_id + IP, with atomic ``INCR``; a failure whose count comes back past the limit is answered
  429 instead of 401. So however many guesses arrive at once, exactly the limit of them get a verdict.
- they passed (``record_success``): the attempt counted per IP, the request per client_id (where the view
  counts it), the failure counts read; 429 when any limit is reached.
- the request was answered before its credentials were checked (bad input, ``record_attempt``): the
  attempt counted per IP, the failure counts read; 429 rather than the 400 when the address may not try.

A limit's count only grows within its window, so once the shared count has reached a limit every later
request it covers in that window is refused. Each process keeps those refusals (``_Refusals``): DRF's
throttle check, before the view, answers a caller it already knows to be refused with 429 at once — no
cache call, no database work. It only repeats what the shared count decided for that same window and
limit, so a process that has not seen it (a fresh one, another server) asks the shared count as usual.

With the cache unavailable the request is answered 503 (no verdict for an uncounted attempt). Since the
count comes after the credential check, a process that has seen the cache fail doubts it
(``cache_health``): its throttle check then asks the cache first and answers 503 before any database
work while it is still down, so an outage never lets outsiders' guesses through to a read and an audit
row each. The first answer from the cache ends the doubt.

Fixed windows (epoch-aligned, ``N/period``): a caller may fit up to twice the rate across a boundary.
"""

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Sequence

from django.core.cache import cache
from rest_framework import settings as drf_settings
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from bfluence import metrics
from bfluence.cache import counters
from bfluence.errors import RateLimited, ServiceUnavailable
from tokens.credentials import client_id_hint
from tokens.request_info import client_ip

_log = logging.getLogger("bfluence.throttling")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _digest(value: str) -> str:
    # Keys built from caller input are hashed: bounded length, no odd characters in cache keys.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Window:
    """One count: its cache key for the current fixed window, its limit, and when the window ends."""

    key: str = ""
    limit: int = 0
    duration: int = 1
    ends: float = 0.0
    wait: float = 0.0

    def __init__(self, scope: str, name: str, ident: str, now: float) -> None:
        rate = drf_settings.api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        self.scope = scope
        self.enabled = isinstance(rate, str)  # None: this limit is switched off
        if not isinstance(rate, str):
            return
        number, period = rate.split("/")  # DRF's N/period form, as its throttles read it
        self.limit, self.duration = int(number), _PERIODS[period[0]]
        window = int(now // self.duration)
        self.key = f"throttle_{name}_{ident}:{window}"
        self.ends = (window + 1) * self.duration
        self.wait = self.ends - now

    @property
    def increment(self) -> dict[str, tuple[int, int]]:
        return {self.key: (1, self.duration + 1)} if self.enabled else {}

    @property
    def memo_key(self) -> tuple[str, int]:
        # The limit is part of it: a count that reached 3 has not reached a limit of 300.
        return (self.key, self.limit)


class _Refusals:
    """This process's memo of limits the shared count has reached in their current window.

    Keyed by caller input (addresses, client_ids), so bounded: entries whose window has ended go, and when
    it is full of live ones the oldest go first. Losing one costs only a round trip: the shared count
    still refuses. (An entry of an ended window could not refuse anyone anyway: the window is in its key.)
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ends: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def known(self, windows: list[_Window]) -> list[_Window]:
        return [window for window in windows if window.memo_key in self._ends]

    def remember(self, windows: list[_Window], now: float) -> None:
        with self._lock:
            # Mostly remembered in time order: the ended windows are at the front.
            while self._ends and next(iter(self._ends.values())) <= now:
                del self._ends[next(iter(self._ends))]
            if len(self._ends) + len(windows) > self._size:
                for key in [key for key, ends in self._ends.items() if ends <= now]:
                    del self._ends[key]
                # Still full of live ones: the oldest quarter goes, so a flood pays for this scan rarely.
                if len(self._ends) + len(windows) > self._size:
                    for key in list(itertools.islice(self._ends, len(windows) + self._size // 4)):
                        del self._ends[key]
            for window in windows:
                self._ends[window.memo_key] = window.ends

    def clear(self) -> None:
        with self._lock:
            self._ends.clear()


refusals = _Refusals(size=10_000)


class _CacheHealth:
    """Whether this process last found the cache unreachable (see the module docstring)."""

    def __init__(self) -> None:
        self.in_doubt = False

    def check(self) -> None:
        """While in doubt: one cache call before any database work; ``ServiceUnavailable`` if it fails."""
        if not self.in_doubt:
            return
        try:
            cache.get(_PROBE_KEY)
        except Exception as error:  # any cache backend's failure: Redis, memcached, …
            raise _unavailable(error) from error
        self.in_doubt = False


_PROBE_KEY = "throttle_client_auth_probe"
cache_health = _CacheHealth()


def _unavailable(error: Exception) -> ServiceUnavailable:
    cache_health.in_doubt = True
    metrics.backend_error("cache")
    _log.warning("rate-limit cache unavailable (%s): request refused with 503", type(error).__name__)
    return ServiceUnavailable()


class ClientAuthLimits:
    """The limits of one client-authenticated request, from the throttle check to its one count."""

    def __init__(self, *, source_ip: str | None, client_id: str | None, now: float) -> None:
        ip = source_ip or "unknown"
        self.now = now
        self.per_ip = _Window("token_ip", "token_ip", ip, now)
        self.failures = [_Window("token_failures", "token_failures_ip", ip, now)]
        if client_id:
            self.failures.append(
                _Window("token_failures", "token_failures_client_ip", _digest(f"{client_id}\x00{ip}"), now)
            )
        self.failures = [window for window in self.failures if window.enabled]
        self.counted = False  # the attempt was counted per IP, or refused without counting
        self.retry_after = 0.0
        self._succeeded: list[_Window] = []  # what record_success added for the client_id

    def refused_here(self) -> bool:
        """True (``retry_after`` set) when this process already saw the shared count refuse this caller in
        the current window: no cache call."""
        known = refusals.known([self.per_ip, *self.failures])
        if not known:
            return False
        self.counted = True
        metrics.throttled(known[0].scope)
        self.retry_after = max(window.wait for window in known)
        return True

    def record_attempt(self) -> None:
        """Count an attempt answered before its credentials were checked; ``RateLimited`` when this
        address may not try now (instead of that answer)."""
        self._count(added=[self.per_ip], read=self.failures)

    def record_failure(self, *, take_back_success: bool = False) -> None:
        """Count a failed authentication; ``RateLimited`` when it went past a limit (no verdict given).

        After ``record_success`` (a DPoP proof refused once the secret passed) only the failure is added:
        a second round trip, on that path alone. ``take_back_success``: that success was counted for a
        secret the process had kept (tokens/services/secret_memory.py) and the database has refused it
        since: its count per client_id is taken back in the same round trip, since only the partner's
        own requests may use up the partner's limit."""
        self._count(
            added=([] if self.counted else [self.per_ip]) + self.failures,
            read=[],
            taken_back=self._succeeded if take_back_success else [],
        )

    def record_success(self, *, client_id: str, counted: bool) -> None:
        """Count an authenticated request per IP and for its client_id (when ``counted``); ``RateLimited``
        when the address or the client_id is over its rate, or this address's failures reached the limit."""
        per_client = (
            [_Window("token_client", "token_client", _digest(client_id), self.now)] if counted else []
        )
        self._succeeded = [window for window in per_client if window.enabled]
        self._count(added=[self.per_ip, *per_client], read=self.failures)

    def _count(
        self, *, added: list[_Window], read: list[_Window], taken_back: Sequence[_Window] = ()
    ) -> None:
        """One round trip: add to ``added``, read ``read``, take one back from ``taken_back``; raise
        ``RateLimited`` on a refusal (by ``added`` and ``read`` only)."""
        added = [window for window in added if window.enabled]
        self.counted = True
        increments = {key: value for window in added for key, value in window.increment.items()}
        increments.update({window.key: (-1, window.duration + 1) for window in taken_back})
        try:
            after, counts = counters(cache, increments, [window.key for window in read])
        except Exception as error:  # any cache backend's failure: Redis, memcached, …
            raise _unavailable(error) from error
        cache_health.in_doubt = False
        # A count added to is past its limit when above it; one only read, when at it (nothing was added).
        # At its limit, a count refuses every later request of its window: those are remembered, bar the
        # per-client_id one (only the view knows whether a request counts against it).
        over = [window for window, count in zip(added, after) if count > window.limit]
        reached = [window for window, count in zip(read, counts) if count >= window.limit]
        refused = over + reached
        reached += [
            window
            for window, count in zip(added, after)
            if count >= window.limit and window.scope != "token_client"
        ]
        if reached:
            refusals.remember(reached, self.now)
        if refused:
            metrics.throttled(refused[0].scope)
            raise RateLimited(wait=max(window.wait for window in refused))


class ClientAuthThrottle(BaseThrottle):
    """DRF's throttle hook for the client-authenticated views: refuses at once the callers this process
    already knows to be refused; everyone else is counted once, by the view, when the outcome is known.

    The request keeps its ``ClientAuthLimits`` for that count. A body that does not parse raises here, and
    the view counts it as an attempt before its 400.
    """

    def allow_request(self, request, view) -> bool:
        unreadable = None
        try:
            client_id = client_id_hint(request)
        except APIException as error:
            client_id, unreadable = None, error
        source_ip = getattr(request, "source_ip", None) or client_ip(request)
        limits = ClientAuthLimits(source_ip=source_ip, client_id=client_id, now=time.time())
        request.client_auth_limits = limits
        if limits.refused_here():
            self.retry_after = limits.retry_after
            return False
        cache_health.check()
        if unreadable is not None:
            raise unreadable
        return True

    def wait(self) -> float:
        return self.retry_after
