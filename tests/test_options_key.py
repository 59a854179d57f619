"""lru_cache(key=...): the key function decides which calls share an entry.

key(*args, **kwargs) (on a method key(self, *args, **kwargs)) returns the
cache key. On a method there is one class-wide cache, the wrapper's own
table, shared by every instance: obj.m.cache_info() and obj.m.cache_clear()
report and clear that one. It never holds the instance: a key that is the
instance, or holds it inside (nested) tuples, raises ValueError on that call.
"""

from __future__ import annotations

import collections
import gc
import weakref

import pytest

import boundcache
from cores import released


class HostileError(Exception):
    pass


Ident = collections.namedtuple("Ident", "path extra")


# ---- functions ----


def test_a_key_function_makes_unhashable_arguments_cacheable():
    calls = []

    @boundcache.lru_cache(key=lambda rows, *, scale=1: (tuple(rows), scale))
    def total(rows, *, scale=1):
        calls.append(list(rows))
        return sum(rows) * scale

    assert total([1, 2, 3]) == 6
    assert total([1, 2, 3]) == 6  # an equal, new list: a hit
    assert total([1, 2, 3], scale=2) == 12
    assert calls == [[1, 2, 3], [1, 2, 3]]
    assert total.cache_info() == (1, 2, 128, 2)


def test_the_key_function_gets_exactly_the_call_arguments():
    seen = []

    def key(*args, **kwargs):
        seen.append((args, kwargs))
        return (args, tuple(sorted(kwargs.items())))

    @boundcache.lru_cache(key=key)
    def f(a, b=0, *rest, c=1, **extra):
        return (a, b, rest, c, extra)

    assert f(1, 2, 3, c=4, d=5) == (1, 2, (3,), 4, {"d": 5})
    assert f(1, 2, 3, d=5, c=4) == (1, 2, (3,), 4, {"d": 5})  # same key: a hit
    assert seen == [((1, 2, 3), {"c": 4, "d": 5}), ((1, 2, 3), {"d": 5, "c": 4})]
    assert list(seen[1][1]) == ["d", "c"]  # keyword order as called
    assert f.cache_info() == (1, 1, 128, 1)


def test_calls_with_equal_keys_share_the_first_result():
    calls = []

    @boundcache.lru_cache(key=str.lower)
    def greet(name):
        calls.append(name)
        return f"hello {name}"

    assert greet("Ada") == "hello Ada"
    assert greet("ADA") == "hello Ada"
    assert greet("ada") == "hello Ada"
    assert calls == ["Ada"]


def test_a_key_function_that_raises_propagates_and_calls_nothing():
    calls = []

    def key(x):
        if x < 0:
            raise HostileError("negative")
        return x

    @boundcache.lru_cache(key=key)
    def f(x):
        calls.append(x)
        return x

    with pytest.raises(HostileError, match="negative"):
        f(-1)
    assert calls == [] and f.cache_info() == (0, 0, 128, 0)
    assert f(1) == 1 and f(1) == 1
    assert f.cache_info() == (1, 1, 128, 1)


@pytest.mark.parametrize("bad", [[1], {"a": 1}, {1}, (1, [2])], ids=repr)
def test_a_key_function_returning_an_unhashable_key_is_functools_type_error(bad):
    calls = []

    @boundcache.lru_cache(key=lambda x: bad)
    def f(x):
        calls.append(x)
        return x

    with pytest.raises(TypeError, match="unhashable type"):
        f(1)
    assert calls == [] and f.cache_info() == (0, 0, 128, 0)


def test_a_key_function_that_calls_the_cache_itself():
    calls = []

    def key(n):
        if n > 0:
            f(n - 1)  # fills smaller keys first, through the same cache
        return n

    @boundcache.lru_cache(maxsize=None, key=key)
    def f(n):
        calls.append(n)
        return n * n

    assert f(5) == 25
    assert calls == [0, 1, 2, 3, 4, 5]
    assert f(5) == 25 and f(3) == 9
    assert f.cache_info().currsize == 6


def test_maxsize_bounds_a_key_cache_as_usual():
    calls = []

    @boundcache.lru_cache(maxsize=2, key=lambda x: x % 10)
    def f(x):
        calls.append(x)
        return x

    assert [f(1), f(2), f(11), f(3), f(12), f(1)] == [1, 2, 1, 3, 12, 1]
    assert calls == [1, 2, 3, 12, 1]  # 11 hit 1's entry; 3 evicted 2; 12 evicted 1
    assert f.cache_info() == (1, 5, 2, 2)


# ---- methods: one cache for the class ----


def page_class():
    """A class per test (the refleak stage runs each test six times)."""

    class Page:
        def __init__(self, url):
            self.url = url

        @boundcache.lru_cache(maxsize=None, key=lambda self, size=100: (self.url, size))
        def render(self, size=100):
            fetches.append((self.url, size))
            return f"<{self.url} at {size}>"

    fetches = []
    return Page, fetches


def test_instances_with_equal_keys_share_one_class_wide_cache():
    Page, fetches = page_class()
    a, b, c = Page("/x"), Page("/x"), Page("/y")
    assert a.render() == "</x at 100>"
    assert b.render() == "</x at 100>"  # another instance, the same key: a hit
    assert c.render(size=5) == "</y at 5>"
    assert fetches == [("/x", 100), ("/y", 5)]
    expected = (1, 2, None, 2)
    assert Page.render.cache_info() == expected
    assert a.render.cache_info() == expected  # obj.m reports the class-wide cache
    assert c.render.cache_info() == expected


def test_cache_clear_through_an_instance_clears_the_class_wide_cache():
    Page, fetches = page_class()
    a, b = Page("/x"), Page("/y")
    a.render()
    b.render()
    a.render.cache_clear()
    assert Page.render.cache_info() == (0, 0, None, 0)
    b.render()
    assert fetches == [("/x", 100), ("/y", 100), ("/y", 100)]
    Page.render.cache_clear()
    assert b.render.cache_info() == (0, 0, None, 0)


def test_the_key_function_gets_self_and_the_arguments():
    seen = []

    def key(*args, **kwargs):
        seen.append((args, kwargs))
        return args[1:]

    class C:
        @boundcache.lru_cache(key=key)
        def m(self, x, *, y=0):
            return (x, y)

    obj = C()
    assert obj.m(1, y=2) == (1, 2)
    assert C.m(obj, 1, y=3) == (1, 2)  # the key ignores y
    assert seen == [((obj, 1), {"y": 2}), ((obj, 1), {"y": 3})]


def test_a_key_cache_keeps_nothing_on_the_instances(no_gc):
    class Value:
        pass

    class C:
        @boundcache.lru_cache(maxsize=None, key=lambda self, x: x)
        def m(self, x):
            return Value()

    objs = [C() for _ in range(5)]
    refs = [weakref.ref(o) for o in objs]
    for i, obj in enumerate(objs):
        obj.m(i)
        obj.m(i + 1)
    assert all("__boundcache__" not in vars(o) for o in objs)
    assert C.m._owner_caches == 0
    del objs, obj
    released()
    assert [r() for r in refs] == [None] * 5  # key= never pins the instances
    assert C.m.cache_info() == (4, 6, None, 6)  # the class-wide entries stay


@pytest.mark.parametrize("slotted", [False, True])
def test_a_key_cache_works_on_instances_without_storage(slotted):
    # No __dict__, no slot, no weakref: nothing is stored on the instance, so
    # nothing is needed.
    class Bare:
        __slots__ = ("v",) if slotted else ()

        @boundcache.lru_cache(key=lambda self, x: x)
        def m(self, x):
            return x * 2

    assert Bare().m(3) == 6 and Bare().m(3) == 6
    assert Bare.m.cache_info() == (1, 1, 128, 1)


@pytest.mark.parametrize(
    "make_key",
    [
        lambda self: self,
        lambda self: (self,),
        lambda self: (1, self),
        lambda self: ("a", (2, (self, 3))),
        lambda self: ((((self,),),),),
        lambda self: Ident("/x", (1, self)),
    ],
    ids=["self", "(self,)", "(1, self)", "nested", "deeply nested", "in a namedtuple"],
)
def test_a_key_holding_the_instance_raises_value_error(make_key, no_gc):
    calls = []

    class C:
        @boundcache.lru_cache(key=lambda self, x: make_key(self))
        def m(self, x):
            calls.append(x)
            return x

    obj = C()
    wr = weakref.ref(obj)
    with pytest.raises(ValueError, match="contains the instance itself") as info:
        obj.m(1)
    assert "drop key= to get a cache per instance" in str(info.value)
    assert "return values that identify the result" in str(info.value)
    with pytest.raises(ValueError, match="contains the instance itself"):
        C.m(obj, 2)
    assert calls == [] and C.m.cache_info() == (0, 0, 128, 0)
    del info
    del obj
    released()
    assert wr() is None


def test_a_key_holding_another_instance_is_allowed():
    class C:
        def __init__(self, peer=None):
            self.peer = peer

        @boundcache.lru_cache(key=lambda self, x: (self.peer, x))
        def m(self, x):
            return x

    peer = C()
    assert C(peer).m(1) == 1 and C(peer).m(1) == 1
    assert C.m.cache_info() == (1, 1, 128, 1)


def test_a_key_cache_on_a_classmethod_refuses_the_class_itself():
    class C:
        @classmethod
        @boundcache.lru_cache(key=lambda cls, x: x)
        def ok(cls, x):
            return (cls.__name__, x)

        @classmethod
        @boundcache.lru_cache(key=lambda cls, x: (cls, x))
        def holds_cls(cls, x):
            return x

    assert C.ok(1) == ("C", 1) and C.ok(1) == ("C", 1)
    with pytest.raises(ValueError, match="contains the instance itself"):
        C.holds_cls(1)


def test_a_key_cache_on_a_method_with_lock_and_ttl():
    now = [0.0]

    class C:
        def __init__(self, name):
            self.name = name

        @boundcache.lru_cache(key=lambda self, x: (self.name, x), ttl=5, timer=lambda: now[0], lock=True)
        def m(self, x):
            return [self.name, x]

    a, b = C("n"), C("n")
    first = a.m(1)
    assert b.m(1) is first
    now[0] = 5
    assert b.m(1) is not first
    assert C.m.cache_info() == (1, 2, 128, 1)


def test_a_key_cache_with_cyclic_results_is_collectable():
    # A result that refers back to its instance is held by the class-wide
    # cache (like any value), and freed with it.
    class C:
        @boundcache.lru_cache(key=lambda self, x: x)
        def m(self, x):
            return [self]

    obj = C()
    obj.m(1)
    wr = weakref.ref(obj)
    del obj
    gc.collect()
    assert wr() is not None  # held by the result in the class-wide cache
    C.m.cache_clear()
    released()
    assert wr() is None
