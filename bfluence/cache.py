"""Counters exact across processes and servers, for the rate limits.

``counters()`` adds to some (atomic ``INCRBY``, never read-then-write) and reads others: on Redis
(django-redis) in one command, a short Lua script; on any other Django cache with ``incr``/``add``
(atomic within what that backend shares).
"""

from collections.abc import Mapping, Sequence

from django_redis.cache import RedisCache

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
