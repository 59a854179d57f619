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

import collections
import random
import threading
import weakref

import pytest

import boundcache
from cores import recursion_room, released

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
    released()
    assert wr() is None


# ---- one computation per key ----


class Key:
    """Equal by value, hashed by `h` (default: the value). Each thread gets
    its own, equal object, so that finding another thread's flight compares
    them: that comparison, when it matches, signals `matched`."""

    matched = None  # a Semaphore while a test listens

    def __init__(self, v, h=None):
        self.v, self.h = v, v if h is None else h

    def __hash__(self):
        return hash(self.h)

    def __eq__(self, other):
        eq = isinstance(other, Key) and other.v == self.v
        if eq and Key.matched is not None:
            Key.matched.release()
        return eq

    def __repr__(self):
        return f"Key({self.v})"


@pytest.fixture
def matched():
    Key.matched = threading.Semaphore(0)
    yield Key.matched
    Key.matched = None


def acquire(semaphore, n):
    for _ in range(n):
        assert semaphore.acquire(timeout=TIMEOUT), "a thread never got there"


class Gate:
    """Inside the cached function: says it is computing, then waits to be let go."""

    def __init__(self):
        self.computing = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self):
        self.computing.release()
        assert self.release.wait(TIMEOUT), "never released"


@pytest.mark.parametrize("on", ["function", "method"])
def test_eight_threads_on_one_key_compute_once(on, matched):
    gate = Gate()
    calls = []

    def body(k):
        calls.append(k)
        gate()
        return object()

    if on == "function":
        f = boundcache.lru_cache(lock=True)(body)
    else:

        class C:
            @boundcache.lru_cache(lock=True)
            def m(self, k):
                return body(k)

        f = C().m
    first = start(f, Key(1))
    acquire(gate.computing, 1)
    others = [start(f, Key(1)) for _ in range(7)]
    acquire(matched, 7)  # each found the flight of an equal key, and waits on it
    gate.release.set()
    outcomes = join(first, *others)
    assert [o[0] for o in outcomes] == ["ok"] * 8
    assert len({id(o[1]) for o in outcomes}) == 1  # the one result, for all
    assert len(calls) == 1
    assert f.cache_info() == (7, 1, 128, 1)  # waiters count as hits


def test_keys_that_share_a_hash_each_compute_once_and_in_parallel(matched):
    # Three distinct keys with one hash: their flights share a slot. The
    # three computations run at once (the barrier needs all three inside),
    # and each key's waiters get that key's result.
    inside = threading.Barrier(3, timeout=TIMEOUT)
    gate = Gate()
    calls = []

    @boundcache.lru_cache(maxsize=None, lock=True)
    def f(k):
        calls.append(k.v)
        inside.wait()
        gate()
        return ("result", k.v, object())

    computing = [start(f, Key(v, h=0)) for v in range(3)]
    acquire(gate.computing, 3)
    waiting = [start(f, Key(v, h=0)) for v in range(3) for _ in range(2)]
    acquire(matched, 6)
    gate.release.set()
    firsts = [o[1] for o in join(*computing)]
    for i, (kind, result) in enumerate(join(*waiting)):
        assert kind == "ok" and result is firsts[i // 2]
    assert sorted(calls) == [0, 1, 2]
    assert f.cache_info() == (6, 3, None, 3)


def test_a_caller_whose_comparison_outlasts_the_computation_takes_its_outcome():
    # Comparing its key with a flight's runs user code, which may switch
    # threads: here the computation finishes, and drops its flight, while the
    # second caller is still comparing. That caller must take the outcome,
    # not wait for a computation that is over (it would wait forever).
    gate = Gate()
    comparing, finished = threading.Event(), threading.Event()

    class SlowEq(Key):
        __hash__ = Key.__hash__

        def __eq__(self, other):
            if not comparing.is_set():
                comparing.set()
                assert finished.wait(TIMEOUT), "never finished"
            return super().__eq__(other)

    @boundcache.lru_cache(lock=True)
    def f(k):
        gate()
        return object()

    first = start(f, SlowEq(1))
    acquire(gate.computing, 1)
    second = start(f, SlowEq(1))
    assert comparing.wait(TIMEOUT)
    gate.release.set()
    (computed,) = join(first)
    finished.set()
    (taken,) = join(second)
    assert taken == computed and computed[0] == "ok"
    assert f.cache_info() == (1, 1, 128, 1)


def test_flights_stay_found_while_others_finish_in_any_order(matched):
    # 24 keys in flight at once (the wrapper's map of flights grows to 64
    # slots), finished one by one in a shuffled order. After each finish,
    # a new caller of each key still computing finds its flight and waits:
    # removing flights never loses the others (each key computes once).
    n = 24
    inside = threading.Barrier(n + 1, timeout=TIMEOUT)
    release = [threading.Event() for _ in range(n)]
    calls = []

    @boundcache.lru_cache(maxsize=None, lock=True)
    def f(k):
        calls.append(k.v)
        inside.wait()
        assert release[k.v].wait(TIMEOUT), "never released"
        return ("result", k.v)

    computing = [start(f, Key(v)) for v in range(n)]
    inside.wait()
    order = list(range(n))
    random.Random(7).shuffle(order)
    waiting = []
    for done, v in enumerate(order):
        release[v].set()
        assert join(computing[v]) == [("ok", ("result", v))]
        still = order[done + 1 :]
        waiting += [(w, start(f, Key(w))) for w in still]
        acquire(matched, len(still))
    for w, t in waiting:
        assert join(t) == [("ok", ("result", w))]
    assert sorted(calls) == list(range(n))
    assert f.cache_info() == (len(waiting), n, None, n)


def test_different_keys_compute_in_parallel():
    inside = threading.Barrier(2, timeout=TIMEOUT)

    @boundcache.lru_cache(lock=True)
    def f(x):
        inside.wait()  # both must be in here at once, or this breaks
        return x

    assert join(start(f, 1), start(f, 2)) == [("ok", 1), ("ok", 2)]
    assert f.cache_info() == (0, 2, 128, 2)


def test_one_key_on_different_instances_computes_in_parallel():
    inside = threading.Barrier(2, timeout=TIMEOUT)

    class C:
        @boundcache.lru_cache(lock=True)
        def m(self, x):
            inside.wait()
            return (id(self), x)

    a, b = C(), C()
    assert join(start(a.m, 1), start(b.m, 1)) == [("ok", (id(a), 1)), ("ok", (id(b), 1))]
    assert C.m.cache_info() == (0, 2, 128, 2)


def test_with_key_one_key_on_different_instances_computes_once(matched):
    gate = Gate()
    calls = []

    class C:
        @boundcache.lru_cache(key=lambda self, k: k, lock=True)
        def m(self, k):
            calls.append(k)
            gate()
            return object()

    first = start(C().m, Key(1))
    acquire(gate.computing, 1)
    second = start(C().m, Key(1))  # another instance: the class-wide flight
    acquire(matched, 1)
    gate.release.set()
    (a, b) = join(first, second)
    assert a[1] is b[1] and len(calls) == 1
    assert C.m.cache_info() == (1, 1, 128, 1)


# ---- a computation that raises ----


def test_the_waiters_of_a_failed_flight_get_its_exception_and_the_next_call_recomputes(matched):
    gate = Gate()
    calls = []

    @boundcache.lru_cache(lock=True)
    def f(k):
        calls.append(k)
        gate()
        if len(calls) == 1:
            raise HostileError("first computation failed")
        return "second"

    first = start(f, Key(1))
    acquire(gate.computing, 1)
    waiters = [start(f, Key(1)) for _ in range(3)]
    acquire(matched, 3)
    gate.release.set()
    outcomes = join(first, *waiters)
    assert [o[0] for o in outcomes] == ["raised"] * 4
    errors = [o[1] for o in outcomes]
    assert all(e is errors[0] for e in errors)  # the same exception
    assert isinstance(errors[0], HostileError) and str(errors[0]) == "first computation failed"
    assert len(calls) == 1
    assert f.cache_info() == (0, 1, 128, 0)  # nothing cached, no hit counted
    assert f(Key(1)) == "second"  # the next call computes again
    assert f(Key(1)) == "second"
    assert len(calls) == 2
    assert f.cache_info() == (1, 2, 128, 1)


# ---- recursion ----


def test_a_deep_recursion_through_distinct_keys_computes_each_once():
    # Every level is in flight at once: 300 flights filed, then removed
    # innermost first.
    calls = []

    @boundcache.lru_cache(maxsize=None, lock=True)
    def depth(n):
        calls.append(n)
        return 0 if n == 0 else depth(n - 1) + 1

    with recursion_room(300):
        assert depth(300) == 300
    assert depth(300) == 300
    assert calls == list(range(300, -1, -1))
    assert depth.cache_info() == (1, 301, None, 301)


def test_a_recursive_call_with_the_same_key_raises_instead_of_deadlocking():
    @boundcache.lru_cache(lock=True)
    def f(n):
        return f(n)

    with pytest.raises(RuntimeError) as info:
        f(1)
    message = str(info.value)
    assert "called itself with the same arguments while computing them" in message
    assert "with lock=True the inner call would wait for the outer one forever" in message
    assert "Break the recursion, or drop lock=True" in message
    assert "test_a_recursive_call_with_the_same_key_raises_instead_of_deadlocking.<locals>.f" in message
    assert f.cache_info() == (0, 1, 128, 0)


def test_the_outer_call_may_catch_the_recursion_error():
    @boundcache.lru_cache(lock=True)
    def f(n):
        try:
            return ("inner", f(n))
        except RuntimeError:
            return "outer"

    assert f(1) == "outer"
    assert f(1) == "outer"  # cached
    assert f.cache_info() == (1, 1, 128, 1)


def test_recursion_with_other_keys_works():
    @boundcache.lru_cache(maxsize=None, lock=True)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    with recursion_room(200):
        assert fib(200) == 280571172992510140037611932413038677189525
    assert fib.cache_info() == (198, 201, None, 201)


def test_recursion_on_a_method_is_per_instance():
    class C:
        def __init__(self, peer=None):
            self.peer = peer

        @boundcache.lru_cache(lock=True)
        def m(self, x):
            if self.peer is not None:
                return ("via peer", self.peer.m(x))  # same key, another instance: fine
            return ("self", self.m(x))  # same key, same instance: refused

    with pytest.raises(RuntimeError, match="called itself with the same arguments"):
        C().m(1)
    with pytest.raises(RuntimeError, match="called itself with the same arguments"):
        C(C()).m(1)  # the peer's own recursion


# ---- lifetime: flights never hold the instance ----


@pytest.mark.parametrize("outcome", ["result", "exception", "recursion"])
def test_a_flight_never_keeps_its_instance_alive(outcome, no_gc):
    class C:
        @boundcache.lru_cache(lock=True)
        def m(self, k):
            if outcome == "exception":
                raise HostileError(self)
            if outcome == "recursion":
                return self.m(k)
            return k

    obj = C()
    wr = weakref.ref(obj)
    key = Key(1)
    key_ref = weakref.ref(key)
    try:
        obj.m(key)
    except (HostileError, RuntimeError):
        pass
    obj.m.cache_clear()
    del obj, key
    released()
    assert wr() is None
    released()
    assert key_ref() is None  # nor the key, once the entry is gone


def test_waiters_never_keep_the_instance_alive(matched, no_gc):
    gate = Gate()

    class C:
        @boundcache.lru_cache(lock=True)
        def m(self, k):
            gate()
            return [k]

    obj = C()
    wr = weakref.ref(obj)
    first = start(obj.m, Key(1))
    acquire(gate.computing, 1)
    second = start(obj.m, Key(1))
    acquire(matched, 1)
    gate.release.set()
    a, b = join(first, second)
    assert a[1] is b[1]
    del first, second, a, b
    del obj
    released()
    assert wr() is None


# ---- threads hammering ----


def test_threads_hammering_a_locked_cache_compute_each_key_once_per_residency(run_threads):
    nthreads, ncalls = 8, 2000
    computed = collections.Counter()
    count_lock = threading.Lock()

    class C:
        @boundcache.lru_cache(maxsize=None, lock=True)
        def m(self, x):
            with count_lock:
                computed[id(self), x] += 1
            return (id(self), x)

    objs = [C() for _ in range(3)]
    errors = []
    barrier = threading.Barrier(nthreads)

    def work(seed):
        rng = random.Random(seed)
        try:
            barrier.wait(TIMEOUT)
            for _ in range(ncalls):
                obj = rng.choice(objs)
                x = rng.randrange(30)
                assert obj.m(x) == (id(obj), x)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    run_threads(work, nthreads)
    assert not errors, errors[0]
    # Unbounded and never cleared: every key was computed exactly once.
    assert set(computed.values()) == {1}
    info = C.m.cache_info()
    assert info.misses == len(computed) == info.currsize
    assert info.hits + info.misses == nthreads * ncalls
