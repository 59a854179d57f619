"""cached_property under concurrent first reads (contract 4)."""

from __future__ import annotations

import functools
import gc
import threading
import time
import weakref

import pytest

import boundcache
from cores import released


def make_classes(func):
    class WithDict:
        p = boundcache.cached_property(func)

    class Slotted:
        __slots__ = ("__boundcache__", "__weakref__")
        p = boundcache.cached_property(func)

    class WeakOnly:
        __slots__ = ("__weakref__",)
        p = boundcache.cached_property(func)

    return [WithDict, Slotted, WeakOnly]


def run_threads(n, target):
    errors, results = [], [None] * n
    barrier = threading.Barrier(n)

    def wrap(i):
        try:
            barrier.wait()
            results[i] = ("ok", target(i))
        except BaseException as e:  # noqa: BLE001 - returned to the test
            results[i] = ("raised", e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "threads deadlocked"
    return results


@pytest.mark.parametrize("which", [0, 1, 2])
def test_concurrent_first_reads_compute_once(which):
    calls = []

    def p(self):
        calls.append(threading.get_ident())
        time.sleep(0.05)  # releases the GIL: the other readers arrive meanwhile
        return object()

    Cls = make_classes(p)[which]
    obj = Cls()
    results = run_threads(8, lambda i: obj.p)
    assert len(calls) == 1
    assert all(r[0] == "ok" for r in results)
    assert len({id(r[1]) for r in results}) == 1
    assert obj.p is results[0][1]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_different_instances_do_not_wait_for_each_other(which):
    a_started = threading.Event()
    b_done = threading.Event()

    def p(self):
        if self is a:
            a_started.set()
            # Blocks until b's property has been computed in another thread:
            # if b's reader had to wait for this computation, it never is.
            return ("a", b_done.wait(10))
        return ("b", True)

    Cls = make_classes(p)[which]
    a, b = Cls(), Cls()

    def reader(i):
        if i == 0:
            return a.p
        assert a_started.wait(10)
        v = b.p
        b_done.set()
        return v

    results = run_threads(2, reader)
    assert results[1] == ("ok", ("b", True))
    assert results[0] == ("ok", ("a", True)), "b's first read waited for a's computation"


@pytest.mark.parametrize("which", [0, 1, 2])
def test_exception_not_stored_waiters_compute(which):
    calls = []
    first_entered = threading.Event()

    def p(self):
        calls.append(1)
        n = len(calls)
        if n == 1:
            first_entered.set()
            time.sleep(0.1)
            raise ValueError("first computation fails")
        return ("value", n)

    Cls = make_classes(p)[which]
    obj = Cls()

    def reader(i):
        if i:
            first_entered.wait(10)
        return obj.p

    results = run_threads(6, reader)
    raised = [r for r in results if r[0] == "raised"]
    ok = [r for r in results if r[0] == "ok"]
    assert len(raised) == 1 and isinstance(raised[0][1], ValueError)
    assert results[0][0] == "raised"  # the first computation's own caller
    assert len(calls) == 2  # recomputed once after the failure, then stored
    assert {r[1] for r in ok} == {("value", 2)}
    assert obj.p == ("value", 2)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_delete_recomputes(which):
    n = []

    def p(self):
        n.append(1)
        return len(n)

    Cls = make_classes(p)[which]
    obj = Cls()
    assert obj.p == 1 and obj.p == 1
    del obj.p
    assert obj.p == 2
    with pytest.raises(AttributeError):
        del obj.p
        del obj.p


def test_recursive_read_same_thread_matches_functools():
    def build(lib):
        depth = []

        class A:
            @lib.cached_property
            def p(self):
                depth.append(1)
                if len(depth) == 1:
                    inner = self.p  # recursive read computes again
                    return ("outer", inner)
                return ("inner",)

        a = A()
        return a.p, a.p

    assert build(boundcache) == build(functools)


def test_many_instances_concurrently_each_once():
    gc.collect()
    counts = {}
    lock = threading.Lock()

    def p(self):
        with lock:
            counts[self.k] = counts.get(self.k, 0) + 1
        time.sleep(0.001)
        return self.k * 2

    class A:
        def __init__(self, k):
            self.k = k

        v = boundcache.cached_property(p)

    objs = [A(k) for k in range(20)]

    def reader(i):
        return [o.v for o in (objs if i % 2 else objs[::-1])]

    results = run_threads(6, reader)
    assert all(r[0] == "ok" and sorted(r[1]) == [k * 2 for k in range(20)] for r in results)
    assert counts == {k: 1 for k in range(20)}
    wrs = [weakref.ref(o) for o in objs]
    objs.clear()
    del results
    gc.collect()
    released()
    assert all(w() is None for w in wrs)
