"""Regression tests for issue 15, items 2 to 6 and 8: user code that reaches
boundcache's internals while they are torn down or in use, and owners whose
storage is unusual.

The scenarios that crashed (double free, use after free, a wrong object cast
to a container) run in a child interpreter, so that a crash fails its test
instead of the whole run; it inherits the environment (an ASan run's
LD_PRELOAD included)."""

import copy
import gc
import os
import pickle
import subprocess
import sys
import textwrap
import weakref

import pytest

import boundcache
from cores import PURE, WITHOUT_WEAKREFS, released
from boundcache._backend import core as _core


def run_isolated(code):
    """Runs `code` in a fresh interpreter; its last line of output must be OK.
    The code can import tests/cores.py as the tests do.

    With BOUNDCACHE_TESTS_IN_PROCESS set (the refleak stage of
    .ci/hardening, which needs the references counted here), it runs in this
    process instead, in a namespace of its own."""
    code = textwrap.dedent(code)
    if os.environ.get("BOUNDCACHE_TESTS_IN_PROCESS"):
        was_enabled = gc.isenabled()
        try:
            exec(compile(code, "<isolated>", "exec"), {"__name__": "isolated"})
        finally:
            if was_enabled:
                gc.enable()
        return
    path = os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )


# ---- item 2: a wrapper torn down while user code runs ----


@pytest.mark.parametrize("where", ["finalize", "result_del", "closure_del"])
def test_user_code_run_by_a_dying_wrapper_cannot_reach_it(where):
    # A dying wrapper runs user code: weakref callbacks, the finalizers of the
    # entries it releases and of its function's closure. Before the fix that
    # code could still reach the wrapper through the instances' caches
    # (audit() reads InstanceCaches._contents()) and free it a second time.
    run_isolated(
        f"""
        import gc, weakref, boundcache
        from boundcache._backend import core as _core
        from cores import REFCOUNTED, released
        gc.collect()  # (in process: earlier runs' classes of the same names)
        gc.disable()
        WHERE = {where!r}
        seen = []

        def look():
            # What audit() does, and audit() itself.
            for o in gc.get_objects():
                if type(o) is _core.InstanceCaches:
                    for w, items in o._contents():
                        seen.append((w.__qualname__, len(items)))
            if REFCOUNTED:  # (audit() counts references: PyPy has none, it raises RuntimeError)
                boundcache.audit(collect=False)

        class OnDel:
            def __del__(self):
                look()

        def make():
            hook = OnDel() if WHERE == "closure_del" else None

            @boundcache.lru_cache
            def f(self, x):
                # Function semantics keep OnDel results in the wrapper's own
                # table, released when it dies; reached through an instance
                # (C.g below) the same wrapper keeps per-instance caches.
                return OnDel() if WHERE == "result_del" else [x]

            class C:
                @boundcache.lru_cache
                def m(self, x):
                    hook
                    return [x]

                @boundcache.lru_cache
                def other(self, x):
                    return x

            C.g = f
            return C, f

        C, f = make()
        objs = [C() for _ in range(3)]
        for o in objs:
            o.m(1)
            o.g(1)
            o.other(2)
        f(None, 1)
        if WHERE == "result_del":
            w = f
            del f, C.g
        else:
            del f
            w = C.__dict__["m"]
        if WHERE == "finalize":
            weakref.finalize(w, look)
        del w
        if WHERE != "result_del":
            del C.m  # the last reference: the wrapper dies by refcount
        released()  # (PyPy: it dies at the next collection)
        assert seen, "the hook did not run"
        dying = "make.<locals>.f" if WHERE == "result_del" else "make.<locals>.C.m"
        assert all(name != dying for name, _ in seen), seen
        # The instances' caches for the dead wrapper are gone; the other
        # method's still work.
        assert [o.other(2) for o in objs] == [2, 2, 2]
        assert C.other.cache_info().hits == 3
        print("OK")
        """
    )


def test_user_code_run_by_a_dying_wrapper_sees_no_instance_cache_for_it(no_gc):
    # In process, without the crash: a finalize on the wrapper finds every
    # instance's cache for it already detached.
    class C:
        @boundcache.lru_cache
        def m(self, x):
            return [x]

    objs = [C() for _ in range(4)]
    for o in objs:
        o.m(1)
    found = []

    def look():
        for o in objs:
            found.extend(w for w, _ in vars(o)["__boundcache__"]._contents())

    weakref.finalize(C.__dict__["m"], look)
    del C.m
    assert found == []


# ---- item 3: the weak table is not reachable ----


def test_weak_table_cannot_be_tampered_with_from_python():
    # The weak table was a dict that gc.get_referrers() of a container
    # returned; a value of another type stored under an owner's key was then
    # cast to a container and used (segfault).
    run_isolated(
        """
        import gc, boundcache
        from boundcache._backend import core as _core

        class W:
            __slots__ = ("__weakref__", "n")

            def __init__(self, n):
                self.n = n

            @boundcache.lru_cache
            def m(self, x):
                return (self.n, x)

        objs = [W(i) for i in range(5)]
        for o in objs:
            o.m(1)
        containers = _core._weak_table_containers()
        assert len(containers) == 5
        tampered = 0
        for c in containers:
            for ref in gc.get_referrers(c):
                if isinstance(ref, dict):
                    for k, v in list(ref.items()):
                        if v is c:
                            ref[k] = "not a container"
                            tampered += 1
        del containers, c, ref
        for o in objs:
            assert o.m(1) == (o.n, 1)
            assert o.m(2) == (o.n, 2)
        # The C++ core's table cannot be reached (only this script's own
        # globals were tampered with); the pure core's is a dict, whose
        # foreign values are never used: each owner starts afresh.
        assert W.m.cache_info().hits == (0 if _core.__name__ == "boundcache._pure" else 5)
        print("tampered", tampered)
        print("OK")
        """
    )


@pytest.mark.c_core("the weak table is a C++ map; the pure core's is a dict, checked on every read instead")
def test_weak_table_is_not_reachable_from_python():
    # Reachable means: some dict maps a key to the container.
    class W:
        __slots__ = ("__weakref__",)

        @boundcache.lru_cache
        def m(self):
            return 1

    w = W()
    w.m()
    (c,) = [c for c in _core._weak_table_containers() if c._weak_owner is w]
    assert not [r for r in gc.get_referrers(c) if isinstance(r, dict) and c in r.values()]
    assert not hasattr(_core, "_weak_table")


@pytest.mark.parametrize("storage", ["dict", "slot", "class"])
def test_foreign_objects_under_boundcache_are_never_used_as_containers(storage, no_gc):
    # Whatever user code stores under "__boundcache__" (it is reachable:
    # vars(obj), a slot, the class dict) is type- and owner-checked.
    calls = []

    if storage == "slot":

        class C:
            __slots__ = ("__boundcache__",)

            @boundcache.lru_cache
            def m(self, x):
                calls.append(x)
                return x

    else:

        class C:
            @boundcache.lru_cache
            def m(self, x):
                calls.append(x)
                return x

            @classmethod
            @boundcache.lru_cache
            def f(cls, x):
                calls.append(("f", x))
                return x

    obj = C()
    other = C()
    other.m(0)
    if storage == "class":
        assert C.f(1) == 1
        assert type(vars(C)["__boundcache__"]) is _core.InstanceCaches
    for bad in (42, "x", [], other.__boundcache__, _core.InstanceCaches(), None):
        if storage == "class":
            type.__setattr__(C, "__boundcache__", bad)
            assert C.f(1) == 1
        else:
            obj.__boundcache__ = bad
            assert obj.m(1) == 1
    assert obj.m(1) == 1
    if storage == "class":
        # The first foreign value displaced the class's cache; from then on
        # the class's cache lives in the weak table, where it cannot be hidden.
        assert C.f(1) == 1
        assert calls.count(("f", 1)) == 2
    else:
        assert calls.count(1) == 6  # one miss per replaced container, then a hit


# ---- item 4: the weakref callback called by hand ----


@pytest.mark.parametrize("second", [False, True])
def test_weakref_callback_called_by_hand_during_a_call_frees_nothing(second):
    # The container's weakref callback (owner_died) is reachable as
    # container.__callback__. Called by hand during a call it freed the
    # caches that call was using: a use after free on a second cached
    # method's cache (ASan), a leaked reference per call on the first.
    run_isolated(
        f"""
        import sys, weakref, boundcache
        from cores import released

        class C:
            @boundcache.lru_cache
            def first(self, x):
                return self.work(x)

            @boundcache.lru_cache
            def second(self, x):
                return self.work(x)

            def work(self, x):
                c = vars(self)["__boundcache__"]
                c.__callback__(c)
                c.__callback__(None)
                c.__callback__(42)
                return Result(x)

        class Result:
            def __init__(self, x):
                self.x = x

        meth = C.second if {second!r} else C.first
        obj = C()
        obj.first(-1)  # the container exists, with the first cache in it
        results = [meth(obj, i) for i in range(50)]
        again = [meth(obj, i) for i in range(50)]
        assert all(a is b for a, b in zip(results, again)), "entries were lost"
        info = meth.cache_info()
        extra = 0 if {second!r} else 1  # obj.first(-1)
        assert (info.hits, info.misses, info.currsize) == (50, 50 + extra, 50 + extra), info
        # No reference leaked: the results die with the cache.
        freed = []
        for r in results:
            weakref.finalize(r, freed.append, 1)
        del r, results, again
        meth.cache_clear()
        released()
        assert len(freed) == 50, len(freed)
        print("OK")
        """
    )


def test_weakref_callback_still_empties_the_container_when_the_owner_dies(no_gc):
    class C:
        @boundcache.lru_cache
        def m(self, x):
            return Result([x])

    a = C()
    a.m(1)
    freed = []
    weakref.finalize(a.m(2), freed.append, 1)
    b = copy.copy(a)  # shares the container
    shared = vars(b)["__boundcache__"]
    del a
    released()
    assert freed == [1]
    assert repr(shared) == "<boundcache caches: 0 methods, 0 entries, 0 properties>"
    assert b.m(1) == [1]


# ---- item 5: owners with a __dict__ but no weak references ----


class Result(list):
    """A result that weak references (and so weakref.finalize) accept."""


# Before 3.12 nothing tells boundcache when such an owner dies: they are
# served as functools (docs/methods.md), which test_served_as_functools_before_312 checks.
before_312 = sys.version_info < (3, 12)
_before_312_skip = pytest.mark.skipif(before_312, reason="served as functools before 3.12: test_served_as_functools_before_312")
# The dict watcher that keeps such owners' caches per instance is the C++
# core's: the pure core serves them as functools does (docs/design.md).
_watched = pytest.mark.c_core("the dict watcher (CPython 3.12+) of owners without weak references")


def needs_312(test):
    return _watched(_before_312_skip(test))


class IntOwner(int):
    calls = 0

    @boundcache.lru_cache
    def m(self):
        type(self).calls += 1
        return Result([int(self), type(self).calls])


@needs_312
def test_copy_of_owner_without_weakrefs_starts_empty(no_gc):
    a = IntOwner(1)
    a.tag = "a"
    first = a.m()
    assert a.m() is first
    b = copy.copy(a)
    assert vars(b)["__boundcache__"] is vars(a)["__boundcache__"]
    assert b.m() is not first
    for clone in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert clone == a and clone.tag == "a"
        assert clone.m() is not first
        assert clone.m() is clone.m()


@needs_312
def test_owner_without_weakrefs_never_sees_a_dead_owners_entries(no_gc):
    # a caches, b = copy(a) shares a's container without using it, a dies;
    # copies of b are then allocated, some at a's old address (and with a
    # dict at a's old dict's address). Before the fix the one at a's
    # address was served a's result.
    a = IntOwner(7)
    a.tag = "a"
    served = a.m()
    old_id = id(a)
    b = copy.copy(a)
    del a
    reused = 0
    for _ in range(50):
        c = copy.copy(b)
        reused += id(c) == old_id
        got = c.m()
        assert got is not served and got[1] != served[1]
        del c, got
        if reused >= 3:
            break
    del served


@needs_312
def test_owner_without_weakrefs_entries_die_with_it_while_a_copy_holds_them(no_gc):
    freed = []
    a = IntOwner(3)
    a.tag = "a"
    weakref.finalize(a.m(), freed.append, "a's result")
    b = copy.copy(a)
    del a
    assert freed == ["a's result"]
    assert b.m()[0] == 3


@needs_312
def test_owner_without_weakrefs_copy_of_a_dead_copy_is_never_served(no_gc):
    # The sequence that only a death signal rules out: the last copy holds
    # the ticket alone, at the dead original's address, its dict at the dead
    # original's dict's address (free lists make both likely).
    reused = 0
    for _ in range(30):
        a = IntOwner(5)
        a.tag = "a"
        served = a.m()
        old_id = id(a)
        b = copy.copy(a)
        del a
        c = copy.copy(b)
        del b
        reused += id(c) == old_id
        assert c.m() is not served
        del c, served
    # (Without address reuse, here about every time, nothing is at stake.)


@pytest.mark.parametrize("base", [int, bytes, tuple, "namedtuple"])
@needs_312
def test_owner_without_weakrefs_entries_die_with_it(base, no_gc):
    if base == "namedtuple":
        import collections

        base = collections.namedtuple("P", "x")

    class Owner(base):
        @boundcache.lru_cache
        def m(self):
            return Result([1])

    freed = []
    a = Owner(1) if hasattr(base, "_fields") else Owner()
    a.tag = 1
    weakref.finalize(a.m(), freed.append, 1)
    assert a.m() is a.m()
    del a
    assert freed == [1]
    assert Owner.m.cache_info().currsize == 0


@pytest.mark.skipif(not (before_312 or PURE), reason="3.12+ keeps their caches: the tests above")
@WITHOUT_WEAKREFS
@pytest.mark.parametrize("base", [int, bytes, tuple, "namedtuple"])
def test_served_as_functools_before_312(base, no_gc):
    # No death signal before 3.12: served as functools serves them (contract
    # 3.5), keyed by value, equal values sharing, nothing in their __dict__.
    if base == "namedtuple":
        import collections

        base = collections.namedtuple("P", "x")

    class Owner(base):
        @boundcache.lru_cache
        def m(self):
            return Result([1])

    def make():
        return Owner((1,)) if base is tuple else Owner(1) if hasattr(base, "_fields") else Owner()

    a = make()
    first = a.m()
    assert a.m() is first and make().m() is first
    assert "__boundcache__" not in vars(a)
    assert [key for key, _ in Owner.m._entries()] == [(a,)]
    assert Owner.m.cache_info() == a.m.cache_info() == (2, 1, 128, 1)


# ---- item 6: a cached classmethod under an inherited __boundcache__ slot ----


def test_cached_classmethod_does_not_hide_an_inherited_boundcache_slot(no_gc):
    class Base:
        __slots__ = ("__boundcache__",)

    class Sub(Base):
        __slots__ = ()

        @classmethod
        @boundcache.lru_cache
        def make(cls, x):
            return [x]

        @boundcache.lru_cache
        def m(self, x):
            return [x]

        @boundcache.cached_property
        def p(self):
            return [0]

    made = Sub.make(1)
    assert Sub.make(1) is made
    assert "__boundcache__" not in vars(Sub)
    obj = Sub()
    assert obj.m(1) is obj.m(1)
    assert obj.p is obj.p
    assert Sub.m.cache_info().hits == 1
    # The class's cache does not keep a class made at run time alive.
    ref = weakref.ref(Sub)
    del Sub, obj
    gc.collect()
    released()
    assert ref() is None


def test_a_boundcache_property_added_to_a_base_later_is_respected(no_gc):
    # Where a class keeps its caches is decided again when the class or a
    # base changes: the C core remembers the last class's answer only while
    # CPython's version tag of that class is unchanged.
    stored = []

    class Base:
        pass

    class Sub(Base):
        @boundcache.lru_cache
        def m(self, x):
            return [x]

    for _ in range(3):  # fresh instances of a class in use: its answer is remembered
        early = Sub()
        assert early.m(1) is early.m(1)
        assert "__boundcache__" in vars(early)

    def setter(self, value):
        stored.append(value)

    Base.__boundcache__ = property(lambda self: None, setter)
    late = Sub()
    with pytest.warns(boundcache.PinningWarning, match=r"__boundcache__ is a property"):
        first = late.m(1)
    assert late.m(1) is first and stored == [] and "__boundcache__" not in vars(late)
    assert early.m(1) is early.m(1)  # an instance that already has its container keeps it


# ---- item 8: a read-only __boundcache__ property ----


def test_read_only_boundcache_property_serves_as_functools_with_a_clear_warning(no_gc):
    # The property is never asked to store anything: the class keeps the
    # name, and its instances are served as functools (contract 3.5).
    stored = []

    class C:
        @property
        def __boundcache__(self):
            return None

        @__boundcache__.setter
        def __boundcache__(self, value):
            stored.append(value)

        @boundcache.lru_cache
        def m(self, x):
            return [x]

    before = len(_core._weak_table_containers())
    c = C()
    with pytest.warns(boundcache.PinningWarning, match=r"__boundcache__ is a property.*Rename"):
        first = c.m(1)
    assert c.m(1) is first and stored == []
    assert len(_core._weak_table_containers()) == before
