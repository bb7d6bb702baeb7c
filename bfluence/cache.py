"""Django's built-in Redis cache, minus one cost on every call, plus counters in one round trip.

Django builds a new ``redis.Redis`` object for each cache operation; with redis-py 5+ that object sets
up ~170 response callbacks, which profiling showed to be the largest single cost of a rate-limited
request. A ``redis.Redis`` is thread-safe and borrows connections from its pool per command, so one per
pool is enough. Everything else is Django's own backend, unchanged.

Rate limits need counters that are exact across processes and servers: ``counters()`` adds to some
(atomic ``INCR``, never read-then-write) and reads others, on Redis in one pipelined round trip, on any
other Django cache with ``incr``/``add`` (atomic within what that backend shares).
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
        pipeline = self._cache.get_client(write=True).pipeline(transaction=False)
        for key, (amount, timeout) in increments.items():
            key = self.make_and_validate_key(key)
            pipeline.incr(key, amount)
            pipeline.expire(key, timeout, nx=True)
        for key in reads:
            pipeline.get(self.make_and_validate_key(key))
        results = pipeline.execute()
        added = len(increments) * 2
        return results[0:added:2], [int(value or 0) for value in results[added:]]


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
