"""``bfluence.cache.counters``: what every rate limit's count rests on, on the configured cache (Redis in
CI's second run: one Lua command; Django's other caches: incr/add)."""

import threading

import pytest
from django.conf import settings
from django.core.cache import cache

from bfluence.cache import counters

ON_REDIS = settings.CACHES["default"]["LOCATION"].startswith("redis://")


def test_counters_add_and_read_in_one_call():
    assert counters(cache, {"c_a": (1, 60), "c_b": (2, 60)}, ["c_unknown"]) == ([1, 2], [0])
    assert counters(cache, {"c_a": (1, 60)}, ["c_b", "c_unknown"]) == ([2], [2, 0])
    assert counters(cache, {}, ["c_a"]) == ([], [2])


@pytest.mark.skipif(not ON_REDIS, reason="Redis expiry (CI's PostgreSQL + Redis run)")
def test_a_counter_expires_with_its_first_window_only():
    counters(cache, {"c_window": (1, 60)}, [])
    counters(cache, {"c_window": (1, 3600)}, [])  # a later call never pushes the end further
    client = cache._cache.get_client(write=True)
    assert 0 < client.ttl(cache.make_and_validate_key("c_window")) <= 60


def test_counts_are_exact_under_concurrent_adds():
    def add():
        for _ in range(50):
            counters(cache, {"c_concurrent": (1, 60)}, [])

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters(cache, {}, ["c_concurrent"]) == ([], [400])


@pytest.mark.skipif(not ON_REDIS, reason="the Lua script (CI's PostgreSQL + Redis run)")
def test_a_count_that_is_not_a_number_fails_the_call_and_drops_nothing():
    """Found in review: Lua's tonumber() of a value that is no number is nil, and a nil ended the reply
    there, dropping that count and every one after it unchecked. The call now fails (the limits answer
    503), as INCR or int() would."""
    cache.set("c_odd", "not a number")  # another writer of the key space, an operator, a bad restore
    counters(cache, {"c_after": (5, 60)}, [])
    with pytest.raises(Exception, match="not a count"):
        counters(cache, {"c_new": (1, 60)}, ["c_odd", "c_after"])
