"""lru_cache(ttl=..., timer=...): entries expire ttl seconds after they were stored.

Every test runs on a fake clock (a timer= the test advances by hand), never
on wall time. The rules: the deadline is the timer's reading when the result
is stored, plus ttl; an entry whose deadline is not after now is never
returned; expired entries are dropped lazily, when looked up (that call is a
miss), before an unbounded table grows, and by cache_info(), so that
currsize counts live entries only; a full bounded table evicts its least
recently used entry as usual.
"""

from __future__ import annotations

import collections
import fractions
import itertools
import math
import random
import threading
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import boundcache
from cores import released

TIMEOUT = 30  # seconds: only ever reached when something is broken


class FakeClock:
    """timer=: returns .now, which the test sets; counts its readings."""

    def __init__(self, now=0.0):
        self.now = now
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.now


# ---- the timer is user code ----


def test_class_cache_info_survives_a_timer_that_frees_instances(no_gc):
    # Regression: Cls.m.cache_info() read the timer once per instance cache,
    # inside its walk over them. A timer that dropped the last reference to
    # the instance being visited freed its cache under the walk
    # (ASan: heap-use-after-free in Table::purge_expired; a release build
    # looped forever). The clock is now read once, before the walk.
    clock = FakeClock()
    victims = []

    def timer():
        if victims:
            victims.pop()
        return clock()

    class C:
        @boundcache.lru_cache(ttl=10, timer=timer)
        def m(self, x):
            return x

    objs = [C() for _ in range(4)]
    refs = [weakref.ref(o) for o in objs]
    for o in objs:
        o.m(1)
        o.m(2)
    victims.extend(objs)
    del objs, o
    for alive in (3, 2, 1, 0):  # the timer frees an instance at each reading
        info = C.m.cache_info()
        # (PyPy frees it at the next collection: until then it is counted)
        unfreed = sum(r() is not None for r in refs)
        assert info == (0, 8, 128, 2 * unfreed)
        released()
        assert sum(r() is not None for r in refs) == alive
    victims.extend([C(), C()])
    clock.now = 10  # everything expired, and the timer frees while purging
    assert C.m.cache_info() == (0, 8, 128, 0)


def test_a_timer_that_raises_fails_the_call_and_caches_nothing():
    clock = FakeClock()
    fail_at = [0]

    def timer():
        if clock.reads + 1 == fail_at[0]:
            clock.reads += 1
            raise OSError("clock unavailable")
        return clock()

    calls = []

    @boundcache.lru_cache(ttl=10, timer=timer)
    def f(x):
        calls.append(x)
        return x * 2

    fail_at[0] = clock.reads + 1  # the reading before the lookup
    with pytest.raises(OSError, match="clock unavailable"):
        f(1)
    assert calls == [] and f.cache_info() == (0, 0, 128, 0)
    fail_at[0] = clock.reads + 2  # the reading that stores the result
    with pytest.raises(OSError, match="clock unavailable"):
        f(1)
    assert calls == [1] and f.cache_info() == (0, 1, 128, 0)  # ran, not kept
    assert f(1) == 2 and f(1) == 2  # the clock works again
    assert calls == [1, 1] and f.cache_info() == (1, 2, 128, 1)
    fail_at[0] = clock.reads + 1  # cache_info() reads it too, and reports the error
    with pytest.raises(OSError, match="clock unavailable"):
        f.cache_info()
    assert f.cache_info() == (1, 2, 128, 1)


@pytest.mark.parametrize("reading", ["12", None, [1.0], object(), 1j])
def test_a_timer_that_returns_no_number_is_a_clear_type_error(reading):
    @boundcache.lru_cache(ttl=10, timer=lambda: reading)
    def f(x):
        return x

    with pytest.raises(TypeError, match=r"timer= must return a number of seconds, not " + type(reading).__name__):
        f(1)
    with pytest.raises(TypeError, match="timer= must return a number of seconds"):
        f.cache_info()


@pytest.mark.parametrize("reading", [math.nan, -math.nan, math.inf, -math.inf])
def test_a_timer_that_returns_no_finite_number_is_refused(reading):
    # Regression: NaN was accepted (no entry ever hit, and expired ones were
    # never purged, yet counted). An infinity is as broken: every deadline
    # would be inf, never after now.
    calls = []

    @boundcache.lru_cache(ttl=10, timer=lambda: reading)
    def f(x):
        calls.append(x)
        return x

    for call in (lambda: f(1), f.cache_info):
        with pytest.raises(ValueError, match=f"timer= returned {reading!r}; it must return a finite number"):
            call()
    assert calls == []


class Boom(Exception):
    pass


class Reading:
    """A timer reading whose conversion to float raises `error`."""

    def __init__(self, error):
        self.error = error

    def __float__(self):
        raise self.error


@pytest.mark.parametrize(
    "make_reading, error",
    [
        (lambda: Reading(KeyboardInterrupt()), KeyboardInterrupt),
        (lambda: Reading(Boom("no float")), Boom),
        (lambda: Reading(TypeError("__float__ refused")), TypeError),
        (lambda: 10**400, OverflowError),  # an int too large for a float
    ],
    ids=["KeyboardInterrupt", "own-error", "TypeError", "huge-int"],
)
def test_errors_converting_the_timer_reading_propagate_unchanged(make_reading, error):
    # Regression: every error raised by the conversion, KeyboardInterrupt
    # included, became a TypeError saying the timer returned no number.
    readings = []

    def timer():
        readings.append(make_reading())
        return readings[-1]

    @boundcache.lru_cache(ttl=10, timer=timer)
    def f(x):
        return x

    for call in (lambda: f(1), f.cache_info):
        with pytest.raises(error) as info:
            call()
        assert "must return a number of seconds" not in str(info.value)
        if isinstance(readings[-1], Reading):
            assert info.value is readings[-1].error


@pytest.mark.parametrize("reading", [3, 3.0, fractions.Fraction(7, 2), True])
def test_a_timer_may_return_any_real_number(reading):
    clock = [reading]

    @boundcache.lru_cache(ttl=1, timer=lambda: clock[0])
    def f(x):
        return object()

    first = f(1)
    assert f(1) is first
    clock[0] = reading + 1
    assert f(1) is not first


def test_a_timer_that_reenters_the_cache():
    # The timer is read before the lookup and again when the result is
    # stored; each time it calls the cache itself, with another key and with
    # the very key being computed.
    clock = FakeClock()
    inside = []
    keys = itertools.cycle([2, 1, 3, 1, 2, 4, 1])

    def timer():
        if not inside:
            inside.append(True)
            try:
                f(next(keys))
            finally:
                inside.pop()
        return clock()

    calls = []

    @boundcache.lru_cache(maxsize=3, ttl=5, timer=timer)
    def f(x):
        calls.append(x)
        return ("result", x)

    for step in range(30):
        x = step % 5
        assert f(x) == ("result", x)
        info = f.cache_info()
        assert info.currsize <= 3
        assert info.misses == len(calls)
        if step % 7 == 6:
            clock.now += 3
    assert sorted(set(calls)) == [0, 1, 2, 3, 4]


# ---- expiry ----


def test_an_entry_expires_ttl_seconds_after_it_was_stored():
    clock = FakeClock(100.0)
    calls = []

    @boundcache.lru_cache(ttl=10, timer=clock)
    def f(x):
        calls.append(x)
        return [x, len(calls)]

    first = f(1)
    for now in (100.0, 105.0, 109.999):
        clock.now = now
        assert f(1) is first  # hits do not extend the deadline
    assert f.cache_info() == (3, 1, 128, 1)
    clock.now = 110.0  # the deadline itself: expired
    second = f(1)
    assert second == [1, 2] and second is not first
    assert f.cache_info() == (3, 2, 128, 1)
    clock.now = 119.5
    assert f(1) is second
    clock.now = 10**6
    assert f(1) == [1, 3]


def test_the_deadline_is_read_when_the_result_is_stored():
    clock = FakeClock(0.0)

    @boundcache.lru_cache(ttl=10, timer=clock)
    def slow(x):
        clock.now += 7  # the computation takes 7 seconds
        return object()

    r = slow(1)  # looked up at 0, stored at 7
    clock.now = 16.9
    assert slow(1) is r
    clock.now = 17.0
    assert slow(1) is not r


def test_expired_entries_are_never_returned():
    clock = FakeClock()

    @boundcache.lru_cache(maxsize=None, ttl=3, timer=clock)
    def f(x):
        return (x, clock.now)  # when it was computed

    for t in range(12):
        clock.now = t
        for x in range(4):
            _, computed_at = f(x)
            assert t - 3 < computed_at <= t
    info = f.cache_info()
    assert info.hits == 2 * info.misses  # each result served for 3 seconds


def test_a_lookup_of_an_expired_entry_drops_it_and_is_a_miss(no_gc):
    clock = FakeClock()

    class Value:
        pass

    @boundcache.lru_cache(maxsize=None, ttl=1, timer=clock)
    def f(x):
        return Value()

    old = weakref.ref(f(1))
    f(2)
    clock.now = 5
    new = f(1)  # the expired entry is dropped, its value with it
    released()
    assert old() is None and new is not None
    assert f.cache_info().misses == 3
    # The other expired entry is still held until something drops it.
    assert f.cache_info() == (0, 3, None, 1)  # cache_info() did


def test_cache_info_counts_live_entries_only_and_frees_expired_values(no_gc):
    clock = FakeClock()

    class Value:
        pass

    @boundcache.lru_cache(maxsize=10, ttl=5, timer=clock)
    def f(x):
        return Value()

    refs = []
    for x in range(6):
        clock.now = x
        refs.append(weakref.ref(f(x)))  # deadlines 5, 6, ..., 10
    clock.now = 7.5
    assert f.cache_info() == (0, 6, 10, 3)
    released()
    assert [r() is None for r in refs] == [True, True, True, False, False, False]
    clock.now = 100
    assert f.cache_info() == (0, 6, 10, 0)
    released()
    assert all(r() is None for r in refs)


def test_an_unbounded_table_drops_expired_entries_before_it_grows(no_gc):
    # Keys never asked for again must not pile up: with every earlier entry
    # expired, the table stays small without any lookup or cache_info().
    clock = FakeClock()

    class Value:
        pass

    @boundcache.lru_cache(maxsize=None, ttl=1, timer=clock)
    def f(x):
        return Value()

    refs = []
    for x in range(2000):
        clock.now = 2 * x  # the previous entry has expired
        refs.append(weakref.ref(f(x)))
    released()
    alive = sum(r() is not None for r in refs)
    assert alive <= 64, f"{alive} expired values still held"
    assert refs[-1]() is not None  # the live one stays
    assert f.cache_info() == (0, 2000, None, 1)


def test_an_unbounded_table_keeps_its_live_entries_while_purging():
    clock = FakeClock()

    @boundcache.lru_cache(maxsize=None, ttl=50, timer=clock)
    def f(x):
        return ("v", x)

    for x in range(500):
        clock.now = x  # entries older than 50 expire as the table grows
        assert f(x) == ("v", x)
    hits_before = f.cache_info().hits
    for x in range(450, 500):  # stored at 450 or later: live at 499
        assert f(x) == ("v", x)
    assert f.cache_info().hits == hits_before + 50
    assert f.cache_info().currsize == 50


def test_a_full_bounded_table_evicts_its_least_recently_used_entry_as_usual():
    clock = FakeClock()
    calls = []

    @boundcache.lru_cache(maxsize=2, ttl=10, timer=clock)
    def f(x):
        calls.append(x)
        return x

    f(1)  # deadline 10
    clock.now = 1
    f(2)  # deadline 11
    clock.now = 2
    f(1)  # a hit: 2 is now the least recently used, though it lives longer
    clock.now = 10.5  # 1 has expired, 2 has not
    f(3)  # full: evicts 2, the least recently used, not the expired 1
    assert calls == [1, 2, 3]
    f(2)
    assert calls == [1, 2, 3, 2]
    clock.now = 10.75
    assert f.cache_info() == (1, 4, 2, 2)


@pytest.mark.parametrize("ttl", [math.inf, 1e300])
def test_a_ttl_beyond_any_clock_never_expires(ttl):
    clock = FakeClock()

    @boundcache.lru_cache(ttl=ttl, timer=clock)
    def f(x):
        return object()

    r = f(1)
    clock.now = 1e250
    assert f(1) is r


def test_the_default_clock_is_monotonic_and_read_without_a_python_call():
    # No fake clock here: with a ttl of a day nothing expires during a test.
    calls = []

    @boundcache.lru_cache(ttl=86400)
    def f(x):
        calls.append(x)
        return x

    assert [f(1), f(1), f(2), f(1)] == [1, 1, 2, 1]
    assert calls == [1, 2]
    assert f.cache_info() == (2, 2, 128, 2)
    assert f.cache_parameters()["timer"] is None


# ---- methods: one ttl cache per instance ----


def test_per_instance_caches_expire_independently():
    clock = FakeClock()

    class C:
        def __init__(self, name):
            self.name = name

        @boundcache.lru_cache(ttl=10, timer=clock)
        def m(self, x):
            return (self.name, x, clock.now)

    a, b = C("a"), C("b")
    a.m(1)
    clock.now = 5
    b.m(1)
    clock.now = 12  # a's entry has expired, b's has not
    assert a.m.cache_info() == (0, 1, 128, 0)
    assert b.m.cache_info() == (0, 1, 128, 1)
    assert C.m.cache_info() == (0, 2, 128, 1)
    assert b.m(1) == ("b", 1, 5)
    assert a.m(1) == ("a", 1, 12)
    assert C.m.cache_info() == (1, 3, 128, 2)


def test_class_cache_info_purges_every_live_instance(no_gc):
    clock = FakeClock()

    class Value:
        pass

    class C:
        @boundcache.lru_cache(maxsize=None, ttl=10, timer=clock)
        def m(self, x):
            return Value()

    objs = [C() for _ in range(5)]
    refs = []
    for i, obj in enumerate(objs):
        clock.now = i
        refs += [weakref.ref(obj.m(1)), weakref.ref(obj.m(2))]
    clock.now = 12.5  # the first three instances' entries have expired
    assert C.m.cache_info() == (0, 10, None, 4)
    released()
    assert [r() is None for r in refs] == [True] * 6 + [False] * 4
    assert [o.m.cache_info().currsize for o in objs] == [0, 0, 0, 2, 2]


def test_ttl_caches_are_freed_with_their_instance(no_gc):
    clock = FakeClock()

    class Value:
        pass

    class C:
        @boundcache.lru_cache(maxsize=None, ttl=10, timer=clock)
        def m(self, x):
            return Value()

    obj = C()
    values = [weakref.ref(obj.m(x)) for x in range(20)]
    wr = weakref.ref(obj)
    assert C.m.cache_info().currsize == 20
    del obj
    released()
    assert wr() is None
    released()
    assert all(v() is None for v in values)
    assert C.m.cache_info() == (0, 20, None, 0)
    assert C.m._owner_caches == 0


def test_cache_clear_on_the_class_and_on_an_instance():
    clock = FakeClock()

    class C:
        @boundcache.lru_cache(ttl=10, timer=clock)
        def m(self, x):
            return x

    a, b = C(), C()
    for obj in (a, b):
        obj.m(1)
        obj.m(1)
    a.m.cache_clear()
    assert a.m.cache_info() == (0, 0, 128, 0)
    assert b.m.cache_info() == (1, 1, 128, 1)
    assert C.m.cache_info() == (2, 2, 128, 1)  # a's counts stay in the class sums
    a.m(1)
    C.m.cache_clear()
    assert C.m.cache_info() == (0, 0, 128, 0)
    assert b.m.cache_info() == (0, 0, 128, 0)
    b.m(1)
    clock.now = 20
    b.m(1)  # expired after the clear too
    assert b.m.cache_info() == (0, 2, 128, 1)


# ---- model: per-entry deadlines on a fake clock ----

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class TtlModel:
    """What lru_cache(maxsize, ttl, max_total) on a function must do, in a
    few lines: an ordered dict, least recently used first, of
    key -> (value, deadline); an entry lives while its deadline is after now.
    Expired entries stay (and still take room and recency) until a lookup of
    their key or cache_info() drops them.

    Only sizes where the unbounded table's purge before growing cannot be
    seen are modelled: max_total, when given to an unbounded table, is at
    most 4, below the table's first capacity."""

    def __init__(self, maxsize, ttl, max_total, clock):
        self.maxsize, self.ttl, self.max_total, self.clock = maxsize, ttl, max_total, clock
        self.entries = collections.OrderedDict()
        self.hits = self.misses = self.calls = 0

    def call(self, x, takes):
        now = self.clock.now
        if x in self.entries:
            value, deadline = self.entries[x]
            if deadline > now:
                self.hits += 1
                self.entries.move_to_end(x)
                return value
            del self.entries[x]
        self.misses += 1
        self.calls += 1
        value = ("result", x, self.calls)
        self.clock.now += takes
        if self.maxsize is not None and len(self.entries) >= self.maxsize:
            self.entries.popitem(last=False)
        self.entries[x] = (value, self.clock.now + self.ttl)
        if self.max_total is not None and len(self.entries) > self.max_total:
            self.entries.popitem(last=False)
        return value

    def cache_info(self):
        now = self.clock.now
        for x in [x for x, (_, deadline) in self.entries.items() if deadline <= now]:
            del self.entries[x]
        return (self.hits, self.misses, self.maxsize, len(self.entries))

    def clear(self):
        self.entries.clear()
        self.hits = self.misses = 0


ttl_op = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 5), st.sampled_from([0, 0, 1, 3])),
    st.tuples(st.just("tick"), st.sampled_from([0, 1, 2, 5, 13])),
    st.just(("info",)),
    st.just(("clear",)),
)


unbounded_totals = st.sampled_from([None, 1, 2, 4])
bounded_totals = st.sampled_from([None, 1, 2, 3, 8])
maxsizes = st.sampled_from([None, 1, 2, 3, 5])
ttls = st.sampled_from([1, 2, 5, 10])


@st.composite
def ttl_setup(draw):
    maxsize = draw(maxsizes)
    max_total = draw(unbounded_totals if maxsize is None else bounded_totals)
    return maxsize, draw(ttls), max_total


@SETTINGS
@given(setup=ttl_setup(), lock=st.booleans(), ops=st.lists(ttl_op, max_size=60))
def test_expiry_matches_a_model_of_per_entry_deadlines(setup, lock, ops):
    maxsize, ttl, max_total = setup
    clock = FakeClock()
    model_clock = FakeClock()
    model = TtlModel(maxsize, ttl, max_total, model_clock)
    calls = []

    @boundcache.lru_cache(maxsize=maxsize, ttl=ttl, timer=clock, max_total=max_total, lock=lock)
    def f(x):
        calls.append(x)
        clock.now += takes[0]  # the computation takes that long
        return ("result", x, len(calls))

    takes = [0]
    for step, o in enumerate(ops):
        if o[0] == "call":
            takes[0] = o[2]
            assert f(o[1]) == model.call(o[1], o[2]), (step, o)
            assert clock.now == model_clock.now
        elif o[0] == "tick":
            clock.now += o[1]
            model_clock.now += o[1]
        elif o[0] == "info":
            assert tuple(f.cache_info()) == model.cache_info(), (step, o)
        else:
            f.cache_clear()
            model.clear()
        assert len(calls) == model.calls, (step, o)
    assert tuple(f.cache_info()) == model.cache_info()


# ---- threads ----


def test_threads_hammering_a_ttl_cache_keep_cache_info_consistent(run_threads):
    lock = threading.Lock()
    clock = FakeClock()
    nthreads, ncalls = 4, 3000

    def timer():
        with lock:
            clock.now += 0.01  # the clock moves on every reading
            return clock.now

    class C:
        @boundcache.lru_cache(maxsize=16, ttl=2, timer=timer)
        def m(self, x):
            return (id(self), x)

    @boundcache.lru_cache(maxsize=None, ttl=2, timer=timer)
    def f(x):
        return ("f", x)

    shared = C()
    errors = []
    barrier = threading.Barrier(nthreads)

    def work(seed):
        rng = random.Random(seed)
        try:
            barrier.wait(TIMEOUT)
            for _ in range(ncalls):
                x = rng.randrange(40)
                assert shared.m(x) == (id(shared), x)
                assert f(x) == ("f", x)
                if rng.random() < 0.01:
                    info = C.m.cache_info()
                    assert info.currsize <= 16
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    run_threads(work, nthreads)
    assert not errors, errors[0]
    for info in (shared.m.cache_info(), f.cache_info()):
        assert info.hits + info.misses == nthreads * ncalls
        assert info.misses >= 40
    assert shared.m.cache_info().currsize <= 16
