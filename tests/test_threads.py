"""Threads hammering shared function and method caches.

With a tiny switch interval, threads switch inside user __hash__/__eq__,
inside the wrapped function, and in finalizers of evicted values: every
place where the core runs user code between table operations.
"""

from __future__ import annotations

import gc
import random
import sys
import threading
import weakref

import pytest

import boundcache
from cores import released

NTHREADS = 6


@pytest.fixture(autouse=True)
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


class SlowKey:
    """A key whose __hash__ and __eq__ run Python code (switch points)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        return self.v % 3  # many collisions: long probe runs, many __eq__

    def __eq__(self, other):
        return isinstance(other, SlowKey) and other.v == self.v


class Value:
    """Weak-referenceable; its finalizer runs Python code when evicted."""

    dead = 0

    def __init__(self, x):
        self.x = x

    def __del__(self):
        Value.dead += 1


def run_threads(target, n=NTHREADS):
    errors = []
    barrier = threading.Barrier(n)

    def wrap(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def key_for(rng, n):
    r = rng.randrange(4)
    v = rng.randrange(n)
    if r == 0:
        return v, v
    if r == 1:
        return SlowKey(v), v
    if r == 2:
        return (v, "t"), v
    return str(v), v


@pytest.mark.parametrize("maxsize", [1, 8, None])
def test_function_cache_threads_consistent(maxsize):
    calls = [0] * NTHREADS

    @boundcache.lru_cache(maxsize=maxsize)
    def f(k, v):
        return Value(v)

    def worker(i):
        rng = random.Random(i)
        for _ in range(6000):
            k, v = key_for(rng, 24)
            assert f(k, v).x == v
            calls[i] += 1
            info = f.cache_info()
            assert maxsize is None or info.currsize <= maxsize

    run_threads(worker)
    info = f.cache_info()
    assert info.hits + info.misses == sum(calls)
    assert maxsize is None or info.currsize <= maxsize
    assert info.hits > 0 and info.misses > 0
    released()  # values evicted during the run, freed by the collector where it frees them
    before = Value.dead
    n = info.currsize
    f.cache_clear()
    released()
    assert Value.dead - before == n  # each cached value released exactly once
    assert f.cache_info() == (0, 0, maxsize, 0)


def test_function_cache_threads_with_clears():
    @boundcache.lru_cache(maxsize=4)
    def f(k, v):
        return ("v", v)

    def worker(i):
        rng = random.Random(100 + i)
        for n in range(6000):
            if i == 0 and n % 50 == 0:
                f.cache_clear()
                continue
            k, v = key_for(rng, 10)
            assert f(k, v) == ("v", v)
            assert f.cache_info().currsize <= 4

    run_threads(worker)
    info = f.cache_info()
    assert info.currsize <= 4
    f.cache_clear()
    assert f.cache_info() == (0, 0, 4, 0)


def test_method_caches_threads_instances_dying():
    gc.disable()
    try:
        _method_threads()
    finally:
        gc.enable()


def _method_threads():
    calls = [0] * NTHREADS

    class Owner:
        def __init__(self, tag):
            self.tag = tag

        @boundcache.lru_cache(maxsize=4)
        def m(self, k, v):
            return (self.tag, Value(v))

    pool = [Owner(j) for j in range(4)]
    wrs = []
    lock = threading.Lock()
    next_tag = [100]

    def worker(i):
        rng = random.Random(200 + i)
        for _ in range(5000):
            r = rng.randrange(20)
            if r == 0 and i < 2:
                # Replace an instance: the old one dies here or in whichever
                # thread drops its last reference.
                with lock:
                    j = rng.randrange(len(pool))
                    wrs.append(weakref.ref(pool[j]))
                    pool[j] = Owner(next_tag[0])
                    next_tag[0] += 1
                continue
            if r == 1 and i == 2:
                pool[rng.randrange(len(pool))].m.cache_clear()  # per-instance: sums keep counting
                continue
            obj = pool[rng.randrange(len(pool))]
            k, v = key_for(rng, 12)
            tag, val = obj.m(k, v) if r % 2 else Owner.m(obj, k, v)
            assert tag == obj.tag and val.x == v
            calls[i] += 1
            assert obj.m.cache_info().currsize <= 4
            del obj, val

    run_threads(worker)
    released()  # replaced instances' entries go at their collection where it frees them
    live_sizes = [o.m.cache_info().currsize for o in pool]
    assert all(s <= 4 for s in live_sizes)
    info = Owner.m.cache_info()
    assert info.hits + info.misses == sum(calls)
    assert info.currsize == sum(live_sizes)
    released()
    assert [w for w in wrs if w() is not None] == []  # replaced instances freed by refcounting
    pool.clear()
    released()
    info = Owner.m.cache_info()
    assert info.currsize == 0
    assert info.hits + info.misses == sum(calls)
    Owner.m.cache_clear()
    assert Owner.m.cache_info() == (0, 0, 4, 0)


def test_method_class_clear_from_other_thread():
    class Owner:
        @boundcache.lru_cache(maxsize=3)
        def m(self, k, v):
            return v * 2

    objs = [Owner() for _ in range(5)]
    stop = threading.Event()

    def worker(i):
        rng = random.Random(300 + i)
        if i == 0:
            for _ in range(2000):
                Owner.m.cache_clear()
            stop.set()
            return
        while not stop.is_set():
            o = objs[rng.randrange(5)]
            k = rng.randrange(8)
            key = SlowKey(k) if rng.random() < 0.5 else k
            assert o.m(key, k) == k * 2
            assert o.m.cache_info().currsize <= 3

    run_threads(worker, n=4)
    info = Owner.m.cache_info()
    assert info.currsize == sum(o.m.cache_info().currsize for o in objs)
    assert all(o.m.cache_info().currsize <= 3 for o in objs)
