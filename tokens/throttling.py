"""Rate limits (SPEC §6), built on DRF's throttles and Django's cache (Redis in production).

- ``token_ip`` / ``token_client``: every client-authenticated request, per source IP and per client_id;
- ``token_failures``: only *failed* client authentications, per source IP and per client_id + IP, so a
  brute force is cut off long before the general limits while honest traffic never feels it;
- ``api``: private calls per community.
"""

import hashlib
import logging

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


class TokenIPThrottle(SimpleRateThrottle):
    scope = "token_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenClientThrottle(SimpleRateThrottle):
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


class CommunityRateThrottle(SimpleRateThrottle):
    scope = "api"
    fail_open = True

    def get_cache_key(self, request, view):
        principal = request.user
        if not getattr(principal, "is_authenticated", False) or not hasattr(principal, "client_id"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}
