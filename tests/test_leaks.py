"""Refcount and leak sanity on a release build.

Exact refcounts of keys and values before and after caching, eviction,
clearing and owner death; weakref/finalize observation of freeing; and a
mixed workload whose object count and traced memory must settle.
"""

from __future__ import annotations

import copy
import gc
import sys
import weakref

import pytest

import boundcache
from boundcache._backend import core as _core

# Exact reference counts and tracemalloc are CPython's: an interpreter without
# reference counting (PyPy) frees at collections, which the lifetime tests of
# the other files cover (tests/cores.py, released()).
if sys.implementation.name != "cpython":
    pytest.skip("exact reference counts and tracemalloc (CPython)", allow_module_level=True)


@pytest.fixture
def nogc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Obj:
    """Hashable, weak-referenceable, equal by value."""

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        return hash(self.v)

    def __eq__(self, other):
        return isinstance(other, Obj) and other.v == self.v


# ---- exact refcounts ----


@pytest.mark.parametrize("maxsize", [None, 1, 2])
@pytest.mark.parametrize("typed", [False, True])
def test_function_refcounts_restored(maxsize, typed, nogc):
    key, kwval, value = Obj("k"), Obj("kw"), Obj("value")
    base = sys.getrefcount(key), sys.getrefcount(kwval), sys.getrefcount(value)

    @boundcache.lru_cache(maxsize=maxsize, typed=typed)
    def f(*args, **kwargs):
        return value

    for _ in range(3):
        f(key, a=kwval)  # miss then hits
        f(key)
    assert sys.getrefcount(value) > base[2]
    f.cache_clear()
    assert (sys.getrefcount(key), sys.getrefcount(kwval), sys.getrefcount(value)) == base
    for i in range(5):  # evictions through a bounded cache
        f(key, i)
        f(i, a=kwval)
    f.cache_clear()
    assert (sys.getrefcount(key), sys.getrefcount(kwval), sys.getrefcount(value)) == base


@pytest.mark.parametrize("maxsize", [None, 0, 1, 3])
def test_refcounts_restored_on_error_paths(maxsize, nogc):
    key, value = Obj("k"), Obj("value")

    class BadHash:
        def __hash__(self):
            raise ValueError("hash")

    class BadEq(Obj):
        __hash__ = Obj.__hash__

        def __eq__(self, other):
            raise ValueError("eq")

    @boundcache.lru_cache(maxsize=maxsize)
    def f(*args, **kwargs):
        if kwargs.get("fail"):
            raise KeyError("fail")
        return value

    base = sys.getrefcount(key), sys.getrefcount(value)
    for _ in range(3):
        f.cache_clear()
        with pytest.raises(KeyError):
            f(key, fail=True)
        if maxsize != 0:
            with pytest.raises(ValueError):
                f(key, BadHash())
            f(key, BadEq(1))
            with pytest.raises(ValueError):
                f(key, BadEq(1))  # the stored BadEq's __eq__ raises
        if maxsize != 0:
            with pytest.raises(TypeError, match="unhashable"):
                f(key, [1], a=key)
        else:
            f(key, [1], a=key)
    f.cache_clear()
    assert (sys.getrefcount(key), sys.getrefcount(value)) == base


def test_method_refcounts_restored_on_owner_death(nogc):
    key, value = Obj("k"), Obj("value")
    base = sys.getrefcount(key), sys.getrefcount(value)

    class A:
        @boundcache.lru_cache(maxsize=2)
        def m(self, *args):
            return value

    for _ in range(3):
        a = A()
        a.m(key)
        a.m(key, 1)
        a.m(key, 2)  # evicts (key,)
        A.m(a, key)
        assert sys.getrefcount(value) > base[1]
        del a
        assert (sys.getrefcount(key), sys.getrefcount(value)) == base
    assert A.m.cache_info().currsize == 0


# ---- freeing, observed by weakref.finalize ----


def _owner_classes():
    class WithDict:
        @boundcache.lru_cache(maxsize=2)
        def m(self, x):
            return Obj(("value", x))

    class WithSlot:
        __slots__ = ("__boundcache__",)

        @boundcache.lru_cache(maxsize=2)
        def m(self, x):
            return Obj(("value", x))

    class WeakOnly:
        __slots__ = ("__weakref__",)

        @boundcache.lru_cache(maxsize=2)
        def m(self, x):
            return Obj(("value", x))

    return [WithDict, WithSlot, WeakOnly]


@pytest.mark.parametrize("cls_index", [0, 1, 2])
def test_values_freed_on_evict_clear_and_owner_death(cls_index, nogc):
    Cls = _owner_classes()[cls_index]
    weak_before = len(_core._weak_table_containers())
    freed = []
    obj = Cls()

    def cached(x):
        v = obj.m(x)
        weakref.finalize(v, freed.append, x)
        return v

    cached(1)
    cached(2)
    cached(3)  # evicts 1
    assert freed == [1]
    obj.m(2)
    cached(4)  # evicts 3 (2 was used more recently)
    assert freed == [1, 3]
    obj.m.cache_clear()
    assert sorted(freed) == [1, 2, 3, 4]
    cached(5)
    cached(6)
    del obj
    assert sorted(freed) == [1, 2, 3, 4, 5, 6]
    assert Cls.m.cache_info().currsize == 0
    assert len(_core._weak_table_containers()) == weak_before


def test_result_referring_to_owner_is_collectable():
    class Node:
        @boundcache.lru_cache
        def me(self):
            return self

        @boundcache.cache
        def child(self, n):
            c = Node()
            c.parent = self
            return c

    gc.collect()
    n = Node()
    assert n.me() is n
    n.child(1).child(2)
    wr = weakref.ref(n)
    del n
    gc.collect()
    assert wr() is None
    assert Node.me.cache_info().currsize == 0
    assert Node.child.cache_info().currsize == 0


def test_classmethod_cache_does_not_keep_class_alive():
    def make():
        class Runtime:
            @classmethod
            @boundcache.lru_cache
            def cm(cls, x):
                return (cls.__name__, x)

        return Runtime

    R = make()
    assert R.cm(1) == ("Runtime", 1)
    wr = weakref.ref(R)
    del R
    gc.collect()
    assert wr() is None


# ---- shallow copies (contract 3.4: a copy starts empty, entries die with their owner) ----


def test_shallow_copy_does_not_keep_dead_owners_entries(nogc):
    # BUG: copy.copy(obj) copies obj.__dict__ including the '__boundcache__'
    # container itself (its __copy__ is not used for the values of a copied
    # __dict__). The copy's container is ignored for the copy (owner check)
    # but keeps the original's entries alive after the original dies, and
    # Cls.m.cache_info() still counts them in currsize.
    class A:
        @boundcache.lru_cache
        def m(self, x):
            return Obj(x)

    a = A()
    v = a.m(1)
    wv = weakref.ref(v)
    del v
    b = copy.copy(a)
    del a
    assert wv() is None, "entry of a dead instance kept alive by a shallow copy"
    assert A.m.cache_info().currsize == 0
    assert b.m.cache_info() == (0, 0, 128, 0)


def test_copy_of_copy_never_inherits_a_dead_owners_entries(nogc):
    # BUG (same root cause, worse): the shared container keeps the dead
    # owner's address as its identity. A copy of the copy that is allocated
    # at the dead owner's address passes the owner check and starts with
    # the dead owner's entries and statistics.
    class A:
        @boundcache.lru_cache
        def m(self, x):
            return ("computed for", id(self))

    reused = 0
    for _ in range(200):
        a = A()
        a.m(1)
        old_id = id(a)
        b = copy.copy(a)
        del a
        d = copy.copy(b)
        if id(d) == old_id:
            reused += 1
            assert d.m.cache_info() == (0, 0, 128, 0), "a fresh copy starts with another instance's cache"
            assert d.m(1) == ("computed for", id(d))
        del b, d


def test_deepcopy_and_pickle_start_empty(nogc):
    import pickle

    a = _Picklable()
    a.m(1)
    for c in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert c.m.cache_info() == (0, 0, 128, 0)
        assert c.m(1) == (id(c), 1)
    assert a.m(1) == (id(a), 1)


class _Picklable:
    @boundcache.lru_cache
    def m(self, x):
        return (id(self), x)


# ---- settling of a mixed workload ----


class _Owner:
    @boundcache.lru_cache(maxsize=8)
    def m(self, x, y=0):
        return [x, y]

    @boundcache.cache
    def u(self, x):
        return {x: self.__class__}

    @boundcache.cached_property
    def p(self):
        return [self]


class _Slotted:
    __slots__ = ("__boundcache__", "__weakref__")

    @boundcache.lru_cache(maxsize=3)
    def m(self, x):
        return (x, [x])

    @boundcache.cached_property
    def p(self):
        return [1]


class _WeakOnly:
    __slots__ = ("__weakref__",)

    @boundcache.lru_cache(maxsize=3)
    def m(self, x):
        return [x]


@boundcache.lru_cache(maxsize=16, typed=True)
def _bounded(*args, **kwargs):
    return [args, kwargs]


@boundcache.cache
def _unbounded(x):
    return str(x)


def _workload():
    for i in range(300):
        _bounded(i % 40, k=str(i % 7))
        _bounded((i, 1.0), Obj(i % 20))
        try:
            _bounded([i])
        except TypeError:
            pass
        _unbounded(i % 50)
        o = _Owner()
        o.m(i % 11, y=i % 3)
        o.m(i % 11, y=i % 3)
        o.u(i)
        o.p  # noqa: B018
        if i % 5 == 0:
            o.m.cache_clear()
        s = _Slotted()
        s.m(i % 5)
        s.p  # noqa: B018
        del s.p
        w = _WeakOnly()
        w.m(i)
        w.m(i + 1)
        if i % 50 == 0:
            _Owner.m.cache_clear()
    _unbounded.cache_clear()


def test_mixed_workload_object_count_settles():
    gc.collect()
    for _ in range(3):
        _workload()
    gc.collect()
    counts = []
    for _ in range(6):
        _workload()
        gc.collect()
        counts.append(len(gc.get_objects()))
    assert max(counts) - min(counts) < 50, counts
    assert counts[-1] <= counts[0] + 10, counts


def test_mixed_workload_traced_memory_settles():
    gc.collect()
    import tracemalloc

    tracemalloc.start()
    try:
        for _ in range(3):
            _workload()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(8):
            _workload()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # 8 x 300 iterations: a leak of even one small object per call would be
    # hundreds of kilobytes.
    assert grown < 40_000, grown


def test_weak_table_emptied_when_owners_die(nogc):
    before = len(_core._weak_table_containers())
    objs = [_WeakOnly() for _ in range(50)]
    for o in objs:
        o.m(1)
    assert len(_core._weak_table_containers()) == before + 50
    del o
    objs.clear()
    assert len(_core._weak_table_containers()) == before
