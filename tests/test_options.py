"""lru_cache's keyword options as a whole: checked at decoration time,
reported by cache_parameters(), inert with maxsize=0, and, where they have
nothing to act on, indistinguishable from functools.

The options one by one: test_options_ttl.py, test_options_key.py,
test_options_total.py, test_options_lock.py; hostile keys, timers and key
functions through the options path: test_options_hostile.py.
"""

from __future__ import annotations

import fractions
import functools
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import boundcache
from boundcache import CachedFunction

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def ident(x):
    return x


# ---- bad input: lru_cache(...) itself raises, naming what to do ----

BAD = [
    # (options, exception, words of the message that say what to do)
    ({"ttl": -1}, ValueError, "ttl= must be a positive number of seconds"),
    ({"ttl": 0}, ValueError, "to cache nothing use maxsize=0"),
    ({"ttl": 0.0}, ValueError, "positive number of seconds"),
    ({"ttl": -math.inf}, ValueError, "positive number of seconds"),
    ({"ttl": math.nan}, ValueError, "leave ttl= out"),
    ({"ttl": "10"}, TypeError, "ttl= must be a number of seconds (int or float), not str"),
    ({"ttl": [10]}, TypeError, "not list"),
    ({"ttl": True}, TypeError, "not bool"),
    ({"ttl": False}, TypeError, "not bool"),
    ({"ttl": 1j}, TypeError, "not complex"),
    ({"timer": time.monotonic}, TypeError, "give ttl= as well"),
    ({"timer": time.monotonic, "key": len}, TypeError, "give ttl= as well"),
    ({"ttl": 5, "timer": 0.5}, TypeError, "timer= must be a callable returning seconds, such as time.monotonic"),
    ({"ttl": 5, "timer": "monotonic"}, TypeError, "not str"),
    ({"key": 3}, TypeError, "key= must be a callable, key(*args, **kwargs) -> a hashable key, not int"),
    ({"key": "name"}, TypeError, "not str"),
    ({"typed": True, "key": len}, TypeError, "typed=True has no effect with key="),
    ({"typed": True, "key": len}, TypeError, "put type(x) into the key if the type matters"),
    ({"max_total": 0}, ValueError, "max_total= must be at least 1, got 0"),
    ({"max_total": -5}, ValueError, "leave it out for no bound across instances"),
    ({"max_total": 2.0}, TypeError, "max_total= must be an int, not float"),
    ({"max_total": "3"}, TypeError, "not str"),
    ({"max_total": True}, TypeError, "not bool"),
    ({"lock": 1}, TypeError, "lock= must be True or False, not int"),
    ({"lock": "yes"}, TypeError, "not str"),
    ({"lock": None}, TypeError, "not NoneType"),
]


@pytest.mark.parametrize(("options", "error", "words"), BAD, ids=[repr(b[0]) for b in BAD])
def test_bad_options_raise_at_decoration_time(options, error, words):
    with pytest.raises(error) as info:
        boundcache.lru_cache(**options)  # before any function is given
    assert words in str(info.value)
    with pytest.raises(error):
        boundcache.lru_cache(64, **options)
    with pytest.raises(error):
        boundcache.lru_cache(maxsize=None, **options)


def test_typed_positional_with_key_is_refused():
    with pytest.raises(TypeError, match="typed=True has no effect with key="):
        boundcache.lru_cache(10, True, key=len)
    with pytest.raises(TypeError, match="typed=True"):
        boundcache.lru_cache(10, 1, key=len)  # functools takes any truthy typed


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 1},
        {"ttl": 0.001},
        {"ttl": math.inf},
        {"ttl": fractions.Fraction(1, 2)},
        {"ttl": 5, "timer": time.monotonic},
        {"ttl": 5, "timer": time.perf_counter},
        {"ttl": 5, "timer": lambda: 0},
        {"key": lambda *a, **k: a[-1]},  # on a method, a[0] is self
        {"max_total": 1},
        {"max_total": 10**6},
        {"lock": True},
        {"lock": False},
        {"ttl": 3, "timer": lambda: 0, "key": lambda *a, **k: a[-1], "max_total": 2, "lock": True},
    ],
    ids=repr,
)
def test_good_options_are_accepted_on_functions_and_methods(options):
    f = boundcache.lru_cache(**options)(ident)
    assert f("ab") == "ab"

    class C:
        @boundcache.lru_cache(maxsize=None, **options)
        def m(self, x):
            return x

    assert C().m("ab") == "ab"


def test_ints_too_large_for_c_mean_no_bound():
    # Regression: max_total=2**70 and ttl=10**400 raised OverflowError at
    # decoration time; like a huge maxsize, they now mean "no bound".
    f = boundcache.lru_cache(maxsize=None, max_total=2**70, ttl=10**400)(ident)
    assert [f(x) for x in range(100)] == list(range(100))
    assert f.cache_info() == (0, 100, None, 100)
    params = f.cache_parameters()
    assert params["ttl"] == math.inf and params["max_total"] >= 2**62
    with pytest.raises(ValueError, match="at least 1"):
        boundcache.lru_cache(max_total=-(2**70))
    with pytest.raises(ValueError, match="positive number of seconds"):
        boundcache.lru_cache(ttl=-(10**400))


def test_the_options_are_keyword_only():
    with pytest.raises(TypeError):
        boundcache.lru_cache(128, False, 5)  # ttl is not the third parameter


def test_a_direct_constructor_call_is_checked_too():
    # lru_cache() checks with messages for users; the type itself only
    # refuses to make a broken wrapper.
    with pytest.raises(ValueError, match="ttl= must be a positive number"):
        CachedFunction(ident, 10, ttl=0)
    with pytest.raises(ValueError, match="ttl= must be a positive number"):
        CachedFunction(ident, 10, ttl=math.nan)
    with pytest.raises(TypeError):
        CachedFunction(ident, 10, ttl="1")
    with pytest.raises(TypeError, match="together with ttl="):
        CachedFunction(ident, 10, timer=time.monotonic)
    with pytest.raises(TypeError, match="together with ttl="):
        CachedFunction(ident, 10, ttl=1, timer=3)
    with pytest.raises(TypeError, match="key= must be a callable"):
        CachedFunction(ident, 10, key=3)
    with pytest.raises(ValueError, match="max_total= must be at least 1"):
        CachedFunction(ident, 10, max_total=0)
    with pytest.raises(TypeError):
        CachedFunction(ident, 10, max_total=1.5)


# ---- cache_parameters() ----


def test_cache_parameters_without_options_are_functools_own():
    f = boundcache.lru_cache(maxsize=7, typed=True)(ident)
    assert f.cache_parameters() == functools.lru_cache(maxsize=7, typed=True)(ident).cache_parameters()


def test_cache_parameters_report_every_option():
    def timer():
        return 0.0

    def key(*args, **kwargs):
        return args

    f = boundcache.lru_cache(maxsize=None, ttl=2, timer=timer, key=key, max_total=9, lock=True)(ident)
    assert f.cache_parameters() == {
        "maxsize": None,
        "typed": False,
        "ttl": 2.0,
        "timer": timer,
        "key": key,
        "max_total": 9,
        "lock": True,
    }
    defaults = {"ttl": None, "timer": None, "key": None, "max_total": None, "lock": False}
    g = boundcache.lru_cache(maxsize=3, typed=True, lock=True)(ident)
    assert g.cache_parameters() == {"maxsize": 3, "typed": True, **dict(defaults, lock=True)}
    h = boundcache.lru_cache(ttl=1.5)(ident)
    assert h.cache_parameters() == {"maxsize": 128, "typed": False, **dict(defaults, ttl=1.5)}
    assert isinstance(h.cache_parameters()["ttl"], float)


def test_cache_parameters_of_methods_through_class_and_instance():
    def key(self, x):
        return x

    class C:
        @boundcache.lru_cache(maxsize=4, key=key, max_total=8)
        def m(self, x):
            return x

    expected = {"maxsize": 4, "typed": False, "ttl": None, "timer": None, "key": key, "max_total": 8, "lock": False}
    assert C.m.cache_parameters() == expected
    assert C().m.cache_parameters() == expected


# ---- maxsize=0: the options have nothing to act on ----


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 5, "timer": lambda: 0.0},
        {"key": lambda *a, **k: 0},
        {"max_total": 1},
        {"lock": True},
        {"ttl": 5, "key": lambda *a, **k: 0, "max_total": 1, "lock": True},
    ],
    ids=repr,
)
@pytest.mark.parametrize("maxsize", [0, -3])
def test_maxsize_zero_with_options_caches_nothing(options, maxsize):
    calls = []

    @boundcache.lru_cache(maxsize=maxsize, **options)
    def f(x):
        calls.append(x)
        return len(calls)

    assert [f(1), f(1), f([2]), f(1)] == [1, 2, 3, 4]  # unhashable accepted, as functools
    assert f.cache_info() == (0, 4, 0, 0)

    class C:
        @boundcache.lru_cache(maxsize=maxsize, **options)
        def m(self, x):
            calls.append(x)
            return len(calls)

    a, b = C(), C()
    assert [a.m(1), a.m(1), b.m(1)] == [5, 6, 7]
    assert C.m.cache_info() == (0, 3, 0, 0)
    assert C.m.cache_parameters()["maxsize"] == 0


# ---- differential: options that never act behave exactly as functools ----

# A few scalars, including equal-but-distinct ones (1, 1.0, True), a NaN,
# unhashables, and an argument for which the function raises.
NAN = float("nan")
SCALARS = [
    lambda: 0,
    lambda: 1,
    lambda: 1.0,
    lambda: True,
    lambda: int("1" + "0" * 30),
    lambda: "a",
    lambda: "BC".lower(),  # a fresh str each time
    lambda: None,
    lambda: (1, 2),
    lambda: NAN,
    lambda: "boom",
    lambda: [1],
]
scalar = st.integers(0, len(SCALARS) - 1).map(lambda i: SCALARS[i]())


# Strategies are built once: hypothesis caches each one it is given, and
# fresh ones per draw would grow that cache run after run (the refleak
# stage repeats every test).
positional = st.lists(scalar, max_size=2)
kwnames = st.lists(st.sampled_from("ab"), max_size=2, unique=True)


@st.composite
def call_args(draw):
    args = tuple(draw(positional))
    return args, {n: draw(scalar) for n in draw(kwnames)}


def recorder():
    calls = []

    def f(*args, **kwargs):
        calls.append((tuple(map(id, args)), tuple((k, id(v)) for k, v in kwargs.items())))
        if "boom" in args:
            raise KeyError("boom")
        return ("result", len(calls))

    return f, calls


def outcome(fn, args, kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return ("raised", type(e), str(e))


FASTTYPES = (int, str)


def functools_like_key(*args, **kwargs):
    """A key= with functools' untyped equality classes: a lone int or str is
    its own key (so 1 and (1.0,) differ, as in functools), anything else
    compares positionally with keyword order significant."""
    if not kwargs and len(args) == 1 and type(args[0]) in FASTTYPES:
        return args[0]
    return (args, tuple(kwargs.items()))


def never_ticks():
    return 0.0


maxsizes = st.sampled_from([None, 1, 2, 3, 8, 128])
flag = st.booleans()
headroom = st.integers(0, 3)


@st.composite
def inert_setup(draw):
    """maxsize, typed, and options that, for a function, never change what happens."""
    maxsize = draw(maxsizes)
    typed = draw(flag)
    options = {}
    if draw(flag):
        options["ttl"] = 1e9  # never expires
        if draw(flag):
            options["timer"] = never_ticks
    if draw(flag):
        # At least the table's own bound: it never evicts anything itself.
        options["max_total"] = maxsize + draw(headroom) if maxsize else 10**6
    if draw(flag):
        options["lock"] = True
    if not typed and draw(flag):
        options["key"] = functools_like_key
    return maxsize, typed, options


@SETTINGS
@given(setup=inert_setup(), ops=st.lists(st.one_of(call_args(), st.just("clear")), max_size=50))
def test_inert_options_match_functools(setup, ops):
    maxsize, typed, options = setup
    f_ref, calls_ref = recorder()
    f_bc, calls_bc = recorder()
    ref = functools.lru_cache(maxsize=maxsize, typed=typed)(f_ref)
    bc = boundcache.lru_cache(maxsize=maxsize, typed=typed, **options)(f_bc)
    for step, o in enumerate(ops):
        if o == "clear":
            ref.cache_clear()
            bc.cache_clear()
        else:
            args, kwargs = o
            assert outcome(bc, args, kwargs) == outcome(ref, args, kwargs), (step, o)
        assert tuple(bc.cache_info()) == tuple(ref.cache_info()), (step, o)
        assert calls_bc == calls_ref, (step, o)
    params = bc.cache_parameters()
    assert {k: params[k] for k in ("maxsize", "typed")} == ref.cache_parameters()


@SETTINGS
@given(
    maxsize=st.sampled_from([None, 1, 2, 5]),
    options=st.sampled_from([{"ttl": 1e9}, {"max_total": 10**6}, {"lock": True}]),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("call"), st.integers(0, 2), st.integers(0, 4)),
            st.tuples(st.just("clear"), st.integers(0, 2)),
            st.just(("clear_all",)),
        ),
        max_size=40,
    ),
)
def test_inert_options_on_methods_match_a_functools_cache_per_instance(maxsize, options, ops):
    calls_bc, calls_ref = [], []

    class C:
        def __init__(self, label):
            self.label = label

        @boundcache.lru_cache(maxsize=maxsize, **options)
        def m(self, x):
            calls_bc.append((self.label, x))
            return (self.label, x, len(calls_bc))

    def model_for(label):
        def impl(x):
            calls_ref.append((label, x))
            return (label, x, len(calls_ref))

        return functools.lru_cache(maxsize=maxsize)(impl)

    objs = [C(i) for i in range(3)]
    models = [model_for(i) for i in range(3)]
    sums = [0, 0]
    for step, o in enumerate(ops):
        if o[0] == "call":
            i, x = o[1], o[2]
            before = models[i].cache_info()
            expected = models[i](x)
            after = models[i].cache_info()
            sums[0] += after.hits - before.hits
            sums[1] += after.misses - before.misses
            assert objs[i].m(x) == expected, (step, o)
        elif o[0] == "clear":
            objs[o[1]].m.cache_clear()
            models[o[1]].cache_clear()
        else:
            C.m.cache_clear()
            for model in models:
                model.cache_clear()
            sums = [0, 0]
        assert calls_bc == calls_ref, (step, o)
        for obj, model in zip(objs, models):
            assert tuple(obj.m.cache_info()) == tuple(model.cache_info()), (step, o)
        info = C.m.cache_info()
        assert (info.hits, info.misses) == tuple(sums), (step, o)
        assert info.currsize == sum(model.cache_info().currsize for model in models)
