"""Rate limits (SPEC §6), built on DRF's throttles and Django's cache (Redis in production).

- ``token_ip`` / ``token_client``: every client-authenticated request, per source IP and per client_id;
- ``token_failures``: only *failed* client authentications, per source IP and per client_id + IP, so a
  brute force is cut off long before the general limits while honest traffic never feels it;
- ``api``: private calls per community.
"""

import hashlib

from rest_framework import settings as drf_settings
from rest_framework.throttling import SimpleRateThrottle as DRFSimpleRateThrottle

from tokens.credentials import client_id_hint


class SimpleRateThrottle(DRFSimpleRateThrottle):
    """DRF's throttle, reading its rate from the live settings (DRF binds them once, at import)."""

    def get_rate(self):
        return drf_settings.api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


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
        history = [moment for moment in self.cache.get(key, []) if moment > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)


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

    def get_cache_key(self, request, view):
        principal = request.user
        if not getattr(principal, "is_authenticated", False) or not hasattr(principal, "client_id"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}
