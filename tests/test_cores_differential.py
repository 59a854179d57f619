"""The C++ core and the pure-Python core held to one another (contract 9).

One hypothesis test drives a function wrapper and a method wrapper of each
core with the same call sequence (calls on functions and on instances,
hits, misses, evictions, clears of one instance and of the class, instances
made and dropped, a fake ``ttl=`` clock moving on, ``max_total=`` across
instances, ``key=``, ``lock=True``) and requires, after every step, the same results,
the same ``cache_info()`` of the function, of every live instance and of the
class, and the same calls of the underlying functions (so the same eviction
order).

Needs both cores, so CPython with the extension built.
``BOUNDCACHE_CORES_EXAMPLES`` sets the number of examples (default 2,000).
"""

from __future__ import annotations

import functools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_differential import call_args, outcome

from boundcache import _pure

_core = pytest.importorskip(
    "boundcache._core",
    reason="the C++ core is not built here (PyPy): nothing to compare with",
)

EXAMPLES = int(os.environ.get("BOUNDCACHE_CORES_EXAMPLES", "2000"))

def value_key(*args, **kwargs):
    """A key= function: the arguments by value, never the owner."""
    return (tuple(a for a in args if not isinstance(a, Owned)), tuple(kwargs.items()))


class Owned:
    """The base of the test's owner classes."""


OPTIONS = st.sampled_from(
    [
        {},
        {"ttl": 5.0},
        {"max_total": 3},
        {"ttl": 5.0, "max_total": 4},
        {"lock": True},
        {"ttl": 3.0, "lock": True},
        {"key": value_key},
        {"key": value_key, "ttl": 4.0, "lock": True},
    ]
)

STEP = st.one_of(
    st.tuples(st.just("f"), call_args()),
    st.tuples(st.just("m"), st.integers(0, 3), call_args(allow_unhashable=False)),
    st.tuples(st.just("new")),
    st.tuples(st.just("del"), st.integers(0, 3)),
    st.tuples(st.just("clear_f")),
    st.tuples(st.just("clear_obj"), st.integers(0, 3)),
    st.tuples(st.just("clear_cls")),
    st.tuples(st.just("tick"), st.sampled_from([0.5, 1.0, 2.5, 5.0])),
)


class World:
    """One core's wrappers, instances and record of calls."""

    def __init__(self, core, maxsize, typed, options, clock):
        self.calls = []
        opts = dict(options)
        if "ttl" in opts:
            opts["timer"] = lambda: clock[0]

        def f(*args, **kwargs):
            self.calls.append(("f", args, kwargs))
            return ("f", len(self.calls))

        def m(self_, *args, **kwargs):
            self.calls.append((self_.label, args, kwargs))
            return (self_.label, len(self.calls))

        self.f = functools.update_wrapper(
            core.CachedFunction(f, maxsize, typed, False, **opts), f
        )
        method = functools.update_wrapper(
            core.CachedMethod(m, maxsize, typed, True, **opts), m
        )
        self.cls = type("Owner", (Owned,), {"m": method, "__qualname__": "Owner"})
        self.objs = []
        self.labels = 0

    def new(self):
        obj = self.cls()
        obj.label = self.labels
        self.labels += 1
        self.objs.append(obj)

    def infos(self):
        return (
            tuple(self.f.cache_info()),
            tuple(self.cls.m.cache_info()),
            [tuple(o.m.cache_info()) for o in self.objs],
        )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    maxsize=st.sampled_from([None, 0, 1, 2, 3, 8]),
    typed=st.booleans(),
    options=OPTIONS,
    steps=st.lists(STEP, max_size=40),
)
def test_both_cores_give_the_same_results_statistics_and_eviction_order(
    maxsize, typed, options, steps
):
    clock = [0.0]
    worlds = [World(core, maxsize, typed, options, clock) for core in (_core, _pure)]
    for w in worlds:
        w.new()
    for i, step in enumerate(steps):
        kind = step[0]
        got = []
        for w in worlds:
            if kind == "f":
                args, kwargs = step[1]
                got.append(outcome(w.f, args, kwargs))
            elif kind == "m" and w.objs:
                args, kwargs = step[2]
                got.append(outcome(w.objs[step[1] % len(w.objs)].m, args, kwargs))
            elif kind == "new" and len(w.objs) < 4:
                w.new()
            elif kind == "del" and w.objs:
                del w.objs[step[1] % len(w.objs)]
            elif kind == "clear_f":
                w.f.cache_clear()
            elif kind == "clear_obj" and w.objs:
                w.objs[step[1] % len(w.objs)].m.cache_clear()
            elif kind == "clear_cls":
                w.cls.m.cache_clear()
        if kind == "tick":
            clock[0] += step[1]
        c, p = worlds
        assert got[:1] == got[1:], (i, step)
        assert c.infos() == p.infos(), (i, step)
        assert c.calls == p.calls, (i, step)
    assert (
        worlds[0].f.cache_parameters().keys() == worlds[1].f.cache_parameters().keys()
    )
