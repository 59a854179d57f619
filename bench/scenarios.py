"""What is timed: one scenario, one library, one ``time_func(loops) -> seconds``.

The time functions follow pyperf's ``bench_time_func`` contract: run the
operation ``loops * inner_loops`` times and return the elapsed seconds. Hits
are unrolled (``UNROLL`` statements per loop iteration, as timeit does) so the
``for`` loop's own cost stays a small, equal share for every library.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from libs import Library

TimeFunc = Callable[[int], float]
UNROLL = 10
#: The bound of every bounded cache: the default maxsize of functools.lru_cache.
MAXSIZE = 128
#: Instances made per batch in "first call", outside the timer. Few enough that
#: freeing a batch leaves its memory with CPython's allocator: with 4096, every
#: batch emptied a 1 MiB arena, which pymalloc returns to the OS, and the next
#: batch's first calls page-faulted it back in, a cost of the allocator that
#: landed on whichever library allocates per instance (bench/NOTES.md).
BATCH = 1024


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    #: "function", "method", "property", "async_function" or "async_method": which adapter
    #: of a Library it needs.
    kind: str
    build: Callable[[Library], TimeFunc]
    inner_loops: int = 1
    #: Scenarios whose ratios the core issue sets a bound on (quick mode measures only these).
    core: bool = False

    def supports(self, lib: Library) -> bool:
        if self.kind == "function":
            return lib.function is not None and (self.name != "fn_insert" or lib.unbounded)
        if self.kind == "method":
            return lib.method_class is not None
        if self.kind == "async_function":
            return lib.async_function is not None
        if self.kind == "async_method":
            return lib.async_method_class is not None
        return lib.property_class is not None


def _unrolled(stmt: str, namespace: dict[str, Any]) -> TimeFunc:
    """A time function running ``stmt`` UNROLL times per loop, names bound as locals."""
    names = ", ".join(namespace)
    body = "\n".join(f"        {stmt}" for _ in range(UNROLL))
    src = (
        f"def _outer(_timer, {names}):\n"
        f"  def time_func(loops):\n"
        f"    _range = range(loops)\n"
        f"    _t0 = _timer()\n"
        f"    for _ in _range:\n{body}\n"
        f"    return _timer() - _t0\n"
        f"  return time_func\n"
    )
    code: dict[str, Any] = {}
    exec(compile(src, f"<bench {stmt}>", "exec"), code)
    time_func: TimeFunc = code["_outer"](time.perf_counter, **namespace)
    return time_func


# -- function scenarios


def _fn_hit(func: Callable[..., Any], stmt: str) -> Callable[[Library], TimeFunc]:
    def build(lib: Library) -> TimeFunc:
        assert lib.function is not None
        f = lib.function(MAXSIZE)(func)
        exec(stmt, {"f": f})  # the first call is the miss; every timed call hits
        return _unrolled(stmt, {"f": f})

    return build


def _one(x):
    return x


def _three(a, b, c):
    return a


def _keywords(x, y):
    return x


class _NewKeys:
    """Successive runs get successive ranges of ints, so no key is ever seen twice."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, n: int) -> range:
        first, self._next = self._next, self._next + n
        return range(first, first + n)


def _misses(f: Callable[[int], Any], prefill: int) -> TimeFunc:
    """Every call a new key; once ``prefill`` has filled a bounded cache, each one evicts."""
    for k in range(1, prefill + 1):
        f(-k)  # negative keys: disjoint from the timed ones
    new_keys = _NewKeys()

    def time_func(loops: int) -> float:
        keys = new_keys.take(loops)
        t0 = time.perf_counter()
        for k in keys:
            f(k)
        return time.perf_counter() - t0

    return time_func


def _fn_miss(lib: Library) -> TimeFunc:
    assert lib.function is not None
    return _misses(lib.function(MAXSIZE)(_one), prefill=MAXSIZE)


def _fn_insert(lib: Library) -> TimeFunc:
    """Unbounded cache, new key every call: insertion and table growth, never eviction."""
    assert lib.function is not None
    f = lib.function(None)(_one)
    misses = _misses(f, prefill=0)

    def time_func(loops: int) -> float:
        f.cache_clear()  # each run starts from an empty cache, so memory stays bounded
        return misses(loops)

    return time_func


# -- method scenarios


def _method_hit(lib: Library) -> TimeFunc:
    assert lib.method_class is not None
    obj = lib.method_class(MAXSIZE)()
    obj.m(1)
    return _unrolled("obj.m(1)", {"obj": obj})


def _method_miss(lib: Library) -> TimeFunc:
    assert lib.method_class is not None
    obj = lib.method_class(MAXSIZE)()
    # _misses(lambda k: obj.m(k)) would add a call per op: spelled out instead.
    for k in range(1, MAXSIZE + 1):
        obj.m(-k)
    new_keys = _NewKeys()

    def time_func(loops: int) -> float:
        keys = new_keys.take(loops)
        t0 = time.perf_counter()
        for k in keys:
            obj.m(k)
        return time.perf_counter() - t0

    return time_func


def _first_call(lib: Library) -> TimeFunc:
    """The first cached call on a fresh instance; making and freeing it is not timed."""
    assert lib.method_class is not None
    cls = lib.method_class(MAXSIZE)

    def time_func(loops: int) -> float:
        elapsed = 0.0
        for done in range(0, loops, BATCH):
            objs = [cls() for _ in range(min(BATCH, loops - done))]
            t0 = time.perf_counter()
            for obj in objs:
                obj.m(1)
            elapsed += time.perf_counter() - t0
            del objs
        return elapsed

    return time_func


def _churn(lib: Library) -> TimeFunc:
    """A short-lived instance: create it, 4 calls (2 misses, 2 hits), drop it."""
    assert lib.method_class is not None
    cls = lib.method_class(MAXSIZE)

    def time_func(loops: int) -> float:
        t0 = time.perf_counter()
        for _ in range(loops):
            obj = cls()
            obj.m(0)
            obj.m(1)
            obj.m(0)
            obj.m(1)
            del obj
        return time.perf_counter() - t0

    return time_func


# -- cached_property


def _property_read(lib: Library) -> TimeFunc:
    assert lib.property_class is not None
    obj = lib.property_class()
    obj.p  # noqa: B018 - computes and stores the value; every timed read is a hit
    return _unrolled("obj.p", {"obj": obj})


# -- async def: ``await`` of a hit, timed inside a coroutine on one event loop


def _async_unrolled(stmt: str, namespace: dict[str, Any]) -> TimeFunc:
    """As ``_unrolled``, for ``await`` statements: the loop runs in a coroutine on an event loop
    made once, so starting the loop is not timed."""
    names = ", ".join(namespace)
    body = "\n".join(f"        {stmt}" for _ in range(UNROLL))
    src = (
        f"async def _body(_timer, loops, {names}):\n"
        f"    _range = range(loops)\n"
        f"    _t0 = _timer()\n"
        f"    for _ in _range:\n{body}\n"
        f"    return _timer() - _t0\n"
    )
    code: dict[str, Any] = {}
    exec(compile(src, f"<bench {stmt}>", "exec"), code)
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    run(code["_body"](time.perf_counter, 1, **namespace))  # the first call is the miss

    def time_func(loops: int) -> float:
        elapsed: float = run(code["_body"](time.perf_counter, loops, **namespace))
        return elapsed

    return time_func


async def _async_one(x):
    return x


def _async_fn_hit(lib: Library) -> TimeFunc:
    assert lib.async_function is not None
    return _async_unrolled("await f(1)", {"f": lib.async_function(MAXSIZE)(_async_one)})


def _async_method_hit(lib: Library) -> TimeFunc:
    assert lib.async_method_class is not None
    return _async_unrolled("await obj.m(1)", {"obj": lib.async_method_class(MAXSIZE)()})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("fn_hit_int", "function hit, one int", "function", _fn_hit(_one, "f(1)"), UNROLL, core=True),
        Scenario("fn_hit_str", "function hit, one str", "function", _fn_hit(_one, "f('key')"), UNROLL, core=True),
        Scenario("fn_hit_3args", "function hit, three args", "function", _fn_hit(_three, "f(1, 'a', 2.5)"), UNROLL),
        Scenario("fn_hit_kw", "function hit, keywords", "function", _fn_hit(_keywords, "f(x=1, y=2)"), UNROLL),
        Scenario("fn_miss", "function miss with eviction", "function", _fn_miss, core=True),
        Scenario("fn_insert", "function unbounded insert", "function", _fn_insert),
        Scenario("method_hit", "method hit", "method", _method_hit, UNROLL, core=True),
        Scenario("method_miss", "method miss with eviction", "method", _method_miss, core=True),
        Scenario("first_call", "first call on a fresh instance", "method", _first_call),
        Scenario("churn", "instance churn (create, 4 calls, drop)", "method", _churn, core=True),
        Scenario("property_read", "cached_property read", "property", _property_read, UNROLL),
        Scenario("async_fn_hit", "async hit, function", "async_function", _async_fn_hit, UNROLL),
        Scenario("async_method_hit", "async hit, method", "async_method", _async_method_hit, UNROLL),
    )
}
