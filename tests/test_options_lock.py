"""lru_cache(lock=True): concurrent misses on one key compute once.

The others wait for that computation and get its result (counted as hits;
misses count computations), or its exception; a recursive call with the same
key in the computing thread raises RuntimeError instead of deadlocking. The
in-flight bookkeeping is per (table, key), lives only while the call runs and
never holds the instance.

Threads are coordinated with Event and Barrier, never with sleeps: every
wait has a timeout, so that a regression fails instead of hanging.
"""

from __future__ import annotations

import threading
import weakref

import pytest

import boundcache

TIMEOUT = 10  # seconds: only ever reached when something is broken


class HostileError(Exception):
    pass


def start(target, *args):
    """A started daemon thread whose outcome (or exception) lands in .outcome."""

    def run():
        try:
            t.outcome = ("ok", target(*args))
        except BaseException as e:  # noqa: BLE001 - inspected by the test
            t.outcome = ("raised", e)

    t = threading.Thread(target=run, daemon=True)
    t.outcome = None
    t.start()
    return t


def join(*threads):
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "thread still blocked"
    return [t.outcome for t in threads]


# ---- the flights bookkeeping survives a key whose __hash__/__eq__ raise ----


class FlakyKey:
    """Equal to every FlakyKey of the same value; its __hash__ raises on its
    n-th call (0: never). Counts are per object."""

    def __init__(self, v, hash_fails_at=0):
        self.v = v
        self.fails_at = hash_fails_at
        self.hashed = 0

    def __hash__(self):
        self.hashed += 1
        if self.hashed == self.fails_at:
            raise HostileError("__hash__")
        return 7

    def __eq__(self, other):
        return isinstance(other, FlakyKey) and other.v == self.v


@pytest.mark.parametrize("fails_at", range(1, 7))
def test_a_hash_that_raises_once_leaves_no_flight_behind(fails_at):
    # Regression: flights were filed in a dict under (table, key), so filing,
    # finding and removing one each hashed the key again. A hash that raised
    # at removal (the 4th hash of a call) left the finished flight filed for
    # good: the next miss of an equal key in that thread raised RuntimeError
    # ("called itself"), and in another thread got the old result as a hit.
    calls = []

    @boundcache.lru_cache(lock=True)
    def f(k):
        calls.append(k.v)
        return ("result", len(calls))

    try:
        f(FlakyKey(1, hash_fails_at=fails_at))
    except HostileError:
        pass
    f.cache_clear()
    assert f(FlakyKey(1)) == ("result", len(calls))  # computed afresh, in this thread
    f.cache_clear()
    (outcome,) = join(start(f, FlakyKey(1)))  # and in another one
    assert outcome == ("ok", ("result", len(calls)))
    assert f.cache_info() == (0, 1, 128, 1)


@pytest.mark.parametrize("fails_at", range(1, 13))
def test_an_eq_that_raises_once_leaves_no_flight_behind(fails_at):
    # The same with __eq__: keys that share a hash are in flight at once
    # (computing K(0) calls K(1), which calls K(2)), and one comparison
    # raises, wherever it happens: in the table or among the flights.
    compared = [0]

    class K:
        def __init__(self, v):
            self.v = v

        def __hash__(self):
            return 3

        def __eq__(self, other):
            compared[0] += 1
            if compared[0] == fails_at:
                raise HostileError("__eq__")
            return isinstance(other, K) and other.v == self.v

    calls = []

    @boundcache.lru_cache(maxsize=None, lock=True)
    def f(k):
        calls.append(k.v)
        if k.v < 2:
            try:
                f(K(k.v + 1))
            except HostileError:
                pass
        return ("result", k.v, len(calls))

    try:
        f(K(0))
    except HostileError:
        pass
    compared[0] = -(10**9)  # calm from now on
    f.cache_clear()
    for v in (2, 1, 0):  # each computed afresh, its callee (if any) a hit
        n = len(calls)
        assert f(K(v)) == ("result", v, n + 1)
        (outcome,) = join(start(f, K(v)))  # another thread: a hit, not a stale flight
        assert outcome == ("ok", ("result", v, n + 1))
    assert f.cache_info() == (5, 3, None, 3)


def test_a_flight_left_by_a_failing_hash_does_not_pin_the_instance(no_gc):
    class C:
        @boundcache.lru_cache(lock=True)
        def m(self, k):
            return [self]  # the result refers back to its instance

    obj = C()
    wr = weakref.ref(obj)
    for fails_at in range(1, 7):
        obj.m.cache_clear()
        try:
            obj.m(FlakyKey(1, hash_fails_at=fails_at))
        except HostileError:
            pass
    obj.m.cache_clear()  # the result's cycle through the cache is gone
    del obj
    assert wr() is None
