"""lru_cache(max_total=n): a bound on the entries one cached method holds
across all its live instances (on a function, on its one cache).

When a store takes the total past n, the least recently used entry of any
instance is evicted (hits refresh recency). Cls.m.cache_info().currsize is
the total. An instance that dies takes its entries out of the total.
"""

from __future__ import annotations

import collections
import functools
import random
import threading
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import boundcache
from cores import released

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TIMEOUT = 30  # seconds: only ever reached when something is broken


class Value:
    """Weak-referenceable, so that eviction can be observed."""

    def __init__(self, label):
        self.label = label

    def __eq__(self, other):
        return isinstance(other, Value) and other.label == self.label

    __hash__ = None

    def __repr__(self):
        return f"Value({self.label!r})"


def make_class(maxsize=None, max_total=4, **options):
    calls = []

    class C:
        def __init__(self, name):
            self.name = name

        @boundcache.lru_cache(maxsize=maxsize, max_total=max_total, **options)
        def m(self, x):
            calls.append((self.name, x))
            return Value((self.name, x))

    return C, calls


# ---- functions ----


@SETTINGS
@given(
    max_total=st.integers(1, 6),
    maxsize=st.sampled_from([None, 3, 8]),
    keys=st.lists(st.integers(0, 9), max_size=80),
)
def test_on_a_function_max_total_is_an_lru_bound(max_total, maxsize, keys):
    # The tighter of the two bounds acts as functools' maxsize.
    bound = max_total if maxsize is None else min(maxsize, max_total)
    calls_bc, calls_ref = [], []
    bc = boundcache.lru_cache(maxsize=maxsize, max_total=max_total)(lambda x: calls_bc.append(x) or x)
    ref = functools.lru_cache(maxsize=bound)(lambda x: calls_ref.append(x) or x)
    for step, x in enumerate(keys):
        assert bc(x) == ref(x)
        hits, misses, _, currsize = ref.cache_info()
        assert bc.cache_info() == (hits, misses, maxsize, currsize), step
        assert calls_bc == calls_ref, step


# ---- methods: one bound across instances ----


def test_the_least_recently_used_entry_of_any_instance_goes(no_gc):
    C, calls = make_class(max_total=4)
    a, b = C("a"), C("b")
    refs = {}
    for obj, x in [(a, 1), (a, 2), (b, 1), (b, 2)]:
        refs[obj.name, x] = weakref.ref(obj.m(x))
    assert C.m.cache_info() == (0, 4, None, 4)
    a.m(1)  # a hit: (a, 2) is now the least recently used
    b.m(3)  # the fifth entry evicts (a, 2), from another instance's cache
    released()
    assert refs["a", 2]() is None
    released()
    assert [r() is None for k, r in sorted(refs.items())] == [False, True, False, False]
    assert a.m.cache_info() == (1, 2, None, 1)
    assert b.m.cache_info() == (0, 3, None, 3)
    assert C.m.cache_info() == (1, 5, None, 4)
    a.m(2)  # computed again
    assert calls == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3), ("a", 2)]
    assert C.m.cache_info().currsize == 4


def test_a_dead_instance_takes_its_entries_out_of_the_total(no_gc):
    C, calls = make_class(max_total=4)
    a, b = C("a"), C("b")
    for x in range(3):
        a.m(x)
    b.m(0)
    wr = weakref.ref(a)
    del a
    released()
    assert wr() is None
    assert C.m.cache_info().currsize == 1
    for x in range(1, 4):
        b.m(x)  # room for three more: nothing of b's is evicted
    assert C.m.cache_info() == (0, 7, None, 4)
    for x in range(4):
        b.m(x)
    assert C.m.cache_info() == (4, 7, None, 4)
    assert len(calls) == 7


def test_churn_of_instances_never_exceeds_the_total(no_gc):
    C, _ = make_class(max_total=10)
    keep = []
    for i in range(200):
        obj = C(i)
        obj.m(0)
        obj.m(1)
        if i % 3 == 0:
            keep.append(obj)  # a third survive
        del obj
        released(1)  # (PyPy: a dropped instance's entries leave the total at the next collection)
        assert C.m.cache_info().currsize <= 10
    # The ten most recent entries were 199's, 198's (kept), 195's, 192's
    # and 189's (kept); 199's are gone.
    assert sum(o.m.cache_info().currsize for o in keep) == C.m.cache_info().currsize == 8
    assert [o.m.cache_info().currsize for o in keep[-5:]] == [0, 2, 2, 2, 2]


def test_both_bounds_together(no_gc):
    C, _ = make_class(maxsize=2, max_total=5)
    a, b, c = C("a"), C("b"), C("c")
    for x in range(3):
        a.m(x)  # the per-instance bound evicts a's own oldest
    assert a.m.cache_info().currsize == 2
    for obj in (b, c):
        obj.m(0)
        obj.m(1)
    # 6 entries wanted, 5 allowed: a's oldest remaining entry, (a, 1), went
    assert [o.m.cache_info().currsize for o in (a, b, c)] == [1, 2, 2]
    assert C.m.cache_info() == (0, 7, 2, 5)
    a.m(2)
    assert C.m.cache_info().hits == 1


def test_cache_clear_on_an_instance_and_on_the_class_keep_the_total_right(no_gc):
    C, _ = make_class(max_total=3)
    a, b = C("a"), C("b")
    a.m(1)
    a.m(2)
    b.m(1)
    a.m.cache_clear()
    assert C.m.cache_info().currsize == 1
    b.m(2)
    b.m(3)  # three of b's entries fit now
    assert b.m.cache_info().currsize == 3
    C.m.cache_clear()
    assert C.m.cache_info() == (0, 0, None, 0)
    for x in range(3):
        a.m(x)
    for x in range(3):
        a.m(x)
    assert C.m.cache_info() == (3, 3, None, 3)


def test_the_wrapper_dying_before_its_instances(no_gc):
    C, _ = make_class(max_total=3)
    objs = [C(i) for i in range(3)]
    for obj in objs:
        obj.m(1)
    wrapper = weakref.ref(C.__dict__["m"])
    del C.m  # the wrapper dies; the instances' caches are emptied and detached
    released()
    assert wrapper() is None
    refs = [weakref.ref(o) for o in objs]
    del objs, obj
    released()
    assert [r() for r in refs] == [None, None, None]


def test_evicted_values_are_freed_at_once(no_gc):
    C, _ = make_class(max_total=1)
    a, b = C("a"), C("b")
    first = weakref.ref(a.m(1))
    b.m(1)
    released()
    assert first() is None
    assert (a.m.cache_info().currsize, b.m.cache_info().currsize) == (0, 1)


def test_max_total_with_ttl_and_lock():
    now = [0.0]
    C, _ = make_class(max_total=2, ttl=10, timer=lambda: now[0], lock=True)
    a, b = C("a"), C("b")
    a.m(1)
    b.m(1)
    now[0] = 11  # both expired; expired entries still count until dropped
    a.m(2)  # the total evicts the least recently used: (a, 1)
    assert a.m.cache_info().currsize == 1
    assert C.m.cache_info().currsize == 1  # cache_info() dropped (b, 1)
    b.m(2)
    assert C.m.cache_info() == (0, 4, None, 2)


# ---- model: one LRU list across instances ----

total_op = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 3), st.integers(0, 4)),
    st.tuples(st.just("new")),
    st.tuples(st.just("del"), st.integers(0, 3)),
    st.tuples(st.just("clear"), st.integers(0, 3)),
    st.tuples(st.just("clear_all")),
)


class TotalModel:
    """Entries as (label, key) in one OrderedDict, least recently used first.
    A store first applies the instance's own maxsize (its own least recently
    used entry goes), then max_total (anyone's goes)."""

    def __init__(self, maxsize, max_total):
        self.maxsize, self.max_total = maxsize, max_total
        self.entries = collections.OrderedDict()
        self.stats = {}  # label -> [hits, misses] since its last clear
        self.sums = [0, 0]  # the class-wide sums
        self.calls = 0

    def call(self, label, x):
        stats = self.stats.setdefault(label, [0, 0])
        if (label, x) in self.entries:
            self.entries.move_to_end((label, x))
            stats[0] += 1
            self.sums[0] += 1
            return self.entries[label, x]
        stats[1] += 1
        self.sums[1] += 1
        self.calls += 1
        mine = [k for k in self.entries if k[0] == label]
        if self.maxsize is not None and len(mine) >= self.maxsize:
            del self.entries[mine[0]]
        self.entries[label, x] = Value((label, x, self.calls))
        if len(self.entries) > self.max_total:
            self.entries.popitem(last=False)  # never the new entry: it is the most recent
        return self.entries[label, x]

    def drop(self, label):
        for k in [k for k in self.entries if k[0] == label]:
            del self.entries[k]

    def info(self, label):
        hits, misses = self.stats.get(label, (0, 0))
        return (hits, misses, self.maxsize, sum(k[0] == label for k in self.entries))


@SETTINGS
@given(
    maxsize=st.sampled_from([None, 1, 2, 3]),
    max_total=st.integers(1, 6),
    ops=st.lists(total_op, max_size=60),
)
def test_max_total_matches_a_model_of_one_lru_across_instances(maxsize, max_total, ops):
    calls = []

    class C:
        def __init__(self, label):
            self.label = label

        @boundcache.lru_cache(maxsize=maxsize, max_total=max_total)
        def m(self, x):
            calls.append((self.label, x))
            return Value((self.label, x, len(calls)))

    model = TotalModel(maxsize, max_total)
    live = [C(0)]
    labels = iter(range(1, 10**6))
    for step, o in enumerate(ops):
        kind = o[0]
        if kind == "new":
            live.append(C(next(labels)))
        elif kind == "call" and live:
            obj = live[o[1] % len(live)]
            assert obj.m(o[2]) == model.call(obj.label, o[2]), (step, o)
        elif kind == "del" and live:
            obj = live.pop(o[1] % len(live))
            model.drop(obj.label)
            obj = None
            released(1)  # (PyPy: its entries leave the total at the next collection)
        elif kind == "clear" and live:
            obj = live[o[1] % len(live)]
            obj.m.cache_clear()
            model.drop(obj.label)
            model.stats.pop(obj.label, None)
        elif kind == "clear_all":
            C.m.cache_clear()
            model.entries.clear()
            model.stats.clear()
            model.sums = [0, 0]
        obj = None
        assert len(calls) == model.calls, (step, o)
        for obj in live:
            assert tuple(obj.m.cache_info()) == model.info(obj.label), (step, o)
        obj = None
        assert tuple(C.m.cache_info()) == (*model.sums, maxsize, len(model.entries)), (step, o)


# ---- threads ----


def test_threads_hammering_a_shared_total_keep_cache_info_consistent(run_threads):
    nthreads, ncalls, max_total = 4, 3000, 12
    C, _ = make_class(maxsize=5, max_total=max_total)
    objs = [C(i) for i in range(6)]
    errors = []
    barrier = threading.Barrier(nthreads)

    def work(seed):
        rng = random.Random(seed)
        try:
            barrier.wait(TIMEOUT)
            for _ in range(ncalls):
                obj = rng.choice(objs)
                x = rng.randrange(8)
                assert obj.m(x) == Value((obj.name, x))
                if rng.random() < 0.02:
                    assert C.m.cache_info().currsize <= max_total
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    run_threads(work, nthreads)
    assert not errors, errors[0]
    info = C.m.cache_info()
    assert info.hits + info.misses == nthreads * ncalls
    assert info.currsize == max_total  # full, never more
    assert sum(o.m.cache_info().currsize for o in objs) == max_total
    assert all(o.m.cache_info().currsize <= 5 for o in objs)


@pytest.mark.parametrize("lock", [False, True])
def test_threads_creating_and_dropping_instances_under_a_total(lock):
    nthreads, rounds, max_total = 4, 400, 8
    C, _ = make_class(maxsize=None, max_total=max_total, lock=lock)
    errors = []
    barrier = threading.Barrier(nthreads)
    survivors = []

    def work(seed):
        rng = random.Random(seed)
        try:
            barrier.wait(TIMEOUT)
            for i in range(rounds):
                obj = C((seed, i))
                for x in rng.sample(range(6), 3):
                    assert obj.m(x) == Value(((seed, i), x))
                if i % 50 == 0:
                    survivors.append(obj)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    released()  # (PyPy: the dropped instances' entries leave the total at the next collection)
    info = C.m.cache_info()
    assert info.hits + info.misses == nthreads * rounds * 3
    assert info.currsize == sum(o.m.cache_info().currsize for o in survivors) <= max_total
