"""Contract section 4: cached_property."""

import functools
import gc
import threading
import weakref

import pytest

import boundcache
from cores import PURE, WITHOUT_WEAKREFS, released


class Report:
    computed = 0

    def __init__(self, rows):
        self.rows = rows

    @boundcache.cached_property
    def total(self):
        """The sum of the rows."""
        Report.computed += 1
        return sum(self.rows)


def test_computed_once_and_stored_in_the_instance_dict():
    r = Report([1, 2, 3])
    before = Report.computed
    assert r.total == 6 and r.total == 6
    assert Report.computed == before + 1
    assert vars(r)["total"] == 6


def test_delete_recomputes_and_assignment_overrides():
    r = Report([1])
    assert r.total == 1
    r.rows.append(2)
    del r.total
    assert r.total == 3
    r.total = 10
    assert r.total == 10


def test_descriptor_attributes_match_functools():
    prop = Report.__dict__["total"]
    assert Report.total is prop
    assert prop.attrname == "total"
    assert prop.__doc__ == "The sum of the rows."
    assert prop.func is Report.__dict__["total"].func
    assert prop.__module__ == __name__
    assert boundcache.cached_property[int] is not None  # generic alias, as functools


def test_errors_match_functools():
    def f(self):
        return 1

    loose = boundcache.cached_property(f)
    with pytest.raises(TypeError, match="without calling __set_name__"):
        loose.__get__(object())

    def reuse(prop):
        try:

            class Twice:
                a = prop
                b = prop

        except Exception as error:
            # 3.10/3.11 wrap __set_name__ errors in RuntimeError; later add a note.
            cause = error.__cause__ or error
            return type(error), type(cause), str(cause)
        raise AssertionError("reusing the property under two names did not fail")

    ours = reuse(boundcache.cached_property(f))
    theirs = reuse(functools.cached_property(f))
    assert ours[:2] == theirs[:2]
    assert "two different names" in ours[2]


def test_exception_is_not_stored():
    class Flaky:
        attempts = 0

        @boundcache.cached_property
        def value(self):
            Flaky.attempts += 1
            if Flaky.attempts == 1:
                raise ValueError("first")
            return "ok"

    f = Flaky()
    with pytest.raises(ValueError):
        f.value
    assert f.value == "ok" and f.value == "ok"
    assert Flaky.attempts == 2


def test_slots_class_with_boundcache_slot(no_gc):
    class Slotted:
        __slots__ = ("rows", "__boundcache__")

        def __init__(self, rows):
            self.rows = rows

        @boundcache.cached_property
        def total(self):
            return sum(self.rows)

    s = Slotted([1, 2])
    assert s.total == 3
    s.rows.append(3)
    assert s.total == 3  # stored
    del s.total
    assert s.total == 6
    s.total = 0
    assert s.total == 0
    del s.total
    with pytest.raises(AttributeError):
        del s.total
    assert s.total == 6
    value_ref = weakref.ref(type("V", (), {})())  # a fresh object to check liveness with
    del value_ref


def test_slots_values_are_freed_with_the_instance(no_gc):
    class Value:
        pass

    class Slotted:
        __slots__ = ("__boundcache__",)

        @boundcache.cached_property
        def value(self):
            return Value()

    s = Slotted()
    r = weakref.ref(s.value)
    del s
    released()
    assert r() is None


def test_slots_with_weakref_only():
    class WeakSlotted:
        __slots__ = ("__weakref__",)

        @boundcache.cached_property
        def value(self):
            return [1]

    w = WeakSlotted()
    assert w.value is w.value


@WITHOUT_WEAKREFS
def test_slots_with_nowhere_to_store_raises_before_computing():
    # Regression: the getter ran, its value was thrown away, then the error
    # came, on every read. functools refuses first, with this message.
    calls = []

    class Bare:
        __slots__ = ("x",)

        @boundcache.cached_property
        def value(self):
            calls.append(self)
            return 1

    b = Bare()
    for _ in range(2):
        with pytest.raises(TypeError) as info:
            b.value
        message = str(info.value)
        assert message.startswith("No '__dict__' attribute on 'Bare' instance to cache 'value' property.")
        assert "'__boundcache__'" in message and "'__weakref__'" in message  # the fix
    with pytest.raises(TypeError, match="No '__dict__' attribute on 'Bare'"):
        b.value = 2  # the slotted variant's assignment says the same
    assert calls == []


# ---- owners that functools refuses ----


def test_a_class_through_a_metaclass_is_refused_before_computing():
    # Regression: the value went straight into the class's own namespace,
    # behind the type attribute cache: subclasses read stale entries, and a
    # getter that assigned the attribute left freed memory in that cache.
    calls = []

    class Meta(type):
        @boundcache.cached_property
        def prop(cls):
            calls.append(cls)
            cls.prop = "assigned"  # what crashed: a write during the computation
            return "computed"

    class Base(metaclass=Meta):
        pass

    class Child(Base):
        pass

    message = "The '__dict__' attribute on 'Meta' instance does not support item assignment for caching 'prop' property."
    for owner in (Base, Child, Base):
        with pytest.raises(TypeError) as info:
            owner.prop
        assert str(info.value) == message
    assert calls == [] and "prop" not in vars(Base) and "prop" not in vars(Child)
    assert isinstance(Meta.prop, boundcache.cached_property)


def test_a_class_refusal_matches_functools():
    def run(cached_property):
        class Meta(type):
            @cached_property
            def prop(cls):
                return 1

        class Owner(metaclass=Meta):
            pass

        with pytest.raises(TypeError) as info:
            Owner.prop
        return str(info.value)

    assert run(boundcache.cached_property) == run(functools.cached_property)


def test_a_data_descriptor_subclass_on_a_metaclass_reads_the_class_namespace():
    # As functools: __get__ first looks in the class's own __dict__ (reached
    # only when a subclass defines __set__), and stores nothing there.
    class ReadOnly(boundcache.cached_property):
        def __set__(self, obj, value):
            raise AttributeError("read only")

    class Meta(type):
        @ReadOnly
        def prop(cls):
            raise AssertionError("not called")

    class Owner(metaclass=Meta):
        prop = "in the namespace"

    class Empty(metaclass=Meta):
        pass

    assert Owner.prop == "in the namespace"
    with pytest.raises(TypeError, match="does not support item assignment"):
        Empty.prop


def test_a_slotted_property_needs_a_str_name():
    # Regression: a non-str name was accepted; comparing it with the other
    # properties' names failed, and assignment then returned a result with
    # an exception set (SystemError).
    class Slotted:
        __slots__ = ("__weakref__",)

        @boundcache.cached_property
        def a(self):
            return "a"

    prop = boundcache.cached_property(lambda self: 1)
    with pytest.raises(TypeError, match="needs a str attribute name, not int"):
        prop.__set_name__(Slotted, 1)
    assert prop.attrname is None and type(prop) is boundcache.cached_property
    prop.__set_name__(Slotted, "b")
    with pytest.raises(TypeError, match="needs a str attribute name, not tuple"):
        prop.attrname = (1,)
    s = Slotted()
    assert s.a == "a"
    Slotted.b = prop
    assert s.b == 1
    s.b = 2
    assert s.b == 2 and s.a == "a"
    # Any key goes in an instance __dict__, as with functools.
    in_dict = boundcache.cached_property(lambda self: "v")
    in_dict.__set_name__(Report, 3)
    r = Report([])
    assert in_dict.__get__(r) == "v" and vars(r)[3] == "v"


# ---- subclasses (contract 4) ----


class Counting(boundcache.cached_property):
    """Counts reads through __get__, then defers to cached_property."""

    def __init__(self, func, label="counted"):
        super().__init__(func)
        self.label = label
        self.gets = 0
        self.names = []

    def __set_name__(self, owner, name):
        self.names.append(name)
        super().__set_name__(owner, name)

    def __get__(self, obj, owner=None):
        self.gets += 1
        return super().__get__(obj, owner)


def test_subclass_with_its_own_init_get_and_set_name():
    calls = []

    class Owner:
        @Counting
        def value(self):
            """The value."""
            calls.append(self)
            return [len(calls)]

        @functools.partial(Counting, label="other")
        def other(self):
            return "o"

    prop = Owner.__dict__["value"]
    assert type(prop) is Counting and isinstance(prop, boundcache.cached_property)
    assert prop.names == ["value"] and prop.attrname == "value" and prop.label == "counted"
    assert prop.__doc__ == "The value." and Owner.__dict__["other"].label == "other"
    o = Owner()
    assert o.value == [1] and o.value == [1]
    assert vars(o)["value"] == [1] and len(calls) == 1
    assert prop.gets == 1  # a non-data descriptor: the second read found the instance __dict__
    assert Owner.value is prop and prop.gets == 2


def test_subclass_defining_set_still_caches():
    # CPython's test_functools test_subclass_with___set__.
    class ReadOnly(boundcache.cached_property):
        def __set__(self, obj, value):
            raise AttributeError("read only property")

    class Test:
        def __init__(self, prop):
            self._prop = prop

        @ReadOnly
        def prop(self):
            return self._prop

    t = Test(1)
    assert t.prop == 1
    t._prop = 999
    assert t.prop == 1
    with pytest.raises(AttributeError, match="read only"):
        t.prop = 2


@pytest.mark.parametrize("slots", [("__boundcache__",), ("__weakref__",), ("__boundcache__", "__weakref__")])
def test_subclass_on_a_class_without_dict(slots, no_gc):
    class Value:
        pass

    calls = []

    class Owner:
        __slots__ = slots

        @Counting
        def value(self):
            calls.append(None)
            return Value()

    prop = Owner.__dict__["value"]
    # Still the subclass, with its state, and a data descriptor now.
    assert isinstance(prop, Counting) and isinstance(prop, boundcache.cached_property)
    assert type(prop).__name__ == "Counting" and type(prop).__qualname__ == "Counting"
    assert prop.names == ["value"] and prop.label == "counted"
    assert hasattr(type(prop), "__set__") and hasattr(type(prop), "__delete__")
    o = Owner()
    first = o.value
    assert o.value is first and len(calls) == 1 and prop.gets == 2
    del o.value
    second = o.value
    assert second is not first and len(calls) == 2
    o.value = "set"
    assert o.value == "set"
    del o.value
    r = weakref.ref(o.value)
    del o
    released()
    assert r() is None  # the value dies with its owner
    assert Owner.value is prop


def test_subclass_overriding_set_on_a_class_without_dict():
    class ReadOnly(boundcache.cached_property):
        def __set__(self, obj, value):
            raise AttributeError("read only property")

    class Owner:
        __slots__ = ("__weakref__",)

        @ReadOnly
        def value(self):
            return [1]

    o = Owner()
    assert o.value is o.value
    with pytest.raises(AttributeError, match="read only"):
        o.value = 2
    del o.value  # the slotted variant's own __delete__
    assert o.value == [1]


def test_subclass_instances_are_collected(no_gc):
    # A subclass instance has a __dict__ and a __weakref__: a cycle through
    # its function is found by the GC.
    def make():
        class Owner:
            __slots__ = ("__weakref__",)

            @Counting
            def value(self):
                return Owner

        o = Owner()
        assert o.value is Owner
        return weakref.ref(Owner.__dict__["value"]), weakref.ref(Owner)

    prop_ref, owner_ref = make()
    gc.collect()
    released()
    assert prop_ref() is None and owner_ref() is None


def test_a_subclass_of_functools_cached_property():
    # pydantic, among others, recognises cached properties this way.
    SlottedCachedProperty = boundcache._backend.core.SlottedCachedProperty

    class Mine(boundcache.cached_property):
        pass

    class Slots:
        __slots__ = ("__weakref__",)

        @boundcache.cached_property
        def value(self):
            return 1

        @Mine
        def other(self):
            return 2

    for cls in (boundcache.cached_property, SlottedCachedProperty, Mine):
        assert issubclass(cls, functools.cached_property)
    for prop in (Report.__dict__["total"], Slots.__dict__["value"], Slots.__dict__["other"], Counting(len)):
        assert isinstance(prop, functools.cached_property)
    assert type(Slots.__dict__["value"]) is SlottedCachedProperty
    assert isinstance(Slots.__dict__["other"], Mine) and isinstance(Slots.__dict__["other"], SlottedCachedProperty)
    s = Slots()
    assert (s.value, s.other) == (1, 2)
    # The type's names are kept: pydantic ignores class attributes whose
    # type comes from module 'functools'.
    assert boundcache.cached_property.__module__ == "functools"
    assert boundcache.cached_property.__qualname__ == "boundcache_cached_property"


def test_functools_code_never_runs_for_boundcache_properties():
    # __init__, __set_name__ and __get__ are the C type's; functools' would
    # store func and attrname in the instance __dict__ (and, up to 3.11, a
    # lock).
    for name in ("__init__", "__set_name__", "__get__", "__class_getitem__"):
        assert name in vars(boundcache.cached_property), name
    prop = Report.__dict__["total"]
    assert set(vars(prop)) == {"__doc__", "__module__"}
    assert not hasattr(prop, "lock")


@pytest.mark.c_core("the C++ types are immutable (Py_TPFLAGS_IMMUTABLETYPE); a Python class cannot be")
def test_the_property_types_are_immutable():
    with pytest.raises(TypeError, match="immutable"):
        boundcache.cached_property.extra = 1


def test_property_dict_and_weakref_from_functools():
    def f(self):
        """Doc."""
        return 1

    prop = boundcache.cached_property(f)
    prop.label = "kept"
    r = weakref.ref(prop)
    assert r() is prop

    class Slots:  # the property becomes the slotted variant, its dict unchanged
        __slots__ = ("__boundcache__",)
        value = prop

    assert type(prop).__name__ == "boundcache_SlottedCachedProperty"
    assert vars(prop) == {"__doc__": "Doc.", "__module__": __name__, "label": "kept"}
    assert prop.__doc__ == "Doc." and prop.label == "kept" and prop.attrname == "value"
    assert Slots().value == 1
    del prop, Slots
    gc.collect()
    released()
    assert r() is None


def test_property_in_a_cycle_through_its_dict_is_collected(no_gc):
    prop = boundcache.cached_property(lambda self: 1)
    prop.me = prop  # a cycle through the __dict__ from functools' class
    referents = gc.get_referents(prop)
    # The pure core's instances may keep their __dict__ as inline values,
    # which are referents themselves.
    assert prop.func in referents and (vars(prop) in referents or (PURE and prop in referents))
    r = weakref.ref(prop)
    del prop, referents
    assert r() is not None
    gc.collect()
    released()
    assert r() is None


def test_subclass_of_the_slotted_variant():
    SlottedCachedProperty = boundcache._backend.core.SlottedCachedProperty

    class Mine(SlottedCachedProperty):
        pass

    class Owner:
        __slots__ = ("__boundcache__",)

        @Mine
        def value(self):
            return [2]

    assert type(Owner.__dict__["value"]) is Mine
    o = Owner()
    assert o.value is o.value and o.value == [2]


def test_init_and_new_as_functools():
    with pytest.raises(TypeError):
        boundcache.cached_property()
    prop = boundcache.cached_property.__new__(boundcache.cached_property)
    assert prop.func is None and prop.attrname is None

    class Owner:
        value = prop

    with pytest.raises(ReferenceError, match="never initialised"):
        Owner().value
    prop.__init__(lambda self: 5)
    assert prop.attrname is None  # __init__ forgets the name, as functools'
    prop.__set_name__(Owner, "value")
    assert Owner().value == 5


def test_concurrent_first_reads_compute_once():
    started, release = threading.Event(), threading.Event()
    calls = []

    class Slow:
        @boundcache.cached_property
        def value(self):
            calls.append(threading.get_ident())
            started.set()
            release.wait(10)
            return object()

    s = Slow()
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.value)) for _ in range(8)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_different_instances_do_not_wait_for_each_other():
    first_inside, second_done = threading.Event(), threading.Event()

    class Slow:
        def __init__(self, blocking):
            self.blocking = blocking

        @boundcache.cached_property
        def value(self):
            if self.blocking:
                first_inside.set()
                # Completes only if the other instance's read was not blocked.
                assert second_done.wait(10)
            return self.blocking

    a, b = Slow(True), Slow(False)
    t = threading.Thread(target=lambda: a.value)
    t.start()
    assert first_inside.wait(10)
    assert b.value is False
    second_done.set()
    t.join()
    assert a.value is True


@pytest.mark.parametrize("slots", [("__boundcache__", "__weakref__"), ("__boundcache__",), ("__weakref__",)])
def test_slotted_property_shares_the_container_with_method_caches(slots):
    class Both:
        __slots__ = slots

        @boundcache.lru_cache
        def m(self, x):
            return [x]

        @boundcache.cached_property
        def p(self):
            return [0]

    b = Both()
    first = b.m(1)
    assert b.p == [0]
    assert b.m(1) is first  # the property's storage did not replace the method cache
    assert b.m.cache_info() == (1, 1, 128, 1)
    del b.p
    assert b.m(1) is first


# ---- one object in a __dict__ class and a __slots__ class (contract 4, issue 23 item 6) ----


def _both_kinds(prop, slots_first=False):
    """A __dict__ class and a __slots__ class holding `prop` under one name,
    made in the given order."""

    def with_dict():
        class WithDict:
            x = prop

        return WithDict

    def with_slots():
        class WithSlots:
            __slots__ = ("__weakref__",)
            x = prop

        return WithSlots

    if slots_first:
        slotted = with_slots()
        return with_dict(), slotted
    return with_dict(), with_slots()


@pytest.mark.parametrize("slots_first", [False, True])
def test_one_object_in_a_dict_class_and_a_slots_class_behaves_in_each_as_alone(slots_first):
    calls = []

    def compute(self):
        calls.append(type(self).__name__)
        return [len(calls)]

    prop = boundcache.cached_property(compute)
    WithDict, WithSlots = _both_kinds(prop, slots_first)
    # The class made first holds the object itself.
    assert (WithSlots if slots_first else WithDict).__dict__["x"] is prop
    # In the __dict__ class: stored in vars(a), as functools.cached_property does.
    a = WithDict()
    first = a.x
    assert vars(a)["x"] is first and a.x is first
    vars(a)["x"] = [42]
    assert a.x == [42]  # the instance dict wins: a non-data descriptor there
    a.x = [7]
    assert vars(a)["x"] == [7] and a.x == [7]
    del a.x
    assert a.x == [len(calls)] and vars(a)["x"] is a.x
    # In the __slots__ class: kept in its container, assignable and deletable.
    b = WithSlots()
    value = b.x
    assert b.x is value
    b.x = [9]
    assert b.x == [9]
    del b.x
    assert b.x is not value
    assert calls.count("WithSlots") == 2 and calls.count("WithDict") == 2
    assert WithDict.__dict__["x"].attrname == WithSlots.__dict__["x"].attrname == "x"


def test_a_subclass_object_in_both_kinds_keeps_its_own_state():
    prop = Counting(lambda self: [1], label="shared")
    WithDict, WithSlots = _both_kinds(prop)
    twin = WithSlots.__dict__["x"]
    assert twin is not prop and isinstance(twin, Counting) and twin.label == "shared"
    d, s = WithDict(), WithSlots()
    assert d.x == [1] and vars(d)["x"] == [1]
    assert s.x == [1]
    s.x = [5]
    assert s.x == [5] and d.x == [1]
