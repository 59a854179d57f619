"""A representative subset of boundcache's code paths, small enough for
valgrind memcheck (about 50 times slower than native). .ci/hardening runs it as

    PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \\
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
        --suppressions=/usr/lib/valgrind/python3.supp \\
        --suppressions=tests/hardening/cpython.supp python valgrind_subset.py

Each section prints "ok <name>"; any invalid read or write, use of an
uninitialised value, bad free or definite leak makes valgrind exit 1.
Covered: function caches (hits, misses, eviction, typed, keyword keys,
maxsize 0 and None, exceptions, unhashable keys, recursion), method caches on
the three storage kinds, per-class views and clears, cached_property, owner
death mid-call, keys whose hash/eq raise or clear the cache, copy/pickle of
instances, threads, and caches still alive at exit.
"""

from __future__ import annotations

import copy
import gc
import pickle
import threading
import weakref

import boundcache


def ok(name):
    print("ok", name, flush=True)


# ---- functions ----
@boundcache.lru_cache(maxsize=4, typed=True)
def f(x, y=0):
    if x == "boom":
        raise ValueError(x)
    return (x, y)


for i in range(20):
    assert f(i % 7, y=i % 2) == (i % 7, i % 2)
    assert f(float(i % 3)) == (float(i % 3), 0)
try:
    f("boom")
except ValueError:
    pass
try:
    f([1])
except TypeError as e:
    assert "unhashable" in str(e)
assert f.cache_info().currsize == 4
f.cache_clear()


@boundcache.cache
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


assert fib(200) > 0
z = boundcache.lru_cache(maxsize=0)(lambda x: x)
assert z(1) == 1 and z.cache_info().misses == 1
ok("functions")


# ---- methods on the three storage kinds ----
class D:
    def __init__(self, n):
        self.n = n

    @boundcache.lru_cache(maxsize=3)
    def m(self, x):
        return [self.n, x]

    @boundcache.cached_property
    def p(self):
        return self.n * 2


class S:
    __slots__ = ("n", "__boundcache__", "__weakref__")

    def __init__(self, n):
        self.n = n

    @boundcache.lru_cache(maxsize=3)
    def m(self, x):
        return [self.n, x]

    @boundcache.cached_property
    def p(self):
        return self.n * 2


class W:
    __slots__ = ("n", "__weakref__")

    def __init__(self, n):
        self.n = n

    @boundcache.lru_cache(maxsize=3)
    def m(self, x):
        return [self.n, x]


for cls in (D, S, W):
    objs = [cls(i) for i in range(5)]
    refs = [weakref.ref(o) for o in objs]
    for o in objs:
        for x in (1, 2, 1, 3, 4, 1):
            assert o.m(x) == [o.n, x]
        if cls is not W:
            assert o.p == o.n * 2 and o.p == o.n * 2
            del o.p
            assert o.p == o.n * 2
    assert cls.m.cache_info().currsize == 15
    objs[0].m.cache_clear()
    assert cls.m.cache_info().currsize == 12
    if cls is not W:
        c = copy.copy(objs[1])
        assert c.m.cache_info().currsize == 0 and c.m(9) == [1, 9]
        assert pickle.loads(pickle.dumps(objs[2])).n == 2 if cls is D else True
        del c
    cls.m.cache_clear()
    assert cls.m.cache_info() == (0, 0, 3, 0)
    for o in objs:
        o.m(7)
    del o, objs
    assert all(r() is None for r in refs)
    assert cls.m.cache_info().currsize == 0
ok("methods")


# ---- the owner dies mid-call; hostile keys ----
class K:
    def __init__(self, i, action=None):
        self.i, self.action = i, action

    def __hash__(self):
        if self.action == "hash-raise":
            raise KeyError("hash")
        return 0

    def __eq__(self, other):
        if self.action == "eq-raise":
            raise KeyError("eq")
        if self.action == "eq-drop" or getattr(other, "action", None) == "eq-drop":
            holder.clear()
        if self.action == "eq-clear":
            Owner.m.cache_clear()
        return self.i == getattr(other, "i", None)


holder = {}
for kind in ("dict", "slot", "weak"):
    ns = {"m": boundcache.lru_cache(maxsize=4)(lambda self, k: k.i)}
    if kind != "dict":
        ns["__slots__"] = ("__weakref__",) + (("__boundcache__",) if kind == "slot" else ())
    Owner = type("Owner", (), ns)
    holder["o"] = Owner()
    bm = holder["o"].m
    for i in range(6):
        assert bm(K(i)) == i
    for action in ("hash-raise", "eq-raise", "eq-clear", "eq-drop"):
        for i in (1, 2, 7):
            try:
                assert bm(K(i, action)) == i
            except KeyError:
                pass
    bm.cache_clear()
    assert bm(K(2)) == 2
    assert bm(K(2, "eq-drop")) == 2  # K(2) compares: drops the last outside reference
    assert not holder
    r = weakref.ref(bm.__self__)
    del bm
    assert r() is None
ok("hostile keys")


# ---- threads ----
@boundcache.lru_cache(maxsize=16)
def g(x):
    return x * 2


shared = [D(i) for i in range(4)]


def work(t):
    for i in range(300):
        assert g(i % 40) == (i % 40) * 2
        o = shared[i % 4]
        assert o.m(i % 5) == [o.n, i % 5]
        if i % 50 == t:
            shared[(i + t) % 4] = D((i + t) % 4)
        if i % 97 == 0:
            g.cache_clear()


threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ok("threads")

# ---- alive at exit: module-level caches with entries, instances, cycles ----
keep = [D(i) for i in range(3)] + [S(i) for i in range(3)] + [W(i) for i in range(3)]
for o in keep:
    o.m(1)
cyc = D(99)
cyc.self_ref = cyc
cyc.m(2)
del o
gc.collect()
ok("exit")
