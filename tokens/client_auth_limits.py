"""Rate limits on client authentication (SPEC §2.1): ``/auth/token``, ``/auth/revoke``,
``/auth/revocation-requests``.

Knowing a client_id gives no power over that partner. So what is counted where:

- ``token_ip``: every attempt, per source IP;
- ``token_failures``: failed client authentications, per source IP and per client_id + source IP;
- ``token_client``: per client_id, only requests that *authenticated* as that client — what the partner
  itself consumes. Nothing an outsider without the secret sends, from any number of addresses, touches
  a count the partner's own requests from its own address are checked against.

Two steps per request, each one cache round trip (one Redis pipeline):

1. ``admit`` (DRF's throttle check, before the view): count the attempt per IP, read the failure counts;
   refuse when the IP is over its rate or its failures (or this client_id's from this IP) reached the limit.
2. after the secret check, ``record_failure`` counts the failure (atomic ``INCR``) and answers 429 instead
   of 401 when the count it got back is past the limit; ``record_success`` counts the request for the
   client_id and re-reads the failure counts. So however many guesses arrive at once, exactly the limit
   of them get a checked answer: the read in step 1 alone would let every concurrent guess through.

Fixed windows (epoch-aligned, ``N/period``): a caller may fit up to twice the rate across a boundary.
"""

import hashlib
import logging
import time

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
        self.wait = (window + 1) * self.duration - now

    @property
    def increment(self) -> dict[str, tuple[int, int]]:
        return {self.key: (1, self.duration + 1)} if self.enabled else {}


class ClientAuthLimits:
    """The limits of one client-authenticated request, from admission to the secret check's outcome."""

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
        self.retry_after = 0.0

    def _refuse(self, windows: list[_Window]) -> bool:
        metrics.throttled(windows[0].scope)
        self.retry_after = max(window.wait for window in windows)
        return False

    def _failures_reached(self, counts: list[int]) -> list[_Window]:
        return [window for window, count in zip(self.failures, counts) if count >= window.limit]

    def admit(self) -> bool:
        """Count the attempt per IP; False (``retry_after`` set) when this address may not try now."""
        added, failures = counters(cache, self.per_ip.increment, [window.key for window in self.failures])
        refused = self._failures_reached(failures)
        if self.per_ip.enabled and added[0] > self.per_ip.limit:
            refused.append(self.per_ip)
        return self._refuse(refused) if refused else True

    def record_failure(self) -> None:
        """Count a failed authentication; ``RateLimited`` when it went past a limit (no verdict given)."""
        increments = {key: value for window in self.failures for key, value in window.increment.items()}
        try:
            added, _ = counters(cache, increments)
        except Exception as error:  # any cache backend's failure: the 401 stands, only the count is lost
            metrics.backend_error("cache")
            _log.warning("rate-limit cache unavailable (%s): failure not counted", type(error).__name__)
            return
        refused = [window for window, count in zip(self.failures, added) if count > window.limit]
        if refused:
            metrics.throttled(refused[0].scope)
            raise RateLimited(wait=max(window.wait for window in refused))

    def record_success(self, *, client_id: str, counted: bool) -> None:
        """Count an authenticated request for its client_id (when ``counted``); ``RateLimited`` when the
        client_id is over its rate, or failures from this address reached the limit meanwhile."""
        per_client = _Window("token_client", "token_client", _digest(client_id), self.now)
        increments = per_client.increment if counted else {}
        try:
            added, failures = counters(cache, increments, [window.key for window in self.failures])
        except Exception as error:  # admitted a moment ago: let the authenticated partner through
            metrics.backend_error("cache")
            _log.warning("rate-limit cache unavailable (%s): success not counted", type(error).__name__)
            return
        refused = self._failures_reached(failures)
        if added and added[0] > per_client.limit:
            refused.append(per_client)
        if refused:
            metrics.throttled(refused[0].scope)
            raise RateLimited(wait=max(window.wait for window in refused))


class ClientAuthThrottle(BaseThrottle):
    """DRF's throttle hook for the client-authenticated views: step 1 (``admit``) of the limits above.

    The request keeps its ``ClientAuthLimits`` for step 2. With the cache down, a clean 503: never let an
    uncounted brute force through.
    """

    def allow_request(self, request, view) -> bool:
        unreadable = None
        try:
            client_id = client_id_hint(request)
        except APIException as error:  # a body that does not parse: counted as an attempt, then answered
            client_id, unreadable = None, error
        source_ip = getattr(request, "source_ip", None) or client_ip(request)
        limits = ClientAuthLimits(source_ip=source_ip, client_id=client_id, now=time.time())
        request.client_auth_limits = limits
        try:
            allowed = limits.admit()
        except Exception as error:  # any cache backend's failure: Redis, memcached, …
            metrics.backend_error("cache")
            _log.warning("rate-limit cache unavailable (%s): request refused with 503", type(error).__name__)
            raise ServiceUnavailable() from error
        self.retry_after = limits.retry_after
        if allowed and unreadable is not None:
            raise unreadable
        return allowed

    def wait(self) -> float:
        return self.retry_after
