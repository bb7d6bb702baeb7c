"""``bfluence.cache.counters``: what every rate limit's count rests on, on the configured cache (Redis in
CI's second run: one Lua command; Django's other caches: incr/add), and on django-redis
itself wherever a Redis answers on 127.0.0.1:6379 (both of CI's runs; skipped on a machine without one)."""

import threading

import pytest
import redis
from django.core.cache import cache as configured_cache
from django_redis.cache import RedisCache

from bfluence.cache import counters

LOCAL_REDIS = "redis://127.0.0.1:6379/13"


def _local_redis() -> RedisCache:
    try:
        redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    backend = RedisCache(LOCAL_REDIS, {})
    backend.clear()
    return backend


@pytest.fixture(params=["configured", "redis"])
def cache(request):
    if request.param == "configured":
        yield configured_cache
        return
    backend = _local_redis()
    yield backend
    backend.clear()
    backend.close()


def test_counters_add_and_read_in_one_call(cache):
    assert counters(cache, {"c_a": (1, 60), "c_b": (2, 60)}, ["c_unknown"]) == ([1, 2], [0])
    assert counters(cache, {"c_a": (1, 60)}, ["c_b", "c_unknown"]) == ([2], [2, 0])
    assert counters(cache, {}, ["c_a"]) == ([], [2])


def test_a_counter_expires_with_its_first_window_only():
    cache = _local_redis()
    counters(cache, {"c_window": (1, 60)}, [])
    counters(cache, {"c_window": (1, 3600)}, [])  # a later call never pushes the end further
    client = cache.client.get_client(write=True)
    assert 0 < client.ttl(cache.make_and_validate_key("c_window")) <= 60


def test_counts_are_exact_under_concurrent_adds(cache):
    def add():
        for _ in range(50):
            counters(cache, {"c_concurrent": (1, 60)}, [])

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters(cache, {}, ["c_concurrent"]) == ([], [400])


def test_a_count_that_is_not_a_number_fails_the_call_and_drops_nothing():
    """Found in review: Lua's tonumber() of a value that is no number is nil, and a nil ended the reply
    there, dropping that count and every one after it unchecked. The call now fails (the limits answer
    503), as INCR or int() would."""
    cache = _local_redis()
    cache.set("c_odd", "not a number")  # another writer of the key space, an operator, a bad restore
    counters(cache, {"c_after": (5, 60)}, [])
    with pytest.raises(Exception, match="not a count"):
        counters(cache, {"c_new": (1, 60)}, ["c_odd", "c_after"])
