"""What the cyclic GC sees of a cache.

A table whose keys and values are all atomic (ints, strs, tuples of them:
objects the GC never follows) is not traversed, so a collection costs the
same whatever the size of the cache. As soon as one key or value could be
part of a cycle the table is traversed again, and the cycle is collected.
Each test stores atomic entries first, then the one that closes a cycle,
then checks that gc.collect() frees it.
"""

from __future__ import annotations

import gc
import weakref

import pytest

import boundcache


class Node:
    """A result that can point back at whatever made it."""

    def __init__(self, back: object = None) -> None:
        self.back = back


def collected(make) -> bool:
    """Whether the object `make()` returns is freed by a collection once dropped."""
    ref = weakref.ref(make())
    gc.collect()
    return ref() is None


@pytest.mark.parametrize("maxsize", [None, 128, 1])
def test_function_cycle_after_atomic_entries_is_collected(no_gc, maxsize):
    def make():
        @boundcache.lru_cache(maxsize=maxsize)
        def f(x):
            return x * 2 if x < 100 else Node(f)

        for i in range(50):
            f(i)
        f(100)  # the result refers to f: f -> table -> Node -> f
        return f

    assert collected(make)


@pytest.mark.parametrize("maxsize", [None, 128])
def test_method_cycle_after_atomic_entries_is_collected(no_gc, maxsize):
    class Owner:
        @boundcache.lru_cache(maxsize=maxsize)
        def m(self, x):
            return str(x) if x else Node(self)

    def make():
        o = Owner()
        o.m(1)
        o.m("a")
        o.m(0)  # o -> __boundcache__ -> table -> Node -> o
        return o

    assert collected(make)


def test_key_that_closes_a_cycle_is_followed(no_gc):
    def make():
        @boundcache.cache
        def f(*args):
            return len(args)

        f(1, 2)
        f(("a", 1), "b")  # atomic tuple keys
        f(Node(f), 3)  # the key refers to f
        return f

    assert collected(make)


def test_typed_key_holding_a_class_is_followed(no_gc):
    def make():
        @boundcache.lru_cache(typed=True)
        def f(x, y):
            return 0

        class Local:
            cached = f  # the class refers to f, and f's key to the class

        f(1, 2)
        f(Local(), 1)
        return f

    assert collected(make)


def test_value_replaced_by_a_recursive_call_is_followed(no_gc):
    # Unbounded: the outer call stores its result over the one that the
    # recursive call stored for the same key (as functools does).
    def make():
        @boundcache.cache
        def g(x):
            if not getattr(g, "inner", False):
                g.inner = True
                g(x)  # stores an atomic result for x
                return Node(g)  # then this replaces it
            return 1

        g(7)
        assert isinstance(g(7), Node)
        return g

    assert collected(make)


def test_cycle_after_cache_clear_is_followed(no_gc):
    def make():
        @boundcache.cache
        def f(x):
            return Node(f) if x else 0

        f(1)
        f.cache_clear()
        f(0)
        f(1)
        return f

    assert collected(make)


@pytest.mark.c_core("the C++ tables' own traverse; the pure core's are dicts, which CPython untracks itself")
def test_atomic_entries_are_not_visited():
    @boundcache.cache
    def f(*args):
        return args[0]

    before = len(gc.get_referents(f))
    for i in range(100):
        f(i)
        f(i, "x", (i, 2.5))
    assert len(gc.get_referents(f)) == before

    obj = Node()
    f(obj)
    assert obj in gc.get_referents(f)


@pytest.mark.c_core("the C++ tables' own traverse; the pure core's are dicts, which CPython untracks itself")
def test_atomic_method_entries_are_not_visited():
    class Owner:
        @boundcache.lru_cache
        def m(self, x):
            return x

    o = Owner()
    o.m(1)
    o.m("s")
    container = o.__dict__["__boundcache__"]
    assert 1 not in gc.get_referents(container)
    assert "s" not in gc.get_referents(container)
