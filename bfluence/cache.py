"""Counters exact across processes and servers, for the rate limits, behind a circuit breaker.

``counters()`` adds to some (atomic ``INCRBY``, never read-then-write) and reads others: on Redis
(django-redis) in one command, a short Lua script; on any other Django cache with ``incr``/``add``
(atomic within what that backend shares).

``breaker``: a cache that fails (refused, or silent until ``CACHE_TIMEOUT``) is not asked again by this
process for ``CACHE_BREAKER_PAUSE`` seconds; every call meanwhile raises ``CacheUnavailable`` at once,
so a stalled Redis costs each worker one timeout per pause, not one per request. It holds no security
state: only "do not wait on the cache right now".
"""

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.cache import RedisCache

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The cache failed now (``tripped``) or moments ago; it is asked again in ``retry_after`` seconds."""

    def __init__(self, *, retry_after: float, tripped: bool) -> None:
        super().__init__("cache unavailable")
        self.retry_after = retry_after
        self.tripped = tripped

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


class CircuitBreaker:
    """Per process: after a failure, the cache is left alone for a pause, then asked again."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def call(self, operation: Callable[[], T]) -> T:
        """``operation()``'s result, or ``CacheUnavailable`` (at once while the breaker is open)."""
        wait = self._open_until - time.monotonic()
        if wait > 0:
            raise CacheUnavailable(retry_after=wait, tripped=False)
        try:
            return operation()
        except Exception as error:  # any backend's failure: refused, timed out, a reply not understood
            pause = float(settings.CACHE_BREAKER_PAUSE)
            with self._lock:
                self._open_until = max(self._open_until, time.monotonic() + pause)
            raise CacheUnavailable(retry_after=pause, tripped=True) from error

    def is_open(self) -> bool:
        return self._open_until > time.monotonic()

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = CircuitBreaker()


@receiver(setting_changed)
def _new_cache_new_chances(*, setting: str, **kwargs) -> None:
    if setting in {"CACHES", "CACHE_BREAKER_PAUSE"}:
        breaker.reset()


def shared_counters(increments: "Increments", reads: Sequence[str] = ()) -> tuple[list[int], list[int]]:
    """``counters()`` on the default cache, through the breaker: ``CacheUnavailable`` when it cannot
    answer."""
    return breaker.call(lambda: counters(caches["default"], increments, reads))


Increments = Mapping[str, tuple[int, int]]  # key -> (amount to add, expiry in seconds if the key is new)

# KEYS: the counters to add to, then those to read. ARGV: how many are added, then (amount, expiry in
# seconds) for each: the expiry is set only on a counter that has none (a new one), as EXPIRE NX. Run
# atomically by Redis, as one command.
_COUNTERS = """
local added = tonumber(ARGV[1])
local counts = {}
for i = 1, #KEYS do
  if i <= added then
    counts[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i])
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i + 1], 'NX')
  else
    local value = redis.call('GET', KEYS[i])
    counts[i] = tonumber(value or '0')
  end
  -- Not a count (never written so by this code): an error, as INCR or int() would raise, never a nil,
  -- which would end the reply there and drop the counts after it unchecked.
  if counts[i] == nil then
    return redis.error_reply('not a count: ' .. KEYS[i])
  end
end
return counts
"""


def counters(cache, increments: Increments, reads: Sequence[str] = ()) -> tuple[list[int], list[int]]:
    """The counts after adding ``increments``, and the counts of ``reads`` (0 if none): one round trip on
    Redis, always to the primary (a replica could answer with a count that lags behind)."""
    if isinstance(cache, RedisCache):
        keys = [cache.make_key(key) for key in (*increments, *reads)]
        arguments = [len(increments)]
        for amount, timeout in increments.values():
            arguments += (amount, timeout)
        results = cache.client.get_client(write=True).eval(_COUNTERS, len(keys), *keys, *arguments)
        return results[: len(increments)], results[len(increments) :]
    added = []
    for key, (amount, timeout) in increments.items():
        try:
            added.append(cache.incr(key, amount))
        except ValueError:  # first of its window (or just expired)
            if cache.add(key, amount, timeout):
                added.append(amount)
            else:  # another request created it meanwhile
                added.append(cache.incr(key, amount))
    found = cache.get_many(reads) if reads else {}
    return added, [int(found.get(key) or 0) for key in reads]
