"""dataclasses, attrs and named tuples with boundcache's decorators (contract
3.5 and 3.10): their features after cached calls, freeing with the GC off, and
for classes with nowhere to keep caches, functools' behaviour and a
PinningWarning that names the fix in the class's own terms, a fix that
really works."""

import copy
import dataclasses
import pickle
import sys
import typing
import warnings
import weakref

import attr
import attrs
import pytest

import boundcache
from cores import OWN_CACHES_WITHOUT_WEAKREF_SLOT, WEAK_REFERENCES_EVERYWHERE, WITHOUT_WEAKREFS, released

NEEDS_WEAKREF_SLOT = pytest.mark.skipif(sys.version_info < (3, 11), reason="dataclass weakref_slot is new in 3.11")


class Methods:
    """Cached members shared by every class under test (a mixin without
    state: __slots__ = () keeps slotted subclasses slotted)."""

    __slots__ = ()

    @boundcache.lru_cache(maxsize=4)
    def scaled(self, k):
        return [self.x * k]

    @boundcache.cached_property
    def listed(self):
        return [self.x]


def _dataclass(**options):
    @dataclasses.dataclass(**options)
    class D(Methods):
        x: int
        y: str = "y"

    return D


def _attrs(decorator, **options):
    @decorator(**options)
    class A(Methods):
        x: int
        y: str = "y"

    return A


CLASSES = {
    "dataclass": lambda: _dataclass(),
    "dataclass frozen": lambda: _dataclass(frozen=True),
    "dataclass unsafe_hash": lambda: _dataclass(unsafe_hash=True),
    "dataclass slots weakref_slot": pytest.param(
        lambda: _dataclass(slots=True, weakref_slot=True), marks=NEEDS_WEAKREF_SLOT
    ),
    "dataclass slots weakref_slot frozen": pytest.param(
        lambda: _dataclass(slots=True, weakref_slot=True, frozen=True), marks=NEEDS_WEAKREF_SLOT
    ),
    "attrs define": lambda: _attrs(attrs.define),
    "attrs frozen": lambda: _attrs(attrs.frozen),
    "attrs define slots=False": lambda: _attrs(attrs.define, slots=False),
    "attr.s auto_attribs": lambda: _attrs(attr.s, auto_attribs=True),
}


def _asdict(obj):
    return attrs.asdict(obj) if attrs.has(type(obj)) else dataclasses.asdict(obj)


def _replace(obj, **changes):
    return attrs.evolve(obj, **changes) if attrs.has(type(obj)) else dataclasses.replace(obj, **changes)


@pytest.mark.parametrize("make", CLASSES.values(), ids=CLASSES.keys())
def test_features_after_cached_calls(make):
    cls = make()
    cls.__qualname__ = "Registered"
    globals()["Registered"] = cls  # for pickle
    obj, twin = cls(2), cls(2)
    first = obj.scaled(3)
    assert obj.scaled(3) is first and obj.listed is obj.listed
    assert obj.scaled.cache_info() == boundcache.CacheInfo(1, 1, 4, 1)
    # Equality, repr, conversion and replacement see the fields only.
    assert obj == twin and twin == obj and obj != cls(3)
    assert repr(obj) == repr(twin)
    assert _asdict(obj) == {"x": 2, "y": "y"}
    changed = _replace(obj, y="z")
    assert (changed.x, changed.y) == (2, "z") and changed.scaled(3) is not first
    if cls.__hash__ is not None:
        assert hash(obj) == hash(twin) and len({obj, twin}) == 1
    for other in (copy.copy(obj), copy.deepcopy(obj), pickle.loads(pickle.dumps(obj))):
        assert other == obj
        # A copy starts with an empty cache and never shares entries.
        assert other.scaled.cache_info().currsize == 0
        assert other.scaled(3) == first and other.scaled(3) is not first
        assert obj.scaled(3) is first


@pytest.mark.parametrize("make", CLASSES.values(), ids=CLASSES.keys())
def test_freed_by_refcount(no_gc, make):
    cls = make()
    obj = cls(1)
    obj.scaled(2)
    obj.listed  # noqa: B018
    ref = weakref.ref(obj)
    del obj
    released()
    assert ref() is None
    assert cls.scaled.cache_info().currsize == 0


# ---- classes with nowhere to keep caches: served as functools, warned with their fix ----


def _served_as_functools(cls, *args):
    """Calls on instances of `cls` (slotted, without room for a cache) are
    functools': one table for the method keyed by (self, *args). Returns the
    PinningWarning's text, given once for the class, or None."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj, twin = cls(*args), cls(*args)
        first = obj.scaled(3)
        assert obj.scaled(3) is first and twin.scaled(3) == first
        same_entry = twin.scaled(3) is first  # equal instances share only if hashed by value
        assert same_entry == (cls.__hash__ is not object.__hash__)
        hits, misses = (2, 1) if same_entry else (2, 2)
        # obj.m and twin.m both show the one cache, as with functools (the
        # wrapper is the Methods mixin's, shared with the other classes here).
        assert obj.scaled.cache_info() == twin.scaled.cache_info() == (hits, misses, 4, misses)
        assert any(key[0] is obj for key, _ in cls.scaled._entries())
        twin.scaled.cache_clear()
        assert obj.scaled.cache_info() == (0, 0, 4, 0)
    warned = [w for w in caught if issubclass(w.category, boundcache.PinningWarning)]
    assert len(warned) == (0 if same_entry else 1)
    # The property has nowhere to go either: functools' refusal, then the fix.
    with pytest.raises(TypeError) as property_error:
        cls(*args).listed  # noqa: B018
    assert str(property_error.value).startswith("No '__dict__' attribute on ")
    return str(warned[0].message) if warned else str(property_error.value)


@WITHOUT_WEAKREFS
def test_slotted_dataclass_names_weakref_slot():
    message = _served_as_functools(_dataclass(slots=True, eq=False), 1)
    if sys.version_info >= (3, 11):
        assert "weakref_slot=True" in message
        fixed = _dataclass(slots=True, weakref_slot=True, eq=False)
    else:
        fixed = _dataclass(eq=False)
    assert "slots=False" in message
    assert fixed(1).scaled(2) == [2] and fixed(1).listed == [1]
    assert fixed.scaled._entries() == []  # per instance now


def test_slotted_dataclass_with_eq_is_unhashable_as_under_functools():
    # eq=True without a hash: functools' own TypeError, never a pin.
    cls = _dataclass(slots=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        if WEAK_REFERENCES_EVERYWHERE:  # PyPy: each instance keeps its own cache, self is never hashed
            obj = cls(1)
            first = obj.scaled(2)
            assert first == [2] and obj.scaled(2) is first and cls(1).scaled(2) is not first
            return
        with pytest.raises(TypeError, match=r"^unhashable type: 'D'$"):
            cls(1).scaled(2)


@WITHOUT_WEAKREFS
def test_attrs_without_weakref_slot_names_both_fixes():
    message = _served_as_functools(_attrs(attrs.define, weakref_slot=False, eq=False), 1)
    assert "attrs class" in message and "weakref_slot=True" in message and "slots=False" in message
    for fixed in (_attrs(attrs.define, weakref_slot=True), _attrs(attrs.define, weakref_slot=False, slots=False)):
        assert fixed(1).scaled(2) == [2] and fixed(1).listed == [1]


@WITHOUT_WEAKREFS
def test_pinning_warning_as_error_refuses_every_call():
    cls = _dataclass(slots=True, eq=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        for _ in range(2):
            with pytest.raises(boundcache.PinningWarning, match="weakref_slot|slots=False"):
                cls(1).scaled(2)
    assert cls(1).scaled.cache_info() == (0, 0, 4, 0)


class Point(typing.NamedTuple):
    x: int
    y: int = 0

    @boundcache.lru_cache(maxsize=4)
    def scaled(self, k):
        return [self.x * k]


def test_named_tuple_is_served_as_functools_and_a_subclass_per_instance(no_gc):
    a, b = Point(3), Point(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)  # hashed by value: no warning
        first = a.scaled(2)
        # Equal tuples share, as with functools; on PyPy, where a tuple takes
        # weak references, each keeps its own cache.
        assert first == [6] and (b.scaled(2) is first) == (not WEAK_REFERENCES_EVERYWHERE)
    assert Point.scaled.cache_info() == ((0, 2, 4, 2) if WEAK_REFERENCES_EVERYWHERE else (1, 1, 4, 1))
    del a, b
    Point.scaled.cache_clear()

    namespace = {"Point": Point}
    exec("class MyPoint(Point): pass", namespace)  # the fix the checker and the docs name
    MyPoint = namespace["MyPoint"]
    p = MyPoint(3)
    first = p.scaled(2)
    assert first == [6] and p.scaled(2) is first
    assert p == (3, 0) and p == MyPoint(3)
    if not OWN_CACHES_WITHOUT_WEAKREF_SLOT:
        # A __dict__ but no weak references: no death signal (before 3.12, or the pure core).
        assert MyPoint(3).scaled(2) is first
        return
    assert MyPoint(3).scaled(2) is not first  # equal tuples, separate caches
    del p
    released()
    assert Point.scaled.cache_info().currsize == 0


def test_slotted_subclass_of_int_is_served_as_functools():
    class Meters(int):
        __slots__ = ()

        @boundcache.cache
        def doubled(self):
            return [2 * self]

    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        first = Meters(1).doubled()
        # Equal values share, as with functools; on PyPy, where an int takes weak references, each its own.
        assert first == [2] and (Meters(1).doubled() is first) == (not WEAK_REFERENCES_EVERYWHERE)

    class Unslotted(int):
        @boundcache.cache
        def doubled(self):
            return [2 * self]

    first = Unslotted(2).doubled()
    assert first == [4]
    # Served as functools without a dict watcher; with one, or with weak
    # references (PyPy), each instance owns its cache.
    assert (Unslotted(2).doubled() is first) == (not OWN_CACHES_WITHOUT_WEAKREF_SLOT)


@WITHOUT_WEAKREFS
def test_plain_slotted_class_warning_names_the_slots():
    class Bare:
        __slots__ = ("x",)

        @boundcache.cache
        def m(self):
            return 1

    with pytest.warns(boundcache.PinningWarning, match=r"Add '__boundcache__' \(or '__weakref__'\) to .*Bare.__slots__"):
        assert Bare().m() == 1
