"""Django's built-in Redis cache, minus one cost on every call, plus counters in one round trip.

Django builds a new ``redis.Redis`` object for each cache operation; with redis-py 5+ that object sets
up ~170 response callbacks, which profiling showed to be the largest single cost of a rate-limited
request. A ``redis.Redis`` is thread-safe and borrows connections from its pool per command, so one per
pool is enough. Everything else is Django's own backend, unchanged.

Rate limits need counters that are exact across processes and servers: ``counters()`` adds to some
(atomic ``INCRBY``, never read-then-write) and reads others, on Redis in one command (a short Lua
script), on any other Django cache with ``incr``/``add`` (atomic within what that backend shares).
"""

from collections.abc import Mapping, Sequence

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


Increments = Mapping[str, tuple[int, int]]  # key -> (amount to add, expiry in seconds if the key is new)


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def counters(self, increments: Increments, reads: Sequence[str] = ()) -> tuple[list[int], list[int]]:
        """Add to the counters in ``increments`` and read those in ``reads``: one round trip.

        Everything goes to the primary (the write client): a replica could answer a read with a count
        that lags behind.
        """
        # make_key, not make_and_validate_key: the check is for memcached's key rules (Redis keys are
        # binary-safe), and these keys are the limits' own (addresses and digests, never raw input).
        keys = [self.make_key(key) for key in (*increments, *reads)]
        arguments = [len(increments)]
        for amount, timeout in increments.values():
            arguments += (amount, timeout)
        # EVAL, not EVALSHA: one round trip even on a Redis that has not seen the script yet (it caches
        # it by digest); a pipeline of INCR, EXPIRE and GET commands cost ~2x the client CPU (issue 14).
        results = self._cache.get_client(write=True).eval(_COUNTERS, len(keys), *keys, *arguments)
        return results[: len(increments)], results[len(increments) :]


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
    """``RedisCache.counters`` on any Django cache: the counts after adding, and the counts read (0 if none)."""
    if hasattr(cache, "counters"):
        return cache.counters(increments, reads)
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
