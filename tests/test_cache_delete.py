"""cache_delete(*args, **kwargs): the entry a call would use, removed; True if there was one (contract 8)."""

import asyncio
import sys
import warnings

import pytest
from cores import WEAK_REFERENCES_EVERYWHERE

import boundcache


@pytest.mark.parametrize("options", [{"maxsize": 2}, {"maxsize": None}, {"typed": True}, {"ttl": 60}, {"lock": True}])
def test_functions_of_every_kind(options):
    calls = []

    @boundcache.lru_cache(**options)
    def f(x, y=0):
        calls.append((x, y))
        return x + y

    f(1), f(2, y=3)
    assert f.cache_delete(1) is True
    assert f.cache_delete(1) is False
    assert f.cache_delete(2, 3) is False  # keywords are part of the key, as in functools
    assert f.cache_delete(2, y=3) is True
    assert f.cache_info().currsize == 0
    f(1)
    assert calls == [(1, 0), (2, 3), (1, 0)]
    hits_before = f.cache_info().hits
    f(1)
    assert f.cache_info().hits == hits_before + 1  # deleting leaves the statistics alone


def test_uncached_and_unhashable():
    f = boundcache.lru_cache(maxsize=0)(lambda x: x)
    f(1)
    assert f.cache_delete(1) is False
    g = boundcache.lru_cache(lambda x: x)
    with pytest.raises(TypeError, match="unhashable"):
        g.cache_delete([1])


def test_an_expired_entry_is_not_reported():
    now = [0.0]
    f = boundcache.lru_cache(ttl=10, timer=lambda: now[0])(lambda x: x)
    f(1)
    now[0] = 11
    assert f.cache_delete(1) is False
    assert f.cache_info().currsize == 0


class Image:
    def __init__(self, name):
        self.name = name

    @boundcache.lru_cache
    def resized(self, size):
        return (self.name, size)

    @boundcache.lru_cache(key=lambda self, path: path)
    def load(self, path):
        return (self.name, path)


def test_per_instance_methods():
    a, b = Image("a"), Image("b")
    a.resized(1), b.resized(1)
    assert a.resized.cache_delete(1) is True
    assert a.resized.cache_delete(1) is False
    assert b.resized.cache_info().currsize == 1  # only a's cache
    assert Image.resized.cache_delete(b, 1) is True
    assert Image.resized.cache_info().currsize == 0


def test_key_methods_share_one_cache():
    a, b = Image("a"), Image("b")
    assert a.load("p") == ("a", "p")
    assert b.load.cache_delete("p") is True  # one cache for the class, keyed by path
    assert b.load("p") == ("b", "p")
    assert Image.load.cache_delete(a, "p") is True


def test_async_functions_and_methods():
    calls = []

    @boundcache.lru_cache
    async def fetch(x):
        calls.append(x)
        return x * 2

    class Api:
        @boundcache.lru_cache
        async def get(self, x):
            calls.append(("get", x))
            return x

    api = Api()

    async def main():
        await fetch(1)
        assert fetch.cache_delete(1) is True
        assert fetch.cache_delete(1) is False
        await fetch(1)
        await api.get(2)
        assert api.get.cache_delete(2) is True
        assert Api.get.cache_delete(api, 2) is False
        await api.get(2)

    asyncio.run(main())
    assert calls == [1, 1, ("get", 2), ("get", 2)]


def test_staticmethods_and_classmethods():
    class C:
        @staticmethod
        @boundcache.lru_cache
        def s(x):
            return x

        @classmethod
        @boundcache.lru_cache
        def c(cls, x):
            return x

    C.s(1), C.c(1), C.c(2)
    assert C.s.cache_delete(1) is True
    # The class's cache through the wrapper itself, on every version (docs/methods.md: from 3.13,
    # classmethod no longer passes the class to the wrapper's __get__, so C.c.cache_delete cannot see C)
    assert vars(C)["c"].__func__.cache_delete(C, 1) is True
    assert vars(C)["c"].__func__.cache_delete(C, 1) is False
    if sys.version_info < (3, 13):
        assert C.c.cache_delete(2) is True


def test_owners_served_as_functools():
    # nowhere to keep a cache: one table for the wrapper, keyed (self, *args), as functools
    class Point:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

        @boundcache.lru_cache
        def shifted(self, d):
            return self.x + d

    p, q = Point(1), Point(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p.shifted(1)
    # PyPy: a slotted class takes weak references, so each instance keeps its own cache, unwarned.
    pinning = [w for w in caught if issubclass(w.category, boundcache.PinningWarning)]
    assert len(pinning) == (0 if WEAK_REFERENCES_EVERYWHERE else 1)
    q.shifted(1)
    assert p.shifted.cache_delete(1) is True
    assert p.shifted.cache_delete(1) is False
    assert Point.shifted.cache_delete(q, 1) is True
    assert Point.shifted.cache_info().currsize == 0
