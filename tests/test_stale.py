"""lru_cache(ttl=T, stale=S) without a tier: a value past its ttl is served while one caller refreshes it."""

import asyncio
import logging
import threading
import time

import pytest

import boundcache

TTL = 0.05  # short, so that the tests can pass it; nothing here depends on how long a call takes


def test_one_caller_refreshes_while_the_others_get_the_stale_value():
    version = [0]
    refreshing = threading.Event()
    release = threading.Event()

    @boundcache.lru_cache(ttl=TTL, stale=60)
    def value(key):
        if version[0]:
            refreshing.set()
            release.wait(10)
        version[0] += 1
        return (key, version[0])

    assert value("k") == ("k", 1)
    time.sleep(TTL * 2)
    refresher = []
    thread = threading.Thread(target=lambda: refresher.append(value("k")))
    thread.start()
    assert refreshing.wait(10)
    assert [value("k") for _ in range(5)] == [("k", 1)] * 5  # at once: the stale value
    release.set()
    thread.join()
    assert refresher == [("k", 2)]  # the refreshing caller waited for its own result
    assert value("k") == ("k", 2)  # fresh again, for another ttl
    assert version == [2]


def test_a_failing_refresh_keeps_serving_the_stale_value(caplog):
    caplog.set_level(logging.ERROR, logger="boundcache.stale")
    fail = [False]
    calls = []

    @boundcache.lru_cache(ttl=TTL, stale=0.3)
    def value(key):
        calls.append(key)
        if fail[0]:
            raise RuntimeError("backend down")
        return "good"

    assert value("k") == "good"
    fail[0] = True
    time.sleep(TTL * 2)
    assert value("k") == "good"  # the refresh raised: logged, never cached, stale value served
    assert "backend down" in caplog.text and "refreshing" in caplog.text
    assert value("k") == "good"  # the next refresh waits min(1 s, stale)
    assert len(calls) == 2
    time.sleep(0.4)  # stale= has run out: the entry is gone, and a call computes as on a miss
    with pytest.raises(RuntimeError, match="backend down"):
        value("k")


def test_async_stale():
    version = [0]

    @boundcache.lru_cache(ttl=TTL, stale=60)
    async def value(key):
        await asyncio.sleep(0)
        version[0] += 1
        return version[0]

    async def main():
        first = await value(1)
        await asyncio.sleep(TTL * 2)
        refreshed = await value(1)
        return first, refreshed, await value(1)

    assert asyncio.run(main()) == (1, 2, 2)
    assert value.cache_parameters()["stale"] == 60


def test_arguments_are_checked():
    with pytest.raises(TypeError, match="give ttl= as well"):
        boundcache.lru_cache(stale=5)
    with pytest.raises(ValueError, match="positive"):
        boundcache.lru_cache(ttl=1, stale=0)
    with pytest.raises(TypeError, match="number of seconds"):
        boundcache.lru_cache(ttl=1, stale="5")
    with pytest.raises(TypeError, match="drop timer="):
        boundcache.lru_cache(ttl=1, stale=5, timer=time.monotonic)
    with pytest.raises(TypeError, match="stale= applies to functions"):

        class C:
            @boundcache.lru_cache(ttl=1, stale=5)
            def m(self, x):
                return x


def test_cache_delete_and_clear():
    @boundcache.lru_cache(ttl=60, stale=60)
    def f(x):
        return x

    f(1), f(2)
    assert f.cache_delete(1) is True and f.cache_info().currsize == 1
    f.cache_clear()
    assert f.cache_info().currsize == 0
