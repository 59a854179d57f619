"""Differential tests: boundcache.lru_cache against functools.lru_cache.

Contract section 2: on a function, every call sequence gives the same
results, the same cache_info() after every call and therefore the same
underlying calls (same eviction order). Contract 3.1/3.6: on a method, each
instance behaves like its own functools cache, and Cls.m.cache_info() sums.
"""

from __future__ import annotations

import functools
import gc
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import boundcache
from cores import released

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class P:
    """A small user hashable: equal by value, and equal to the int of its value."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        return hash(self.v)

    def __eq__(self, other):
        if isinstance(other, P):
            return self.v == other.v
        if type(other) is int:
            return self.v == other
        return NotImplemented

    def __repr__(self):
        return f"P({self.v!r})"


class Collide:
    """Hashable whose instances all collide: exercises the probe sequence."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        return 42

    def __eq__(self, other):
        return isinstance(other, Collide) and self.v == other.v

    def __repr__(self):
        return f"Collide({self.v!r})"


NAN = float("nan")

# Values are produced by factories, so that equal-but-not-identical objects
# (fresh tuples, big ints, strings built at run time) reach the caches.
SCALARS = [
    lambda: 0,
    lambda: 1,
    lambda: -1,
    lambda: 2,
    lambda: True,
    lambda: False,
    lambda: int("1" + "0" * 30),  # a fresh big int each time
    lambda: -(2**70),
    lambda: 1.0,
    lambda: 0.0,
    lambda: -0.0,
    lambda: 2.5,
    lambda: NAN,
    lambda: "a",
    lambda: "".join(["b", "c"]),  # fresh str, equal to "bc"
    lambda: "bc",
    lambda: b"a",
    lambda: None,
    lambda: (1, 2),
    lambda: tuple([1, 2]),
    lambda: (1.0, 2),
    lambda: ("a", (None, 1)),
    lambda: (),
    lambda: frozenset({1, 2}),
    lambda: frozenset(),
    lambda: P(1),
    lambda: P(2),
    lambda: Collide(1),
    lambda: Collide(2),
    lambda: Collide(3),
]
UNHASHABLE = [lambda: [1], lambda: {"a": 1}, lambda: {1}, lambda: bytearray(b"x"), lambda: (1, [2])]

scalar = st.integers(0, len(SCALARS) - 1).map(lambda i: SCALARS[i]())
unhashable = st.integers(0, len(UNHASHABLE) - 1).map(lambda i: UNHASHABLE[i]())
kwname = st.sampled_from(["a", "b", "c"])


@st.composite
def call_args(draw, allow_unhashable=True):
    args = tuple(draw(st.lists(scalar, max_size=3)))
    names = draw(st.lists(kwname, max_size=3, unique=True))  # order varies
    kwargs = {n: draw(scalar) for n in names}
    if allow_unhashable and draw(st.integers(0, 15)) == 0:
        bad = draw(unhashable)
        if kwargs and draw(st.booleans()):
            kwargs[names[0]] = bad
        else:
            args = args + (bad,)
    return args, kwargs


op = st.one_of(
    st.tuples(st.just("call"), call_args()),
    st.just(("clear",)),
)
maxsizes = st.sampled_from([None, 0, 1, 2, 3, 5, 128])


def ident(args, kwargs):
    """Exactly which objects a call got, in which order (kw order included)."""
    return (tuple(map(id, args)), tuple((k, id(v)) for k, v in kwargs.items()))


def make_recorder():
    calls = []

    def f(*args, **kwargs):
        calls.append(ident(args, kwargs))
        return ("result", len(calls))

    return f, calls


def outcome(fn, args, kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return ("raised", type(e), str(e))


@SETTINGS
@given(maxsize=maxsizes, typed=st.booleans(), ops=st.lists(op, max_size=60))
def test_function_matches_functools(maxsize, typed, ops):
    f_ref, calls_ref = make_recorder()
    f_bc, calls_bc = make_recorder()
    ref = functools.lru_cache(maxsize=maxsize, typed=typed)(f_ref)
    bc = boundcache.lru_cache(maxsize=maxsize, typed=typed)(f_bc)
    for step, o in enumerate(ops):
        if o[0] == "clear":
            ref.cache_clear()
            bc.cache_clear()
        else:
            args, kwargs = o[1]
            assert outcome(bc, args, kwargs) == outcome(ref, args, kwargs), (step, o)
        assert tuple(bc.cache_info()) == tuple(ref.cache_info()), (step, o)
        assert calls_bc == calls_ref, (step, o)
    assert bc.cache_parameters() == ref.cache_parameters()


@pytest.mark.parametrize("maxsize", [None, 0, 1, 128])
@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize(
    "args,kwargs",
    [
        (([1],), {}),
        (({},), {}),
        ((1, {2}), {}),
        ((), {"a": [1]}),
        ((1,), {"a": 2, "b": bytearray()}),
        (((1, [2]),), {}),
        (([1], {}), {}),  # the first unhashable element is the one reported
    ],
)
def test_unhashable_same_error(maxsize, typed, args, kwargs):
    f_ref, calls_ref = make_recorder()
    f_bc, calls_bc = make_recorder()
    ref = functools.lru_cache(maxsize=maxsize, typed=typed)(f_ref)
    bc = boundcache.lru_cache(maxsize=maxsize, typed=typed)(f_bc)
    got_ref = outcome(ref, args, kwargs)
    got_bc = outcome(bc, args, kwargs)
    assert got_bc == got_ref
    if maxsize != 0:
        assert got_bc[0] == "raised" and got_bc[1] is TypeError and "unhashable type" in got_bc[2]
    assert tuple(bc.cache_info()) == tuple(ref.cache_info())
    assert calls_bc == calls_ref


def test_lru_eviction_order_explicit():
    f_ref, calls_ref = make_recorder()
    f_bc, calls_bc = make_recorder()
    ref = functools.lru_cache(maxsize=3)(f_ref)
    bc = boundcache.lru_cache(maxsize=3)(f_bc)
    seq = [1, 2, 3, 1, 4, 2, 5, 1, 3, 3, 6, 1, 2, 7, 8, 9, 1, 9, 8, 7]
    for x in seq:
        assert bc(x) == ref(x)
        assert tuple(bc.cache_info()) == tuple(ref.cache_info())
    assert calls_bc == calls_ref


def test_many_entries_growth_and_eviction():
    # Crosses several table growths, then evicts through a full, colliding table.
    for maxsize in (None, 1000, 37):
        f_ref, calls_ref = make_recorder()
        f_bc, calls_bc = make_recorder()
        ref = functools.lru_cache(maxsize=maxsize)(f_ref)
        bc = boundcache.lru_cache(maxsize=maxsize)(f_bc)
        keys = [i * 7919 % 2003 for i in range(3000)] + [Collide(i % 50) for i in range(400)]
        for k in keys:
            assert bc(k) == ref(k)
        assert tuple(bc.cache_info()) == tuple(ref.cache_info())
        assert calls_bc == calls_ref


# ---- methods: each instance is its own functools cache ----

method_op = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 3), call_args(), st.booleans()),
    st.tuples(st.just("new")),
    st.tuples(st.just("del"), st.integers(0, 3)),
    st.tuples(st.just("clear_inst"), st.integers(0, 3)),
    st.tuples(st.just("clear_cls")),
)


class Counter:
    """Hit/miss counting of the per-class sums, from per-call deltas of the model."""

    def __init__(self):
        self.hits = self.misses = 0


@SETTINGS
@given(
    maxsize=maxsizes,
    typed=st.booleans(),
    slotted=st.booleans(),
    ops=st.lists(method_op, max_size=50),
)
def test_method_matches_per_instance_functools_model(maxsize, typed, slotted, ops):
    gc.disable()
    try:
        _run_method_model(maxsize, typed, slotted, ops)
    finally:
        gc.enable()


def _run_method_model(maxsize, typed, slotted, ops):
    calls_bc = []

    class Value:
        """Weak-referenceable, so that freeing of entries can be observed."""

        def __init__(self, t):
            self.t = t

        def __eq__(self, other):
            return isinstance(other, Value) and self.t == other.t

        __hash__ = None

    ns = {}

    def m(self, *args, **kwargs):
        calls_bc.append((self.label, ident(args, kwargs)))
        return Value(("result", self.label, len(calls_bc)))

    ns["m"] = boundcache.lru_cache(maxsize=maxsize, typed=typed)(m)
    if slotted:
        ns["__slots__"] = ("label", "__boundcache__", "__weakref__")
    Cls = type("Cls", (), ns)

    calls_ref = []
    live = []  # [(obj, model)]
    sums = Counter()
    values = []  # weakrefs to values of dead instances' entries
    labels = iter(range(10**6))

    def new():
        obj = Cls()
        obj.label = next(labels)
        label = obj.label

        def impl(*args, **kwargs):
            calls_ref.append((label, ident(args, kwargs)))
            return Value(("result", label, len(calls_ref)))

        live.append((obj, functools.lru_cache(maxsize=maxsize, typed=typed)(impl)))

    new()
    for step, o in enumerate(ops):
        _method_step(Cls, live, sums, values, new, o, step)
        for obj, model in live:
            assert tuple(obj.m.cache_info()) == tuple(model.cache_info()), (step, o)
        obj = model = None
        info = Cls.m.cache_info()
        assert (info.hits, info.misses) == (sums.hits, sums.misses), (step, o)
        assert info.currsize == sum(model.cache_info().currsize for _, model in live), (step, o)
        assert info.maxsize == maxsize
        assert calls_bc == calls_ref, (step, o)
    # Entries go with their instance: once all are gone, no value survives.
    live.clear()
    released()
    assert Cls.m.cache_info().currsize == 0
    assert [wr for wr in values if wr() is not None] == []


def _method_step(Cls, live, sums, values, new, o, step):
    kind = o[0]
    if kind == "new":
        new()
    elif kind == "del" and live:
        obj, model = live.pop(o[1] % len(live))
        wr = weakref.ref(obj)
        del obj
        released()
        assert wr() is None, "instance not freed by refcounting"
    elif kind == "clear_inst" and live:
        obj, model = live[o[1] % len(live)]
        obj.m.cache_clear()
        model.cache_clear()
    elif kind == "clear_cls":
        Cls.m.cache_clear()
        for _, model in live:
            model.cache_clear()
        sums.hits = sums.misses = 0
    elif kind == "call" and live:
        obj, model = live[o[1] % len(live)]
        args, kwargs = o[2]
        before = model.cache_info()
        got_ref = outcome(model, args, kwargs)
        after = model.cache_info()
        sums.hits += after.hits - before.hits
        sums.misses += after.misses - before.misses
        target = obj.m if o[3] else functools.partial(Cls.m, obj)
        got_bc = outcome(target, args, kwargs)
        assert got_bc == got_ref, (step, o)
        if got_bc[0] == "ok":
            values.append(weakref.ref(got_bc[1]))
