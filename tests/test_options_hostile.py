"""Hostile keys through the options path (options.cpp's vectorcall).

The options add user code, and reach into other tables, in places the core
does not: the timer and the key function run around the lookup; max_total
evicts from other instances' tables, which may be suspended in a lookup
(an __eq__ that called the cache of another instance); lock=True keeps
flights by key. Explicit cases first, then hypothesis scenarios checked
against invariants, as tests/hardening/test_hostile_keys.py does for the
core: no crash; every call returns its own key's result or the hostile
key's own exception; misses equal the executions; currsize within maxsize
and max_total; nothing is left alive at the end.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import boundcache
from cores import examples, released

SETTINGS = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class HostileError(Exception):
    pass


class Collide:
    """All instances share one hash; equal by value."""

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        return 99

    def __eq__(self, other):
        return isinstance(other, Collide) and other.v == self.v

    def __repr__(self):
        return f"Collide({self.v})"


class Hooked(Collide):
    """A Collide whose `on_eq` runs at its first comparison. Being a
    subclass with its own __eq__, it is asked first whichever side of the
    comparison it is on (stored keys are compared on the left)."""

    def __init__(self, v, on_eq):
        super().__init__(v)
        self.on_eq = on_eq

    __hash__ = Collide.__hash__

    def __eq__(self, other):
        hook, self.on_eq = self.on_eq, None
        if hook is not None:
            hook()
        return super().__eq__(other)


OPTIONS = [
    {"ttl": 100, "timer": lambda: 0.0},
    {"max_total": 50},
    {"lock": True},
    {"ttl": 100, "timer": lambda: 0.0, "max_total": 50, "lock": True},
]


def method_class(maxsize=None, **options):
    calls = []

    class C:
        def __init__(self, name):
            self.name = name

        @boundcache.lru_cache(maxsize=maxsize, **options)
        def m(self, k):
            calls.append((self.name, k.v))
            return ("result", self.name, k.v)

    return C, calls


# ---- __eq__ that re-enters, clears, evicts ----


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_an_eq_that_calls_the_same_cache_during_the_lookup(options):
    C, calls = method_class(**options)
    a, b = C("a"), C("b")
    for v in range(3):
        a.m(Collide(v))

    def reenter():
        assert a.m(Collide(7)) == ("result", "a", 7)  # the same table, mid-lookup
        assert b.m(Collide(0)) == ("result", "b", 0)

    assert a.m(Hooked(5, on_eq=reenter)) == ("result", "a", 5)
    assert a.m(Collide(5)) == ("result", "a", 5)  # a hit now
    assert a.m.cache_info() == (1, 5, None, 5)
    assert len(calls) == 6


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
@pytest.mark.parametrize("clear", ["instance", "class"])
def test_an_eq_that_clears_the_cache_during_the_lookup(options, clear):
    C, _ = method_class(**options)
    a = C("a")
    for v in range(3):
        a.m(Collide(v))

    def wipe():
        (a.m if clear == "instance" else C.m).cache_clear()

    assert a.m(Hooked(2, on_eq=wipe)) == ("result", "a", 2)  # found, or computed again
    assert a.m.cache_info().currsize == 1
    assert a.m(Collide(2)) == ("result", "a", 2)


@pytest.mark.parametrize("lock", [False, True])
@pytest.mark.parametrize("ttl", [None, 100])
def test_an_eq_that_evicts_the_table_it_is_compared_in_under_max_total(lock, ttl, no_gc):
    # a's lookup compares against a's stored keys; the first comparison
    # fills b's cache, and max_total evicts every entry of a, the one being
    # compared included. The lookup must start over, not read freed memory.
    extra = {"ttl": ttl, "timer": lambda: 0.0} if ttl else {}
    C, _ = method_class(max_total=4, lock=lock, **extra)
    a, b = C("a"), C("b")
    stored = [Collide(v) for v in range(4)]
    refs = [weakref.ref(k) for k in stored]
    for k in stored:
        a.m(k)
    del stored, k

    def fill_b():
        for v in range(10, 14):
            b.m(Collide(v))

    assert a.m(Hooked(3, on_eq=fill_b)) == ("result", "a", 3)
    released()
    assert [r() for r in refs] == [None] * 4  # a's old keys were all evicted and freed
    assert a.m.cache_info().currsize == 1
    assert b.m.cache_info().currsize == 3
    assert C.m.cache_info().currsize == 4
    assert a.m(Collide(3)) == ("result", "a", 3)
    assert a.m.cache_info() == (1, 5, None, 1)


def test_an_eq_that_drops_the_instance_it_is_looked_up_in(no_gc):
    # Under max_total the dying instance's entries leave the shared total
    # while its lookup is suspended; the call holds the instance, so it
    # completes, and the instance goes right after.
    C, _ = method_class(max_total=3)
    holder = [C("a")]
    a_ref = weakref.ref(holder[0])
    for v in range(3):
        holder[0].m(Collide(v))
    b = C("b")

    def drop():
        holder.clear()
        b.m(Collide(20))

    assert holder[0].m(Hooked(1, on_eq=drop)) == ("result", "a", 1)
    released()
    assert a_ref() is None
    assert C.m.cache_info().currsize == 1  # b's entry only


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_a_hash_that_raises_propagates_and_counts_nothing(options):
    class BadHash:
        def __hash__(self):
            raise HostileError("__hash__")

    C, calls = method_class(**options)
    a = C("a")
    with pytest.raises(HostileError):
        a.m(BadHash())
    assert a.m.cache_info() == (0, 0, None, 0) and calls == []
    assert a.m(Collide(1)) == ("result", "a", 1)


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_an_eq_that_raises_propagates(options):
    C, _ = method_class(**options)
    a = C("a")
    a.m(Collide(1))

    def boom():
        raise HostileError("__eq__")

    with pytest.raises(HostileError):
        a.m(Hooked(2, on_eq=boom))
    assert a.m.cache_info() == (0, 1, None, 1)
    assert a.m(Collide(2)) == ("result", "a", 2)


def test_a_key_function_whose_keys_are_hostile():
    calls = []

    @boundcache.lru_cache(maxsize=2, key=lambda k: k, max_total=2, lock=True)
    def f(k):
        calls.append(k.v)
        return k.v

    f(Collide(1))
    f(Collide(2))
    assert f(Hooked(3, on_eq=lambda: f.cache_clear())) == 3  # clears mid-lookup
    f(Collide(6))
    assert f(Hooked(4, on_eq=lambda: f(Collide(5)))) == 4  # stores (and evicts) mid-lookup
    assert calls == [1, 2, 3, 6, 5, 4]
    assert f.cache_info() == (0, 4, 2, 2)  # counted since the clear


def test_a_key_function_that_reenters_and_clears():
    calls = []
    budget = [3]

    def key(x):
        if budget[0] > 0:
            budget[0] -= 1
            f(x + 1)
            f.cache_clear()
        return x

    @boundcache.lru_cache(maxsize=None, key=key, max_total=3, ttl=10, timer=lambda: 0.0, lock=True)
    def f(x):
        calls.append(x)
        return x * 10

    assert [f(1), f(1), f(2)] == [10, 10, 20]
    assert f.cache_info().currsize <= 3


# ---- finalizers of the values the options drop ----


def test_an_expired_value_whose_finalizer_stores_the_key_again(no_gc):
    # Dropping the expired entry frees its value, whose __del__ calls the
    # cache with the same key: the outer call then finds that fresh entry.
    now = [0.0]
    calls = []

    class Value:
        def __init__(self, x, n):
            self.x, self.n = x, n

        def __del__(self):
            if self.n == 1:
                f(self.x)

    @boundcache.lru_cache(maxsize=None, ttl=10, timer=lambda: now[0])
    def f(x):
        calls.append(x)
        return Value(x, len(calls))

    assert f(1).n == 1
    now[0] = 10  # expired
    assert f(1).n == 2  # computed by the finalizer's call; a hit for this one
    assert calls == [1, 1]
    # (PyPy: the finalizer runs at the next collection, its call a hit then)
    released()
    assert calls == [1, 1]
    assert f.cache_info() == (1, 2, None, 1)


def test_evicted_values_whose_finalizers_call_other_instances(no_gc):
    budget = [20]
    objs = []

    class Value:
        def __del__(self):
            if budget[0] > 0:
                budget[0] -= 1
                objs[budget[0] % len(objs)].m(100 + budget[0])  # evicts again

    class C:
        @boundcache.lru_cache(maxsize=2, max_total=3)
        def m(self, x):
            return Value()

    objs += [C() for _ in range(3)]
    for x in range(10):
        for obj in objs:
            obj.m(x)
            assert C.m.cache_info().currsize <= 3
    released()  # (PyPy: the evicted values' finalizers run at the next collection)
    info = C.m.cache_info()
    assert info.currsize == 3 and info.hits == 0
    assert sum(o.m.cache_info().currsize for o in objs) == 3
    assert budget[0] == 0
    del objs[:], obj
    released()
    assert C.m.cache_info().currsize == 0


# ---- hypothesis: invariants under random hostile scenarios ----

NSLOTS = 3
NKEYS = 5


# Strategies are built once: hypothesis caches each one it is given (the
# refleak stage repeats every test, and fresh ones per draw would grow it).
flag = st.booleans()
quarter = st.integers(0, 3)
ttls = st.sampled_from([1, 3])
totals = st.integers(1, 5)
modes = st.sampled_from(["function", "method"])
maxsizes = st.sampled_from([None, 1, 2, 4])
action = st.one_of(
    st.tuples(st.just("call"), st.integers(0, NSLOTS - 1), st.integers(0, NKEYS - 1)),
    st.tuples(st.just("fill"), st.integers(0, NSLOTS - 1)),
    st.tuples(st.just("clear_self")),
    st.tuples(st.just("clear_all")),
    st.tuples(st.just("tick")),
    st.tuples(st.just("raise")),
)
hook_actions = st.lists(action, max_size=3)
body_actions = st.lists(action, max_size=2)
call_plans = st.lists(
    st.tuples(st.integers(0, NSLOTS - 1), st.integers(0, NKEYS - 1), st.booleans()),
    min_size=1,
    max_size=25,
)


@st.composite
def scenario(draw):
    options = {}
    if draw(flag):
        options["ttl"] = draw(ttls)
    if draw(flag):
        options["max_total"] = draw(totals)
    if draw(flag):
        options["lock"] = True
    if draw(quarter) == 0:
        options["key"] = "by value"
    mode = draw(modes)
    maxsize = draw(maxsizes)
    hooks = [draw(hook_actions) if draw(flag) else [] for _ in range(NKEYS)]
    body = [draw(body_actions) if draw(quarter) == 0 else [] for _ in range(NKEYS)]
    return options, mode, maxsize, hooks, body, draw(call_plans)


class World:
    def __init__(self, options, mode, maxsize, hooks, body):
        self.now = 0.0
        self.hooks, self.body = hooks, body
        # Counted since the last clear that resets cache_info(); `active`
        # calls were running at that clear, and may or may not be counted.
        self.executions = self.calls = self.returned = 0
        self.active = self.slack = 0
        self.depth = 0
        self.fresh = iter(range(100, 10**6))
        self.refs = []  # weakrefs to every key and result made
        world = self
        options = dict(options)
        if "ttl" in options:
            options["timer"] = lambda: world.now
        self.class_wide = options.get("key") == "by value"
        if self.class_wide:
            options["key"] = (lambda k: k) if mode == "function" else (lambda self, k: k)

        class Result:
            def __init__(self, slot, v):
                self.slot, self.v = slot, v

        self.Result = Result

        def compute(slot, k):
            world.executions += 1
            if world.depth < 2:
                world.run(world.body[k.v % NKEYS], slot)
            r = Result(slot, k.v)
            world.refs.append(weakref.ref(r))
            return r

        if mode == "function":
            f = boundcache.lru_cache(maxsize=maxsize, **options)(lambda k: compute(0, k))
            self.targets = [f] * NSLOTS
            self.wrapper = f
            self.owners = []
        else:

            class Owner:
                def __init__(self, slot):
                    self.slot = slot

                @boundcache.lru_cache(maxsize=maxsize, **options)
                def m(self, k):
                    return compute(self.slot, k)

            self.owners = [Owner(i) for i in range(NSLOTS)]
            self.targets = [o.m for o in self.owners]
            self.wrapper = Owner.m
        self.mode, self.maxsize, self.max_total = mode, maxsize, options.get("max_total")

    def key(self, v, with_hooks):
        if with_hooks and self.depth < 2 and self.hooks[v]:
            k = Hooked(v, on_eq=lambda: self.run(self.hooks[v], None))
        else:
            k = Collide(v)
        self.refs.append(weakref.ref(k))
        return k

    def run(self, actions, slot):
        self.depth += 1
        try:
            for a in actions:
                if a[0] == "call":
                    self.call(a[1], a[2], False)
                elif a[0] == "fill":
                    for _ in range(3):
                        self.call(a[1], next(self.fresh), False)
                elif a[0] == "clear_self":
                    self.targets[slot if slot is not None else 0].cache_clear()
                    if self.mode == "function" or self.class_wide:
                        self.counts_cleared()  # else the class sums keep the instance's counts
                elif a[0] == "clear_all":
                    self.wrapper.cache_clear()
                    self.counts_cleared()
                elif a[0] == "tick":
                    self.now += 2
                else:
                    raise HostileError(a)
        finally:
            self.depth -= 1

    def counts_cleared(self):
        self.executions = self.calls = self.returned = 0
        self.slack = self.active

    def call(self, slot, v, with_hooks):
        k = self.key(v, with_hooks)
        self.calls += 1
        self.active += 1
        try:
            r = self.targets[slot](k)
        except HostileError:
            return
        except RuntimeError as e:  # lock=True: a recursive call with the same key
            assert "called itself with the same arguments" in str(e)
            return
        finally:
            self.active -= 1
        self.returned += 1
        assert r.v == v  # its own key's result, never another's
        if self.mode == "method" and not self.class_wide:
            assert r.slot == slot  # and its own instance's

    def check(self):
        info = self.wrapper.cache_info()
        assert info.misses == self.executions
        assert self.returned - self.slack <= info.hits + info.misses <= self.calls + self.slack
        if self.max_total is not None:
            assert info.currsize <= self.max_total
        if self.maxsize is not None:
            for t in self.targets:
                assert t.cache_info().currsize <= self.maxsize


@SETTINGS
@given(scenario())
# The pure core once let max_total be exceeded for good: an eviction compared
# keys, a key's __eq__ raised, and the entry stayed in its table uncounted.
@example(
    (
        {"max_total": 3},
        "method",
        None,
        [[("call", 0, 0)], [], [], [], [("raise",)]],
        [[], [], [], [], []],
        [(1, 1, False), (1, 0, True), (0, 0, False), (0, 1, False), (1, 4, True)],
    )
)
def test_hostile_scenarios_through_the_options_keep_the_invariants(s):
    options, mode, maxsize, hooks, body, ops = s
    world = World(options, mode, maxsize, hooks, body)
    for slot, v, with_hooks in ops:
        world.call(slot, v, with_hooks)
        world.check()
    # Calm again: every key is an exact cache again.
    world.hooks = [[] for _ in range(NKEYS)]
    world.body = [[] for _ in range(NKEYS)]
    world.now += 1000
    world.wrapper.cache_clear()
    for slot in range(NSLOTS):
        world.call(slot, 0, False)
        before = world.wrapper.cache_info()
        world.call(slot, 0, False)
        assert world.wrapper.cache_info().hits == before.hits + 1
    # Nothing is left alive once the cache and its owners are gone.
    refs = world.refs
    world.wrapper.cache_clear()
    del world
    gc.collect()
    released()
    assert [r for r in refs if r() is not None] == []
