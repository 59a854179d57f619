"""Contract 3.5 (issue 23): nothing functools serves is refused. An owner with
nowhere to keep a cache of its own, or whose death boundcache cannot observe,
is served exactly as functools serves it (one cache for the wrapper, keyed by
(self, *args)), with a PinningWarning where it is hashed by identity."""

import asyncio
import collections
import copy
import enum
import functools
import gc
import subprocess
import sys
import textwrap
import warnings
import weakref

import pytest

import boundcache
from cores import OWN_CACHES_WITHOUT_WEAKREF_SLOT, WEAK_REFERENCES_EVERYWHERE, WITHOUT_WEAKREFS, released

_NEEDS_312 = pytest.mark.skipif(sys.version_info < (3, 12), reason="per-instance only with a dict watcher, 3.12+")
# The dict watcher is the C++ core's: the pure core serves these owners as
# functools does on every version (docs/design.md).
_WATCHED = pytest.mark.c_core("the dict watcher (CPython 3.12+) of owners without weak references")


def NEEDS_312(test):  # noqa: N802 - used as the marker it was
    return _WATCHED(_NEEDS_312(test))


def _pair(make_class):
    """The same class made with functools.lru_cache and with boundcache.lru_cache."""
    return make_class(functools.lru_cache), make_class(boundcache.lru_cache)


def _slotted(lru, maxsize=2):
    class Slotted:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

        @lru(maxsize=maxsize)
        def m(self, k):
            return [self.x, k]

    return Slotted


@WITHOUT_WEAKREFS
@pytest.mark.parametrize("maxsize", [None, 0, 1, 2])
def test_slotted_class_is_functools_call_for_call(maxsize):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", boundcache.PinningWarning)
        ft, bc = _pair(lambda lru: _slotted(lru, maxsize))
        ft_objs, bc_objs = [ft(i) for i in range(3)], [bc(i) for i in range(3)]
        for i, k in [(0, 1), (1, 1), (0, 1), (2, 2), (0, 1), (1, 1), (0, 2), (2, 2), (1, 1)]:
            got, want = bc_objs[i].m(k), ft_objs[i].m(k)
            assert got == want
            # Same hits, misses and currsize after every call: same eviction order.
            assert bc.m.cache_info() == ft.m.cache_info()
            assert bc_objs[i].m.cache_info() == ft_objs[i].m.cache_info()
        # The one table: keys hold the instances, as functools' do.
        assert all(key[0] in bc_objs for key, _ in bc.m._entries())
        bc_objs[0].m.cache_clear()  # functools: obj.m.cache_clear() clears the one cache
        ft_objs[0].m.cache_clear()
        assert bc.m.cache_info() == ft.m.cache_info()


@WITHOUT_WEAKREFS
def test_warning_once_per_wrapper_and_class_naming_the_fix():
    class Base:
        __slots__ = ()

        @boundcache.lru_cache
        def m(self):
            return 1

        @boundcache.cache
        def n(self):
            return 2

    class Sub(Base):
        __slots__ = ("y",)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            Base().m(), Base().n(), Sub().m()
    messages = [str(w.message) for w in caught if w.category is boundcache.PinningWarning]
    assert len(messages) == 3  # (m, Base), (n, Base), (m, Sub)
    assert "Base.m for " in messages[0] and "Base instances" in messages[0]
    assert "until newer entries evict it" in messages[0]  # m is bounded (128)
    assert "for as long as the cache lives" in messages[1]  # n is cache()
    assert "Sub instances" in messages[2]
    assert all("Add '__boundcache__' (or '__weakref__') to " in m for m in messages)
    # Attributed to the caller's line, as functools' own warnings would be.
    assert all(w.filename == __file__ for w in caught)


@WITHOUT_WEAKREFS
def test_warning_as_error_is_a_refusal_every_time():
    Slotted = _slotted(boundcache.lru_cache)
    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        for _ in range(2):
            with pytest.raises(boundcache.PinningWarning):
                Slotted(1).m(1)
    assert Slotted.m.cache_info() == (0, 0, 2, 0)


@WITHOUT_WEAKREFS
def test_no_warning_for_owners_hashed_by_value():
    class Hashed:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

        def __eq__(self, other):
            return isinstance(other, Hashed) and other.x == self.x

        def __hash__(self):
            return hash(self.x)

        @boundcache.cache
        def m(self):
            return [self.x]

    Point = collections.namedtuple("Point", "x y")
    Point.m = boundcache.cache(lambda self: [self.x])

    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        first = Hashed(1).m()
        assert Hashed(1).m() is first  # equal values share an entry, as functools
        assert Point(1, 2).m() is Point(1, 2).m()


@WITHOUT_WEAKREFS
def test_unhashable_owner_gets_functools_error():
    class Unhashable:
        __slots__ = ()
        __hash__ = None

        @boundcache.cache
        def m(self):
            return 1

    class FtUnhashable:
        __slots__ = ()
        __hash__ = None

        @functools.cache
        def m(self):
            return 1

    with pytest.raises(TypeError) as ours, warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        Unhashable().m()
    with pytest.raises(TypeError) as theirs:
        FtUnhashable().m()
    assert str(ours.value) == str(theirs.value).replace("FtUnhashable", "Unhashable")


@WITHOUT_WEAKREFS
def test_pins_like_functools_and_is_freed_by_cache_clear(no_gc):
    finalized = []

    class Slotted:
        __slots__ = ("tag",)

        def __init__(self, tag):
            self.tag = tag

        def __del__(self):
            finalized.append(self.tag)

        @boundcache.cache
        def m(self):
            return self.tag

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", boundcache.PinningWarning)
        Slotted("a").m()
    assert finalized == []  # the trap, as with functools, and warned about
    Slotted.m.cache_clear()
    assert finalized == ["a"]


def test_boundcache_property_on_the_class_is_served_as_functools():
    class C:
        @property
        def __boundcache__(self):
            return None

        @boundcache.lru_cache
        def m(self, x):
            return [x]

    with pytest.warns(boundcache.PinningWarning, match=r"C.__boundcache__ is a property.*Rename"):
        c = C()
        first = c.m(1)
    assert c.m(1) is first and C.m.cache_info() == (1, 1, 128, 1)


@pytest.mark.parametrize(
    "options", [{"ttl": 60}, {"max_total": 2}, {"lock": True}, {"key": lambda self, k: k}], ids=str
)
def test_keyword_options_apply_to_the_one_table(options):
    class Slotted:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

        @boundcache.lru_cache(maxsize=4, **options)
        def m(self, k):
            return [self.x, k]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", boundcache.PinningWarning)
        a, b = Slotted(1), Slotted(2)
        first = a.m(1)
        assert a.m(1) is first
        if "key" in options:
            assert b.m(1) is first  # key= decides: one class-wide cache by value
        else:
            assert b.m(1) == [2, 1] and b.m(1) is not first
        assert Slotted.m.cache_info().hits == 2


def test_async_method_on_a_slotted_class():
    calls = []

    class Slotted:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

        @boundcache.lru_cache
        async def m(self, k):
            calls.append(k)
            await asyncio.sleep(0)
            if k < 0:
                raise ValueError(k)
            return [self.x, k]

    async def main():
        a = Slotted(1)
        first, second = await asyncio.gather(a.m(1), a.m(1))
        assert first is second and calls == [1]
        for _ in range(2):  # a failure is not cached: it is dropped from the one table
            with pytest.raises(ValueError):
                await a.m(-1)
        assert calls == [1, -1, -1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", boundcache.PinningWarning)
        asyncio.run(main())


class IntOwner(int):
    calls = 0

    @boundcache.lru_cache
    def m(self):
        type(self).calls += 1
        return [int(self), type(self).calls]


def test_int_subclass_with_dict_is_never_refused():
    # Issue 23 item 3: refused before 3.12 with "before Python 3.12".
    a = IntOwner(5)
    first = a.m()
    assert a.m() is first
    # Before 3.12 (and in the pure core, which has no dict watcher) served as
    # functools: equal values share. From 3.12, each its own; on PyPy too,
    # where an int subclass has weak references.
    assert (IntOwner(5).m() is first) == (not OWN_CACHES_WITHOUT_WEAKREF_SLOT)


@pytest.mark.skipif(not WEAK_REFERENCES_EVERYWHERE, reason="CPython: the tests above (served as functools)")
def test_owners_keep_their_own_caches_where_every_object_has_weak_references(no_gc):
    # PyPy: a slotted class without __weakref__, a slotted int subclass and a
    # named tuple subclass are weakly referenceable, so each instance owns
    # its caches (contract 3.5, the weak table), freed with it.
    Point = collections.namedtuple("Point", "x y")

    class Slotted:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

    class SlottedInt(int):
        __slots__ = ()

    class PointOwner(Point):
        __slots__ = ()

    for cls, make in [(Slotted, Slotted), (SlottedInt, SlottedInt), (PointOwner, lambda v: PointOwner(v, v))]:
        cls.m = boundcache.cache(lambda self, k: [k])
        with warnings.catch_warnings():
            warnings.simplefilter("error", boundcache.PinningWarning)
            a, b = make(1), make(1)
            first = a.m(0)
            assert a.m(0) is first and b.m(0) is not first, cls
        assert a.m.cache_info() == (1, 1, None, 1) and cls.m.cache_info() == (1, 2, None, 2), cls
        del a, b, first
        released()
        assert cls.m.cache_info().currsize == 0, cls


def test_int_and_str_enum_members_take_the_decorators():
    class Color(enum.IntEnum):
        RED = 1
        GREEN = 2

        @boundcache.lru_cache
        def describe(self):
            return f"{self.name}={self.value}"

    class Tag(str, enum.Enum):
        A = "a"

        @boundcache.cache
        def upper(self):
            return [self.value.upper()]

    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)  # hashed by value
        assert Color.RED.describe() == "RED=1" and Color.GREEN.describe() == "GREEN=2"
        assert Tag.A.upper() is Tag.A.upper()
    assert Color.RED.describe.cache_info().hits == 0 and Color.describe.cache_info().misses == 2


@NEEDS_312
def test_dict_outliving_its_owner_given_to_a_new_object_is_not_served(no_gc):
    # Issue 23 item 4: a's __dict__ outlives a and is given to b, at a's
    # address, with the same value. Before the fix b was served a's result.
    reused = 0
    for attempt in range(100):
        a = IntOwner(7)
        a.tag = "a"
        served = a.m()
        old_id, kept = id(a), a.__dict__
        del a
        b = IntOwner(7)
        reused += id(b) == old_id
        b.__dict__ = kept
        if attempt % 2:
            del kept  # then only b holds it
        got = b.m()
        assert got is not served and got[1] != served[1]
        del b, got, served
    assert reused  # (address reuse is what is at stake; it happens nearly every time)


@NEEDS_312
def test_borg_shared_dict_is_served_as_functools(no_gc):
    # Issue 23 item 4: every instance shares one __dict__, so the dict never
    # dies with an owner: served as functools (equal values share).
    class Borg(int):
        _state = {}

        def __init__(self, *args):
            self.__dict__ = Borg._state

        @boundcache.lru_cache
        def m(self):
            return [int(self)]

    a, b = Borg(1), Borg(2)
    assert a.m() == [1] and b.m() == [2] and a.m() is a.m()
    assert Borg(1).m() is a.m()
    assert "__boundcache__" not in Borg._state
    assert sorted(int(key[0]) for key, _ in Borg.m._entries()) == [1, 2]


@NEEDS_312
def test_without_a_free_dict_watcher_owners_are_served_as_functools():
    # Issue 23 item 5: other extensions took every dict watcher. Run in a child
    # interpreter that takes them all first (through the C API, with ctypes).
    code = textwrap.dedent(
        """
        import ctypes, sys
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.py_object)
        callback = callback_type(lambda *args: 0)
        add = ctypes.pythonapi.PyDict_AddWatcher
        add.restype = ctypes.c_int
        add.argtypes = [callback_type]
        taken = 0
        try:
            while add(callback) >= 0:
                taken += 1
        except RuntimeError:  # "no more dict watcher IDs available"
            pass
        import boundcache

        class Owner(int):
            @boundcache.lru_cache
            def m(self):
                return [int(self)]

        a = Owner(3)
        first = a.m()
        assert a.m() is first
        assert Owner(3).m() is first, "served as functools: equal values share"
        assert "__boundcache__" not in vars(a)
        print("OK", taken)
        """
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[0] == "OK" and int(p.stdout.split()[1]) >= 1


@NEEDS_312
def test_class_finalizer_replaced_later_retires_tickets(no_gc):
    class Owner(int):
        @boundcache.lru_cache
        def m(self):
            return [int(self)]

    a = Owner(4)
    first = a.m()
    assert a.m() is first
    Owner.__del__ = lambda self: None  # replaces the class's finalizer: deaths could go unseen
    assert a.m() is not first  # distrusted, starts afresh
    second = a.m()
    assert a.m() is second
    del Owner.__del__
    b = Owner(4)
    assert b.m() == [4]


@NEEDS_312
def test_user_del_still_runs_and_can_use_the_cache(no_gc):
    seen = []

    class Owner(int):
        def __del__(self):
            seen.append(self.m())

        @boundcache.lru_cache
        def m(self):
            return [int(self)]

    a = Owner(9)
    first = a.m()
    del a
    assert seen == [first] and seen[0] is first


@NEEDS_312
def test_copy_made_during_a_call_does_not_keep_the_owners_entries(no_gc):
    class Result(list):
        pass

    copies = []

    class Owner(int):
        @boundcache.lru_cache
        def m(self, x):
            if x == 0:
                copies.append(copy.copy(self))  # its __dict__ shares this owner's ticket
                self.n()  # a lookup while this call uses the container: retires it
            return Result([int(self), x])

        @boundcache.lru_cache
        def n(self):
            return Result([int(self)])

    a = Owner(3)
    freed = weakref.ref(a.m(0))
    del a
    assert copies[0].m.cache_info().currsize == 0  # the copy never had entries of its own
    assert freed() is None, "the dead owner's entry lives on, held by its copy's __dict__"
    assert Owner.m.cache_info().currsize == 0, "Cls.m.cache_info() counts entries of an owner that died"


@NEEDS_312
def test_warning_for_a_dict_without_weakref_names_the_real_reason():
    # Found by the stateful fuzzer: the message blamed a missing dict watcher.
    class DictNoWeakref:
        __slots__ = ("__dict__",)

        @boundcache.lru_cache
        def m(self):
            return 1

    with pytest.warns(boundcache.PinningWarning) as caught:
        DictNoWeakref().m()
    message = str(caught[0].message)
    assert "Add '__weakref__' to" in message  # the fix it names is right
    assert "dict watcher" not in message, message
