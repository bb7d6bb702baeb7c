"""Rate limits (SPEC §6), built on DRF's throttles and Django's cache (Redis in production).

- ``token_ip`` / ``token_client``: every client-authenticated request, per source IP and per client_id;
- ``token_failures``: only *failed* client authentications, per source IP and per client_id + IP, so a
  brute force is cut off long before the general limits while honest traffic never feels it;
- ``api``: private calls per community.
"""

import hashlib
import logging
import threading

from rest_framework import settings as drf_settings
from rest_framework.exceptions import APIException
from rest_framework.throttling import SimpleRateThrottle as DRFSimpleRateThrottle

from bfluence.errors import ServiceUnavailable
from tokens.credentials import client_id_hint

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

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except APIException:
            raise  # a bad request found while reading the client_id: not a cache problem
        except Exception as error:  # any cache backend's failure: Redis, memcached, …
            return self._cache_unavailable(error)

    def _cache_unavailable(self, error: Exception) -> bool:
        _log.warning("rate-limit cache unavailable (%s): %s", type(error).__name__,
                     "request allowed" if self.fail_open else "request refused with 503")
        if self.fail_open:
            return True
        raise ServiceUnavailable() from error


def _digest(value: str) -> str:
    # Keys built from caller input are hashed: bounded length, no odd characters in cache keys.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class WindowCounterThrottle(SimpleRateThrottle):
    """One small shared counter per caller and fixed window, instead of DRF's list of timestamps.

    DRF's history list is read and rewritten whole on every request: at 6,000 calls a minute that is a
    pickled list of 6,000 floats per call. A counter is one ``incr`` of a few bytes. Two trade-offs,
    both fine for abuse control and both bounded:
    - a caller may fit up to twice the rate across a window boundary;
    - for generous limits (100 or more per window) each process adds to the shared counter in batches
      of 1% of the limit, so a busy partner costs one cache round trip per batch, not per request; the
      shared count may then lag by under 1% of the limit per process. Small limits count every request.
    """

    _pending: dict[str, list] = {}  # per process: key -> [requests not yet added, last shared total]
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
            count = self._count(f"{ident}:{window}")
        except Exception as error:  # any cache backend's failure
            return self._cache_unavailable(error)
        if count <= self.num_requests:
            return True
        self.retry_after = (window + 1) * self.duration - now
        return False

    def _count(self, key: str) -> int:
        batch = self.num_requests // 100
        if batch <= 1:
            return self._add(key, 1)
        with self._pending_lock:
            if len(self._pending) > 10_000:  # old windows' keys: drop them all, lose nothing shared
                self._pending.clear()
            pending = self._pending.setdefault(key, [0, 0])
            pending[0] += 1
            if pending[0] < batch:
                return pending[1] + pending[0]
            amount, pending[0] = pending[0], 0
        total = self._add(key, amount)
        with self._pending_lock:
            pending[1] = total
        return total

    def _add(self, key: str, amount: int) -> int:
        if hasattr(self.cache, "incr_with_expiry"):  # our Redis backend: one round trip
            return self.cache.incr_with_expiry(key, int(self.duration) + 1, amount)
        try:
            return self.cache.incr(key, amount)
        except ValueError:  # first request of the window (or the key just expired)
            if self.cache.add(key, amount, self.duration + 1):
                return amount
            return self.cache.incr(key, amount)

    def wait(self) -> float:
        return self.retry_after


class TokenIPThrottle(WindowCounterThrottle):
    scope = "token_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenClientThrottle(WindowCounterThrottle):
    scope = "token_client"

    def get_cache_key(self, request, view):
        client_id = client_id_hint(request)
        if not client_id:
            return None
        return self.cache_format % {"scope": self.scope, "ident": _digest(client_id)}


class _FailureThrottle(SimpleRateThrottle):
    """Refuses once the recent *failures* reach the limit; successes are never counted."""

    scope = "token_failures"

    def throttle_success(self) -> bool:
        return True  # checking does not count: only record_failure() does

    def record_failure(self, request) -> None:
        if self.rate is None:
            return
        key = self.get_cache_key(request, None)
        if key is None:
            return
        now = self.timer()
        try:
            history = [moment for moment in self.cache.get(key, []) if moment > now - self.duration]
            history.insert(0, now)
            self.cache.set(key, history, self.duration)
        except Exception as error:  # the 401 stands; only the count is lost
            _log.warning("rate-limit cache unavailable (%s): failure not counted", type(error).__name__)


class FailedAuthIPThrottle(_FailureThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "token_failures_ip", "ident": self.get_ident(request)}


class FailedAuthClientIPThrottle(_FailureThrottle):
    def get_cache_key(self, request, view):
        client_id = client_id_hint(request)
        if not client_id:
            return None
        ident = _digest(f"{client_id}\x00{self.get_ident(request)}")
        return self.cache_format % {"scope": "token_failures_client_ip", "ident": ident}


CLIENT_AUTH_THROTTLES = (TokenIPThrottle, TokenClientThrottle, FailedAuthIPThrottle, FailedAuthClientIPThrottle)


def record_client_auth_failure(request) -> None:
    for throttle_class in (FailedAuthIPThrottle, FailedAuthClientIPThrottle):
        throttle_class().record_failure(request)


class CommunityRateThrottle(WindowCounterThrottle):
    scope = "api"
    fail_open = True

    def get_cache_key(self, request, view):
        principal = request.user
        if not getattr(principal, "is_authenticated", False) or not hasattr(principal, "client_id"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}
