"""dataclasses, attrs and named tuples with boundcache's decorators (contract
3.5 and 3.10): their features after cached calls, freeing with the GC off, and
for classes with nowhere to keep caches, a TypeError that names the fix in the
class's own terms, a fix that really works."""

import copy
import dataclasses
import pickle
import sys
import typing
import weakref

import attr
import attrs
import pytest

import boundcache
from cores import released

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


# ---- classes with nowhere to keep caches: the message names their fix ----


def _fails_with(cls, *args):
    with pytest.raises(TypeError) as method_error:
        cls(*args).scaled(1)
    with pytest.raises(TypeError) as property_error:
        cls(*args).listed  # noqa: B018
    # The property's message is functools' own, then the same fix.
    assert str(property_error.value).startswith("No '__dict__' attribute on ")
    assert str(property_error.value).endswith(" " + str(method_error.value))
    return str(method_error.value)


@pytest.mark.refused_by_the_c_core
def test_slotted_dataclass_names_weakref_slot():
    message = _fails_with(_dataclass(slots=True), 1)
    if sys.version_info >= (3, 11):
        assert "dataclass(slots=True, weakref_slot=True)" in message
        fixed = _dataclass(slots=True, weakref_slot=True)
    else:
        fixed = _dataclass()
    assert "slots=False" in message
    assert fixed(1).scaled(2) == [2] and fixed(1).listed == [1]


@pytest.mark.refused_by_the_c_core
def test_attrs_without_weakref_slot_names_both_fixes():
    message = _fails_with(_attrs(attrs.define, weakref_slot=False), 1)
    assert "attrs class" in message and "weakref_slot=True" in message and "slots=False" in message
    for fixed in (_attrs(attrs.define, weakref_slot=True), _attrs(attrs.define, weakref_slot=False, slots=False)):
        assert fixed(1).scaled(2) == [2] and fixed(1).listed == [1]


class Point(typing.NamedTuple):
    x: int
    y: int = 0

    @boundcache.lru_cache(maxsize=4)
    def scaled(self, k):
        return [self.x * k]


@pytest.mark.refused_by_the_c_core
def test_named_tuple_names_a_fix_that_works(no_gc):
    with pytest.raises(TypeError) as error:
        Point(1).scaled(2)
    message = str(error.value)
    if sys.version_info < (3, 12):
        # A subclass would have a __dict__ but no weak references, which
        # boundcache refuses before 3.12: the message names a value key.
        assert "named tuple" in message and "key=lambda self, *args: (type(self), tuple(self), *args)" in message

        class Keyed(typing.NamedTuple):
            x: int

            @boundcache.lru_cache(maxsize=4, key=lambda self, *args: (type(self), tuple(self), *args))
            def scaled(self, k):
                return [self.x * k]

        first = Keyed(3).scaled(2)
        assert first == [6] and Keyed(3).scaled(2) is first  # equal values share, as with functools
        return
    assert "named tuple" in message and "class MyPoint(Point): pass" in message

    # The named fix, as written in the message.
    namespace = {"Point": Point}
    exec("class MyPoint(Point): pass", namespace)
    MyPoint = namespace["MyPoint"]
    p = MyPoint(3)
    first = p.scaled(2)
    assert first == [6] and p.scaled(2) is first
    assert p == (3, 0) and p == MyPoint(3)
    assert MyPoint(3).scaled(2) is not first  # equal tuples, separate caches
    del p
    assert Point.scaled.cache_info().currsize == 0


@pytest.mark.refused_by_the_c_core
def test_slotted_subclass_of_int_names_removing_slots():
    class Meters(int):
        __slots__ = ()

        @boundcache.cache
        def doubled(self):
            return 2 * self

    with pytest.raises(TypeError, match=r"subclasses int, whose subclasses accept no nonempty __slots__"):
        Meters(1).doubled()

    class Unslotted(int):
        @boundcache.cache
        def doubled(self):
            return 2 * self

    if sys.version_info < (3, 12):
        with pytest.raises(TypeError, match=r"before Python 3\.12"):
            Unslotted(2).doubled()
    else:
        assert Unslotted(2).doubled() == 4


@pytest.mark.refused_by_the_c_core
def test_plain_slotted_class_message_unchanged():
    class Bare:
        __slots__ = ("x",)

        @boundcache.cache
        def m(self):
            return 1

    with pytest.raises(TypeError, match=r"Add '__boundcache__' \(or '__weakref__'\) to .*Bare.__slots__"):
        Bare().m()
