"""Rate limits (SPEC §6), built on DRF's throttles and Django's cache (Redis in production).

- ``api``: private calls per community (here);
- ``token_ip`` / ``token_failures`` / ``token_client``: client authentication, in
  ``clients.limits``.
"""

import logging
import threading

from rest_framework import settings as drf_settings
from rest_framework.throttling import SimpleRateThrottle as DRFSimpleRateThrottle

from bfluence import metrics
from bfluence.cache import CacheUnavailable, shared_counters
from bfluence.errors import RateLimited, ServiceUnavailable
from bfluence.usage import API_CALLS, usage_increment

_log = logging.getLogger("bfluence.throttling")


class SimpleRateThrottle(DRFSimpleRateThrottle):
    """DRF's throttle, reading its rate from the live settings (DRF binds them once, at import), and
    deciding what happens when the cache that holds the counts is down.

    ``fail_open``: let the request through uncounted (private calls: the token is still fully checked
    against the database). Otherwise answer a clean 503 (client authentication: never let an
    unthrottled brute force through).
    """

    fail_open = False

    def get_rate(self):
        return drf_settings.api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def _cache_unavailable(self, error: CacheUnavailable) -> bool:
        """The cache failed (logged once per failure, not for every call while the breaker waits)."""
        if error.tripped:
            metrics.backend_error("cache")
            _log.warning(
                "rate-limit cache unavailable (%s): %s",
                type(error.__cause__).__name__,
                "request allowed" if self.fail_open else "request refused with 503",
            )
        if self.fail_open:
            return True
        raise ServiceUnavailable(retry_after=error.retry_after_seconds) from error


class WindowCounterThrottle(SimpleRateThrottle):
    """One small shared counter per caller and fixed window, instead of DRF's list of timestamps (read
    and rewritten whole on every request). Two bounded trade-offs, fine for abuse control:
    - a caller may fit up to twice the rate across a window boundary;
    - for limits of 100 or more per window, once the window's shared count reaches 1% of the limit (or
      ``QUIET_CALLS``, if smaller) each process adds its calls in batches of 1% of the limit: one cache
      round trip per batch, a shared count lagging by under 1% of the limit per process. Before that every call is
      added at once, so a quiet partner's calls show in the day's usage straight away. The calls of a
      window that ended before its batch filled join the day's usage with the caller's next call.
    """

    QUIET_CALLS = 100  # a huge limit has huge batches: past this many calls a busy caller is batched

    # Per process: caller -> [requests not yet added, last shared total, their window].
    _pending: dict[str, list] = {}
    _pending_lock = threading.Lock()

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        try:
            count = self._count(ident, window)
        except CacheUnavailable as error:  # failed now, or moments ago (bfluence/cache.py's breaker)
            return self._cache_unavailable(error)
        if count <= self.num_requests:
            return True
        metrics.throttled(self.scope)
        raise RateLimited(wait=(window + 1) * self.duration - now, scope=self.scope)

    def _count(self, ident: str, window: int) -> int:
        key = f"{ident}:{window}"
        batch = self.num_requests // 100
        if batch <= 1:
            return self._add(key, 1)
        with self._pending_lock:
            if len(self._pending) > 10_000:  # callers long gone: drop them, lose nothing shared
                self._pending.clear()
            pending = self._pending.get(ident)
            carried = 0
            if pending is None or pending[2] != window:
                # Calls of a window that ended before its batch filled were never added: the window's
                # count no longer matters, but they still happened (carried into the day's usage).
                carried = pending[0] if pending else 0
                pending = self._pending[ident] = [0, 0, window]
            pending[0] += 1
            # The window's shared count, as this process last read it, past what a quiet partner makes.
            busy = pending[1] >= min(batch, self.QUIET_CALLS)
            if busy and pending[0] < batch and not carried:
                return pending[1] + pending[0]
            amount, pending[0] = pending[0], 0
        total = self._add(key, amount, carried=carried)
        with self._pending_lock:
            pending[1] = total
        return total

    def _add(self, key: str, amount: int, *, carried: int = 0) -> int:
        return shared_counters({key: (amount, int(self.duration) + 1)})[0][0]

    def wait(self) -> float | None:
        return None  # refusals are raised as RateLimited, naming the limit reached


class CommunityRateThrottle(WindowCounterThrottle):
    """Private calls per community; the same round trip adds them to the community's calls of the day
    (``bfluence.usage``), so staff see "is the partner calling us?" without a database write per call."""

    scope = "api"
    fail_open = True

    def get_cache_key(self, request, view):
        principal = request.user
        if not getattr(principal, "is_authenticated", False) or not hasattr(principal, "client_id"):
            return None
        self.client_id = principal.client_id
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}

    def _add(self, key: str, amount: int, *, carried: int = 0) -> int:
        increments = {
            key: (amount, int(self.duration) + 1),
            **usage_increment(API_CALLS, self.client_id, amount + carried),
        }
        return shared_counters(increments)[0][0]
