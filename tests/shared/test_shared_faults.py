"""The Redis tier failing: down, hanging (SIGSTOP), restarted. Calls never fail
because of Redis, return within a bounded delay, and sharing resumes."""

import logging
import time

import pytest

import boundcache

# Generous: the tier's timeout is 0.25 s; only a hang (or a retry storm) fails these.
BOUND = 3.0


def twin(tier, calls, **options):
    @boundcache.lru_cache(shared=tier, name="tests.lookup", **options)
    def lookup(x):
        calls.append(x)
        return ("v", x)

    return lookup


def outage_warnings(caplog):
    return [r for r in caplog.records if r.name == "boundcache.shared" and "failed" in r.getMessage()]


def test_redis_down_from_the_start(server, make_tier, shared_log):
    server.stop()
    tier = make_tier()
    calls = []
    f = twin(tier, calls)
    start = time.monotonic()
    assert [f(i) for i in range(50)] == [("v", i) for i in range(50)]
    assert [f(i) for i in range(50)] == [("v", i) for i in range(50)]  # local hits still work
    assert time.monotonic() - start < BOUND
    assert calls == list(range(50))
    assert len(outage_warnings(shared_log)) == 1
    assert tier.info().errors >= 1
    f.cache_clear()  # no Redis: clears locally, raises nothing
    assert f(1) == ("v", 1)


def test_a_hanging_server_costs_one_timeout_then_is_skipped(server, make_tier, shared_log):
    tier = make_tier(retry_interval=60)
    calls = []
    f = twin(tier, calls)
    f(0)
    server.pause()
    try:
        start = time.monotonic()
        results = [f(i) for i in range(1, 30)]
        elapsed = time.monotonic() - start
    finally:
        server.resume()
    assert results == [("v", i) for i in range(1, 30)]
    assert elapsed < BOUND  # one timed-out command, then the tier is skipped
    assert calls == list(range(30))
    assert tier.info().errors == 1
    assert len(outage_warnings(shared_log)) == 1


def test_a_restart_midrun_then_sharing_resumes(server, make_tier, shared_log, wait_until):
    tier = make_tier(retry_interval=0.1)
    calls = []
    f = twin(tier, calls)
    assert f(1) == ("v", 1)
    server.stop()
    for i in range(2, 20):
        assert f(i) == ("v", i)
        time.sleep(0.01)  # across several retry intervals: still one warning for the outage
    assert len(outage_warnings(shared_log)) == 1
    server.start()  # same port, empty
    assert wait_until(lambda: f(100 + len(calls)) and server.client().keys("*:v:*"))
    assert any("answers again" in r.getMessage() for r in shared_log.records)
    # The restarted server lost the function's generation: processes agree on a new one once
    # their listener has subscribed again (which forgets the generations they knew).
    assert wait_until(lambda: tier._subscribed.is_set())
    key = 1000
    f(key)
    other = []
    g = twin(make_tier(), other)
    n = len(calls)
    assert g(key) == ("v", key) and other == []  # shared again
    assert len(calls) == n


def test_the_listener_resubscribes_and_clears_what_it_may_have_missed(server, make_tier, wait_until):
    tier = make_tier(retry_interval=0.1)
    f = twin(tier, [])
    f(1)
    f(2)
    assert tier._subscribed.is_set()
    server.stop()
    assert wait_until(lambda: not tier._subscribed.is_set())
    assert f.cache_info().currsize == 2  # kept during the outage
    server.start()
    assert wait_until(lambda: tier._subscribed.is_set() and f.cache_info().currsize == 0)


def test_a_clear_during_an_outage_is_applied_when_redis_answers(server, make_tier):
    tier = make_tier(retry_interval=0.1)
    f = twin(tier, [])
    f(1)
    server.pause()
    try:
        f.cache_clear()  # times out against the paused server: local clear now, Redis later
    finally:
        server.resume()
    assert len(server.client().keys("*:v:*")) == 1
    time.sleep(0.15)
    f(2)  # the next command that reaches Redis replays the clear
    keys = server.client().keys("*:v:*")
    assert len(keys) == 1  # f(2) only: f(1)'s entry was deleted by the replayed clear
    other = []
    assert twin(make_tier(), other)(1) == ("v", 1) and other == [1]


@pytest.mark.parametrize("fault", ["pause", "stop"])
def test_lock_true_falls_back_to_computing(server, make_tier, fault):
    tier = make_tier()
    f = twin(tier, [], lock=True)
    getattr(server, fault)()
    try:
        start = time.monotonic()
        assert f(1) == ("v", 1)
        assert time.monotonic() - start < BOUND
    finally:
        if fault == "pause":
            server.resume()


def test_async_during_a_hang(server, make_tier):
    import asyncio

    tier = make_tier(retry_interval=60)

    @boundcache.lru_cache(shared=tier, name="tests.fetch")
    async def fetch(x):
        await asyncio.sleep(0)
        return x * 2

    async def main():
        return [await fetch(i) for i in range(20)]

    assert asyncio.run(main()) == [i * 2 for i in range(20)]
    fetch.cache_clear.__self__.clear_local()
    server.pause()
    try:
        start = time.monotonic()
        assert asyncio.run(main()) == [i * 2 for i in range(20)]
        assert time.monotonic() - start < BOUND
    finally:
        server.resume()
    assert tier.info().errors == 1


def test_no_warning_without_an_outage(server, make_tier, shared_log):
    f = twin(make_tier(), [])
    for i in range(10):
        f(i)
    assert [r for r in shared_log.records if r.levelno >= logging.WARNING] == []
