"""lru_cache and cache on async def functions and methods (docs/async.md).

No test depends on timing: computations are held on asyncio.Event objects and
ordered with sleep(0); the one timeout test only needs the timeout to fire
before an event that is never set.
"""

import asyncio
import functools
import gc
import inspect
import pickle
import sys
import threading
import weakref

import pytest

import boundcache
from cores import released


def run(coro):
    return asyncio.run(coro)


async def settle(n=5):
    """Let every ready callback and task step run (n loop iterations)."""
    for _ in range(n):
        await asyncio.sleep(0)


class Gate:
    """Holds computations until released; counts and records them."""

    def __init__(self):
        self.calls = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = []

    async def hold(self, key):
        self.calls.append(key)
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise


# -- the trap, and the fix


def test_functools_caches_the_coroutine_object():
    @functools.lru_cache
    async def f(x):
        return x

    async def main():
        assert await f(1) == 1
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await f(1)

    run(main())


def test_function_result_is_cached_and_awaited_again():
    calls = []

    @boundcache.lru_cache
    async def f(x):
        calls.append(x)
        await asyncio.sleep(0)
        return [x]

    async def main():
        first = await f(1)
        assert await f(1) is first
        assert await f(2) == [2]
        assert calls == [1, 2]
        assert f.cache_info() == (1, 2, 128, 2)

    run(main())


def test_cache_and_maxsize_and_typed():
    calls = []

    @boundcache.cache
    async def unbounded(x):
        calls.append(x)
        return x

    @boundcache.lru_cache(maxsize=0)
    async def uncached(x):
        calls.append(x)
        return x

    @boundcache.lru_cache(maxsize=1, typed=True)
    async def one(x):
        calls.append(x)
        return x

    async def main():
        await unbounded(1), await unbounded(1)
        assert unbounded.cache_info() == (1, 1, None, 1)
        await uncached(2), await uncached(2)
        assert uncached.cache_info() == (0, 2, 0, 0)
        await one(3), await one(3.0), await one(3.0)
        assert one.cache_info() == (1, 2, 1, 1)
        assert calls == [1, 2, 2, 3, 3.0]

    run(main())


def test_keyword_arguments_and_unhashable_arguments():
    @boundcache.lru_cache
    async def f(x, *, y=0):
        return (x, y)

    async def main():
        assert await f(1, y=2) == (1, 2)
        assert await f(1, y=2) == (1, 2)
        assert f.cache_info().hits == 1
        with pytest.raises(TypeError, match="unhashable type: 'list'"):
            await f([1])
        assert f.cache_info().currsize == 1

    run(main())


def test_sync_functions_keep_the_core_wrapper():
    @boundcache.lru_cache
    def f(x):
        return x

    assert type(f) is boundcache.CachedFunction
    assert not inspect.iscoroutinefunction(f)


# -- methods: per instance, freed with the instance


class Client:
    """An API client: one cache per instance."""

    made = 0

    def __init__(self, base):
        self.base = base
        self.calls = []

    @boundcache.lru_cache(maxsize=16)
    async def fetch(self, path, *, page=1):
        """Fetch a path."""
        self.calls.append((path, page))
        await asyncio.sleep(0)
        return {"url": self.base + path, "page": page}

    @boundcache.cache
    async def me(self):
        return self  # refers back to the instance


def test_method_caches_per_instance_and_views():
    Client.fetch.cache_clear()  # repeatable (the refleak stage runs a test several times)

    async def main():
        a, b = Client("a:"), Client("b:")
        r = await a.fetch("/x")
        assert await a.fetch("/x") is r
        assert await a.fetch("/x", page=2) == {"url": "a:/x", "page": 2}
        assert await b.fetch("/x") == {"url": "b:/x", "page": 1}
        assert a.calls == [("/x", 1), ("/x", 2)] and b.calls == [("/x", 1)]
        assert await Client.fetch(a, "/x") is r  # through the class: the instance's cache too
        assert a.fetch.cache_info() == (2, 2, 16, 2)
        assert b.fetch.cache_info() == (0, 1, 16, 1)
        assert Client.fetch.cache_info() == (2, 3, 16, 3)
        assert a.fetch.cache_parameters() == Client.fetch.cache_parameters()
        assert Client.fetch.cache_parameters()["maxsize"] == 16
        b.fetch.cache_clear()
        assert b.fetch.cache_info() == (0, 0, 16, 0)
        assert a.fetch.cache_info() == (2, 2, 16, 2)
        assert Client.fetch.cache_info() == (2, 3, 16, 2)  # the per-class sums keep counting
        Client.fetch.cache_clear()
        assert a.fetch.cache_info() == (0, 0, 16, 0)
        assert Client.fetch.cache_info() == (0, 0, 16, 0)
        await a.fetch("/x")
        assert a.calls[-1] == ("/x", 1) and len(a.calls) == 3

    run(main())


def test_instance_freed_by_refcount_with_gc_disabled(no_gc):
    events = []

    class Owner:
        def __del__(self):
            events.append("__del__")

        @boundcache.lru_cache
        async def m(self, x):
            await asyncio.sleep(0)
            return [x]

    async def main():
        o = Owner()
        await o.m(1)
        await o.m(1)
        await asyncio.gather(o.m(2), o.m(2))  # a shared computation too
        assert Owner.m.cache_info() == (2, 2, 128, 2)
        weakref.finalize(o, events.append, "finalize")
        await settle()  # the finished Tasks' callbacks have run
        del o
        released()
        assert events == ["__del__", "finalize"]
        assert Owner.m.cache_info().currsize == 0

    run(main())


def test_instance_freed_after_the_loop_is_gone(no_gc):
    async def main():
        c = Client("x")
        await c.fetch("/a")
        return weakref.ref(c)

    r = run(main())
    released()
    assert r() is None


def test_result_referring_back_is_an_ordinary_collectable_cycle(no_gc):
    async def main():
        c = Client("x")
        assert await c.me() is c
        assert await c.me() is c
        return weakref.ref(c)

    r = run(main())
    assert r() is not None  # a cycle through the instance's own cache
    gc.collect()
    released()
    assert r() is None


def test_instance_freed_after_failed_and_cancelled_computations(no_gc):
    class Owner:
        @boundcache.cache
        async def fails(self):
            await asyncio.sleep(0)
            raise ValueError("no")

        @boundcache.cache
        async def hangs(self):
            await asyncio.Event().wait()

    async def main():
        o = Owner()
        with pytest.raises(ValueError):
            await o.fails()
        task = asyncio.ensure_future(o.hangs())
        await settle()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del task
        await settle()
        assert Owner.fails.cache_info().currsize == Owner.hangs.cache_info().currsize == 0
        r = weakref.ref(o)
        del o
        return r

    r = run(main())
    released()
    assert r() is None


def test_method_with_another_instance_in_flight_does_not_wait():
    async def main():
        gate = Gate()

        class Slow:
            @boundcache.cache
            async def m(self, x):
                await gate.hold(x)
                return x

        a, b = Slow(), Slow()
        t = asyncio.ensure_future(a.m(1))
        await gate.started.wait()

        class Fast:
            @boundcache.cache
            async def m(self, x):
                return x

        assert await Fast().m(1) == 1  # other wrappers and instances are not blocked
        assert Slow.m.cache_info() == (0, 1, None, 1)
        gate.release.set()
        assert await t == 1
        assert await b.m(1) == 1
        assert gate.calls == [1, 1]

    run(main())


# -- one computation per key


def test_concurrent_awaiters_share_one_computation():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return [x]

        tasks = [asyncio.ensure_future(f(1)) for _ in range(3)]
        await gate.started.wait()
        await settle()
        assert f.cache_info() == (2, 1, None, 1)  # a hit per caller that found the entry in flight
        gate.release.set()
        results = await asyncio.gather(*tasks)
        assert gate.calls == [1]
        assert results[0] is results[1] is results[2]
        assert await f(1) is results[0]
        assert f.cache_info() == (3, 1, None, 1)

    run(main())


def test_exception_reaches_every_waiter_and_is_not_cached():
    async def main():
        gate = Gate()
        outcome = ValueError("boom")

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            if len(gate.calls) == 1:
                raise outcome
            return x

        tasks = [asyncio.ensure_future(f(1)) for _ in range(3)]
        await gate.started.wait()
        gate.release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results == [outcome] * 3
        assert gate.calls == [1]
        assert f.cache_info().currsize == 0
        assert await f(1) == 1  # computed again
        assert gate.calls == [1, 1]
        assert f.cache_info() == (2, 2, None, 1)

    run(main())


def test_exception_raised_before_the_first_await_is_not_cached():
    calls = []

    @boundcache.cache
    async def f(x):
        calls.append(x)
        if len(calls) == 1:
            raise KeyError(x)
        return x

    async def main():
        with pytest.raises(KeyError):
            await f(1)
        assert await f(1) == 1
        assert await f(1) == 1
        assert calls == [1, 1]

    run(main())


def test_wrong_arguments_raise_and_are_not_cached():
    @boundcache.cache
    async def f(x):
        return x

    async def main():
        with pytest.raises(TypeError):
            await f(1, 2)
        assert f.cache_info().currsize == 0

    run(main())


def _collect_loop_errors(loop, errors):
    loop.set_exception_handler(lambda loop, context: errors.append(context))


def test_no_exception_was_never_retrieved_warnings():
    errors = []

    async def main():
        _collect_loop_errors(asyncio.get_running_loop(), errors)
        never = asyncio.Event()

        @boundcache.cache
        async def f(x):
            try:
                if x == 3:
                    await never.wait()
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise RuntimeError("cleanup failed") from None  # fails after its waiters left
            raise ValueError(x)

        with pytest.raises(ValueError):
            await f(1)
        assert await asyncio.gather(f(2), f(2), return_exceptions=True) != []
        t = asyncio.ensure_future(f(3))
        await settle()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        del t
        await settle()
        gc.collect()
        await settle()

    run(main())
    gc.collect()
    assert errors == []


# -- cancellation


def test_cancelling_one_waiter_leaves_the_computation_to_the_other():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return [x]

        first = asyncio.ensure_future(f(1))
        second = asyncio.ensure_future(f(1))
        await gate.started.wait()
        await settle()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await settle()
        assert gate.cancelled == []
        gate.release.set()
        result = await second
        assert result == [1] and gate.calls == [1] and gate.cancelled == []
        assert await f(1) is result

    run(main())


def test_cancelling_every_waiter_cancels_the_computation_and_drops_the_entry():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return [x]

        waiters = [asyncio.ensure_future(f(1)) for _ in range(2)]
        await gate.started.wait()
        await settle()
        for w in waiters:
            w.cancel()
        for w in waiters:
            with pytest.raises(asyncio.CancelledError):
                await w
        assert f.cache_info().currsize == 0  # dropped as the last waiter left
        await settle()
        assert gate.cancelled == [1]  # the computation saw CancelledError
        gate.release.set()
        assert await f(1) == [1]
        assert gate.calls == [1, 1]

    run(main())


def test_caller_arriving_after_the_last_waiter_left_computes_afresh():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return len(gate.calls)

        w = asyncio.ensure_future(f(1))
        await gate.started.wait()
        w.cancel()
        await asyncio.sleep(0)  # w has left; the computation has not seen its cancellation yet
        late = asyncio.ensure_future(f(1))
        await settle()
        gate.release.set()
        assert await late == 2  # a new computation, not the cancelled one
        assert gate.cancelled == [1]

    run(main())


def test_wait_for_timeout_is_the_cancellation_of_that_waiter():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return [x]

        patient = asyncio.ensure_future(f(1))
        await gate.started.wait()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(f(1), timeout=0.01)
        assert gate.cancelled == []
        gate.release.set()
        assert await patient == [1]
        assert gate.calls == [1]

        # Alone, a timed-out waiter takes the computation with it.
        gate = Gate()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(f(2), timeout=0.01)
        await settle()
        assert gate.cancelled == [2]
        assert f.cache_info().currsize == 1

    run(main())


def test_computation_cancelled_from_outside_reaches_its_waiters():
    async def main():
        gate = Gate()

        @boundcache.cache
        async def f(x):
            await gate.hold(x)
            return x

        w = asyncio.ensure_future(f(1))
        await gate.started.wait()
        (task,) = [t for t in asyncio.all_tasks() if t is not w and t is not asyncio.current_task()]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await w
        assert f.cache_info().currsize == 0
        gate.release.set()
        assert await f(1) == 1

    run(main())


# -- introspection


class Stacked:
    @staticmethod
    @boundcache.lru_cache
    async def static_below(x):
        return ("sb", x)

    @boundcache.lru_cache
    @staticmethod
    async def static_above(x):
        return ("sa", x)

    @classmethod
    @boundcache.lru_cache
    async def class_below(cls, x):
        return (cls.__name__, x)

    @boundcache.lru_cache
    @classmethod
    async def class_above(cls, x):
        return (cls.__name__, x)

    @boundcache.lru_cache
    async def method(self, x):
        return x

    @property
    @boundcache.lru_cache
    async def prop(self):
        return id(self)


# asyncio.iscoroutinefunction is what libraries called before 3.14, which
# deprecates it (removed in 3.16): checked where it is not deprecated.
ISCOROUTINEFUNCTION = [inspect.iscoroutinefunction]
if sys.version_info < (3, 14):
    ISCOROUTINEFUNCTION.append(asyncio.iscoroutinefunction)


@pytest.mark.parametrize("check", ISCOROUTINEFUNCTION)
def test_iscoroutinefunction_everywhere(check):
    @boundcache.lru_cache(maxsize=4)
    async def f(x):
        return x

    s = Stacked()
    assert check(f) and check(boundcache.cache(f.__wrapped__))
    for name in ("static_below", "static_above", "class_below", "class_above", "method"):
        assert check(getattr(Stacked, name)), name
        assert check(getattr(s, name)), name
        assert check(vars(Stacked)[name].__func__ if name.startswith(("static", "class")) else vars(Stacked)[name])


def test_the_wrapper_is_a_real_async_function_with_functools_metadata():
    async def fetch(url: str, *, retries: int = 3) -> bytes:
        """Fetch it."""

    fetch.extra = "kept"
    f = boundcache.lru_cache(fetch)
    assert inspect.isfunction(f) and inspect.iscoroutinefunction(f)
    assert f.__wrapped__ is fetch
    assert (f.__name__, f.__qualname__, f.__doc__, f.__module__) == (
        "fetch",
        fetch.__qualname__,
        "Fetch it.",
        __name__,
    )
    assert f.__annotations__ == fetch.__annotations__ and f.extra == "kept"
    assert inspect.signature(f) == inspect.signature(fetch)


def test_method_introspection():
    c = Client("x")
    bound = c.fetch
    assert inspect.isfunction(Client.fetch) and Client.fetch.__wrapped__.__name__ == "fetch"
    assert bound.__self__ is c and bound.__func__ is Client.fetch
    assert bound.__wrapped__ is Client.fetch.__wrapped__
    assert bound.__name__ == "fetch" and bound.__qualname__ == "Client.fetch" and bound.__doc__ == "Fetch a path."
    assert str(inspect.signature(bound)) == "(path, *, page=1)"
    assert str(inspect.signature(Client.fetch)) == "(self, path, *, page=1)"
    assert bound == c.fetch and hash(bound) == hash(c.fetch) and bound != Client("x").fetch
    assert "bound cached async method Client.fetch" in repr(bound)
    assert pickle.loads(pickle.dumps(Client.fetch)) is Client.fetch
    clone = pickle.loads(pickle.dumps(bound))
    assert clone.__self__.base == "x" and clone.__func__ is Client.fetch


@pytest.mark.parametrize("name", ["static_below", "static_above"])
def test_staticmethod_either_order_is_a_function(name):
    getattr(Stacked, name).cache_clear()

    async def main():
        s = Stacked()
        f = getattr(Stacked, name)
        tag = "sb" if name == "static_below" else "sa"
        assert await f(1) == await getattr(s, name)(1) == (tag, 1)
        assert f.cache_info() == (1, 1, 128, 1)

    run(main())


@pytest.mark.parametrize("name", ["class_below", "class_above"])
def test_classmethod_either_order_one_cache_per_class(name):
    class Sub(Stacked):
        pass

    vars(Stacked)[name].__func__.cache_clear()

    async def main():
        assert await getattr(Stacked, name)(1) == ("Stacked", 1)
        assert await getattr(Stacked(), name)(1) == ("Stacked", 1)
        assert await getattr(Sub, name)(1) == ("Sub", 1)
        wrapper = vars(Stacked)[name].__func__
        assert wrapper.cache_info() == (1, 2, 128, 2)
        if sys.version_info < (3, 13):  # docs/methods.md: 3.13's classmethod binds without __get__
            assert getattr(Sub, name).cache_info() == (0, 1, 128, 1)

    run(main())


def test_property_above_is_a_method(no_gc):
    async def main():
        a, b = Stacked(), Stacked()
        assert await a.prop == await a.prop == id(a)
        assert await b.prop == id(b)
        r = weakref.ref(a)
        del a
        return r

    r = run(main())
    released()
    assert r() is None


def test_method_defined_by_assignment_in_class_body(no_gc):
    async def helper(self, x):
        return (id(self), x)

    class WithHelper:
        m = boundcache.cache(helper)

    async def main():
        w = WithHelper()
        assert await WithHelper.m(w, 1) == await w.m(1) == (id(w), 1)
        assert w.m.cache_info() == (1, 1, None, 1)
        r = weakref.ref(w)
        del w
        return r

    r = run(main())
    released()
    assert r() is None


async def _helper_taking_self(self, x):
    return (id(self), x)


def test_wrapper_taking_self_set_on_a_class_later_becomes_a_method(no_gc):
    m = boundcache.cache(_helper_taking_self)

    class Late:
        pass

    Late.m = m  # no __set_name__: the first access through an instance makes it a method

    async def main():
        x = Late()
        assert await x.m(1) == await x.m(1) == (id(x), 1)
        assert x.m.cache_info() == (1, 1, None, 1)
        r = weakref.ref(x)
        del x
        return r

    r = run(main())
    released()
    assert r() is None


def test_plain_async_function_set_on_a_class_later_binds_as_a_function():
    # docs/async.md: a real function binds as one; the instance is then part of the key.
    @boundcache.cache
    async def describe(obj, detail):
        return (id(obj), detail)

    class Late:
        pass

    Late.describe = describe

    async def main():
        x = Late()
        assert inspect.ismethod(x.describe)
        assert await x.describe(1) == await describe(x, 1) == (id(x), 1)
        assert describe.cache_info() == (1, 1, None, 1)

    run(main())


def test_functools_wraps_chain_of_async_functions(no_gc):
    def logged(f):
        @functools.wraps(f)
        async def inner(*args, **kwargs):
            return await f(*args, **kwargs)

        return inner

    class Service:
        calls = 0

        @boundcache.cache
        @logged
        async def get(self, key):
            Service.calls += 1
            return [key]

    async def main():
        s = Service()
        assert await s.get(1) is await s.get(1)
        assert Service.calls == 1 and s.get.cache_info() == (1, 1, None, 1)
        r = weakref.ref(s)
        del s
        return r

    assert inspect.iscoroutinefunction(Service.get)
    r = run(main())
    released()
    assert r() is None


def test_other_coroutine_functions_inspect_recognises():
    async def add(a, b):
        return [a + b]

    f = boundcache.cache(functools.partial(add, 1))
    assert inspect.iscoroutinefunction(f)
    if sys.version_info >= (3, 12):

        def marked(x):
            return add(x, 0)

        g = boundcache.cache(inspect.markcoroutinefunction(marked))
        assert inspect.iscoroutinefunction(g)

    async def main():
        assert await f(2) is await f(2)
        if sys.version_info >= (3, 12):
            assert await g(5) is await g(5)

    run(main())


def test_recursion_with_other_arguments_works_and_with_the_same_raises():
    @boundcache.cache
    async def fib(n):
        return n if n < 2 else await fib(n - 1) + await fib(n - 2)

    @boundcache.cache
    async def loop_forever(n):
        return await loop_forever(n)

    async def main():
        assert await fib(80) == 23416728348467685
        assert fib.cache_info() == (78, 81, None, 81)
        with pytest.raises(RuntimeError, match="awaited itself with the same arguments"):
            await loop_forever(1)
        assert loop_forever.cache_info().currsize == 0

    run(main())


# -- options


def test_ttl_with_a_fake_timer():
    now = [0.0]
    calls = []

    @boundcache.lru_cache(ttl=10, timer=lambda: now[0])
    async def f(x):
        calls.append(x)
        return [x, len(calls)]

    async def main():
        first = await f(1)
        now[0] = 9.5
        assert await f(1) is first
        now[0] = 10.5
        assert await f(1) == [1, 2]
        assert f.cache_info() == (1, 2, 128, 1)
        assert f.cache_parameters()["ttl"] == 10.0

    run(main())


def test_key_on_an_async_method_shares_across_instances(no_gc):
    class Repo:
        calls = 0

        def __init__(self, name):
            self.name = name

        @boundcache.lru_cache(key=lambda self, path: (self.name, path))
        async def read(self, path):
            Repo.calls += 1
            return f"{self.name}:{path}"

    async def main():
        a, a2, b = Repo("a"), Repo("a"), Repo("b")
        assert await a.read("x") == await a2.read("x") == "a:x"
        assert await b.read("x") == "b:x"
        assert Repo.calls == 2
        assert a.read.cache_info() == Repo.read.cache_info() == (1, 2, 128, 2)
        r = weakref.ref(a)
        del a
        return r

    r = run(main())
    released()
    assert r() is None


def test_key_failing_computation_is_dropped():
    calls = []

    @boundcache.lru_cache(key=lambda url, *, retry=0: url)
    async def get(url, *, retry=0):
        calls.append(retry)
        if retry == 0:
            raise OSError("flaky")
        return url

    async def main():
        with pytest.raises(OSError):
            await get("u")
        assert await get("u", retry=1) == "u"
        assert await get("u", retry=0) == "u"  # same key: the cached result
        assert calls == [0, 1]

    run(main())


def test_failed_entry_that_could_not_be_dropped_is_computed_again():
    key_calls = []
    raise_on = {2, 4}  # the key function fails when _discard asks for it (calls 2 and 4)

    def key(x):
        key_calls.append(x)
        if len(key_calls) in raise_on:
            raise LookupError("key function failed")
        return x

    outcomes = [ValueError("first"), "second", "third"]

    @boundcache.lru_cache(key=key)
    async def f(x):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def main():
        with pytest.raises(ValueError, match="first"):
            await f(1)  # key calls 1 (lookup), 2 (discard: fails, the failed entry stays)
        assert f.cache_info().currsize == 1
        # Key calls 3 (lookup: the failed entry), 4 (discard: fails again), 5 (lookup:
        # still there): this call computes without the cache.
        assert await f(1) == "second"
        # Calls 6 (lookup), 7 (discard: works), 8 (lookup: a miss): computed and cached.
        assert await f(1) == "third"
        assert await f(1) == "third"
        assert len(key_calls) == 9

    run(main())


def test_max_total_bounds_entries_across_instances():
    class Doc:
        @boundcache.lru_cache(maxsize=None, max_total=2)
        async def render(self, n):
            return n

    async def main():
        docs = [Doc() for _ in range(3)]
        for d in docs:
            await d.render(1)
        assert Doc.render.cache_info().currsize == 2
        assert docs[0].render.cache_info().currsize == 0  # the least recently used went

    run(main())


def test_lock_true_is_refused_on_async_functions():
    with pytest.raises(TypeError, match="lock=True does not apply to the async function .*concurrent awaiters"):

        @boundcache.lru_cache(lock=True)
        async def f(x):
            return x


# -- event loops


def test_finished_results_are_shared_across_loops():
    calls = []

    @boundcache.cache
    async def f(x):
        calls.append(x)
        await asyncio.sleep(0)
        return [x]

    first = run(f(1))
    assert run(f(1)) is first
    assert calls == [1]


def test_computation_in_flight_on_another_loop_raises_then_is_shared():
    calls = []
    started = threading.Event()
    release = threading.Event()

    @boundcache.cache
    async def f(x):
        calls.append(x)
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        return [x]

    results = []
    t = threading.Thread(target=lambda: results.append(run(f(1))))
    t.start()
    assert started.wait(30)
    with pytest.raises(RuntimeError, match="computed for these arguments on another event loop.*once it has finished"):
        run(f(1))
    release.set()
    t.join(30)
    assert run(f(1)) is results[0]
    assert calls == [1]


def test_asyncio_run_cancels_what_is_in_flight_and_the_next_loop_computes():
    gates = []

    @boundcache.cache
    async def f(x):
        gate = asyncio.Event()
        gates.append(gate)
        await gate.wait()
        return x

    async def leave_in_flight():
        asyncio.ensure_future(f(1))
        await settle()

    run(leave_in_flight())  # asyncio.run cancels the pending tasks
    assert f.cache_info().currsize == 0

    async def finish():
        t = asyncio.ensure_future(f(1))
        await settle()
        gates[-1].set()
        return await t

    assert run(finish()) == 1
    assert len(gates) == 2


def test_computation_left_on_a_closed_loop_is_computed_again():
    gates = []

    @boundcache.cache
    async def f(x):
        gate = asyncio.Event()
        gates.append(gate)
        await gate.wait()
        return len(gates)

    loop = asyncio.new_event_loop()
    errors = []
    _collect_loop_errors(loop, errors)

    async def start():
        asyncio.ensure_future(f(1))
        await settle()

    loop.run_until_complete(start())
    loop.close()  # with the computation still pending
    assert f.cache_info().currsize == 1

    async def again():
        t = asyncio.ensure_future(f(1))
        await settle()
        gates[-1].set()
        return await t

    assert run(again()) == 2
    assert f.cache_info().currsize == 1


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are new in 3.12")
def test_eager_task_factory():
    calls = []

    @boundcache.cache
    async def quick(x):
        calls.append(x)
        return [x]

    @boundcache.cache
    async def fails(x):
        raise ValueError(x)

    @boundcache.cache
    async def recursive(n):
        return n if n < 2 else await recursive(n - 1) + 1

    @boundcache.cache
    async def same(n):
        return await same(n)

    async def main():
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        first = await quick(1)
        assert await quick(1) is first and calls == [1]
        for _ in range(2):
            with pytest.raises(ValueError):
                await fails(1)
        assert fails.cache_info().currsize == 0
        assert await recursive(5) == 5
        with pytest.raises(RuntimeError, match="awaited itself"):
            await same(1)

    run(main())


class _Yield:
    """Suspends a coroutine driven by hand once, as another framework's await would."""

    def __await__(self):
        yield


def test_without_an_event_loop_the_caller_computes():
    calls = []

    @boundcache.cache
    async def f(x):
        calls.append(x)
        await _Yield()
        if x < 0:
            raise ValueError(x)
        return [x]

    def drive(*coros):
        for c in coros:
            assert c.send(None) is None  # suspended in _Yield
        results = []
        for c in coros:
            with pytest.raises(StopIteration) as stop:
                c.send(None)
            results.append(stop.value.value)
        return results

    first, second = drive(f(1), f(1))  # no Task to share: each computes, the first result is kept
    assert first is second and calls == [1, 1]
    assert run(f(1)) is first
    assert f.cache_info() == (2, 1, None, 1)
    bad = f(-1)
    bad.send(None)
    with pytest.raises(ValueError):
        bad.send(None)
    assert f.cache_info().currsize == 1  # not cached
