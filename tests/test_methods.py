"""Contract section 3: on methods, the cache belongs to the instance."""

import copy
import dataclasses
import gc
import inspect
import pickle
import sys
import weakref

import pytest

import boundcache
from cores import WITHOUT_WEAKREFS, released


class Image:
    """Instances hold a buffer; `calls` counts real computations."""

    calls = 0

    def __init__(self, name="img", size=1000):
        self.name = name
        self.buffer = bytearray(size)

    @boundcache.lru_cache(maxsize=2)
    def thumbnail(self, width, *, height=None):
        Image.calls += 1
        return (self.name, width, height)

    @boundcache.cache
    def meta(self):
        return {"name": self.name}


# -- 1. owner-scoped ---------------------------------------------------------


def test_each_instance_has_its_own_cache_bounded_by_maxsize():
    a, b = Image("a"), Image("b")
    assert a.thumbnail(1) == ("a", 1, None)
    assert b.thumbnail(1) == ("b", 1, None)
    for w in (1, 2, 3):
        a.thumbnail(w)
    assert a.thumbnail.cache_info() == (1, 3, 2, 2)
    assert b.thumbnail.cache_info() == (0, 1, 2, 1)


def test_key_is_built_from_arguments_after_self():
    a = Image()
    a.thumbnail(1, height=2)
    a.thumbnail(1, height=2)
    a.thumbnail(width=1, height=2)  # different key: keywords, as in functools
    assert a.thumbnail.cache_info() == (1, 2, 2, 2)
    with pytest.raises(TypeError, match="unhashable type: 'list'"):
        a.thumbnail([1])


# -- 2. no pinning -------------------------------------------------------------


def test_instance_freed_by_refcount_with_gc_disabled(no_gc):
    events = []

    class Owner:
        def __del__(self):
            events.append("__del__")

        @boundcache.lru_cache
        def m(self, x):
            return [x]  # a result that does not refer back

    o = Owner()
    o.m(1), o.m(1)
    weakref.finalize(o, events.append, "finalize")
    del o
    released()
    assert events == ["__del__", "finalize"]
    assert Owner.m.cache_info().currsize == 0


def test_entries_freed_with_instance(no_gc):
    class Value:
        pass

    class Owner:
        @boundcache.lru_cache(maxsize=None)
        def m(self, x):
            return Value()

    o = Owner()
    value_ref = weakref.ref(o.m(1))
    key = Value()
    o.m(key)
    key_ref = weakref.ref(key)
    del key, o
    released()
    assert value_ref() is None and key_ref() is None


def test_calls_through_the_class_do_not_pin(no_gc):
    a = Image()
    Image.thumbnail(a, 5)
    r = weakref.ref(a)
    del a
    released()
    assert r() is None


def test_churn_leaves_nothing_alive(no_gc):
    refs = []
    for i in range(200):
        img = Image(str(i))
        img.thumbnail(1), img.thumbnail(2), img.thumbnail(1), img.meta()
        refs.append(weakref.ref(img))
    del img
    released()
    assert not any(r() for r in refs)
    info = Image.thumbnail.cache_info()
    assert info.currsize == 0 and info.maxsize == 2


# -- 3. cycles through results are collectable ---------------------------------


@pytest.mark.parametrize("result", ["self", "bound", "child"])
def test_cycles_through_results_are_collectable(result):
    class Node:
        @boundcache.lru_cache
        def m(self):
            if result == "self":
                return self
            if result == "bound":
                return self.other
            child = Node()
            child.parent = self
            return child

        def other(self):
            pass

    n = Node()
    n.m()
    r = weakref.ref(n)
    del n
    gc.collect()
    released()
    assert r() is None


# -- 4. owner state ------------------------------------------------------------


@dataclasses.dataclass
class Point:  # eq=True: unhashable
    x: int

    @boundcache.lru_cache
    def norm(self):
        return abs(self.x)


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: int

    @boundcache.cache
    def double(self):
        return 2 * self.x


def test_unhashable_self_and_equal_instances_do_not_share():
    p, q = Point(3), Point(3)
    assert p == q
    with pytest.raises(TypeError):
        hash(p)
    assert p.norm() == 3 and q.norm() == 3
    assert p.norm.cache_info().misses == 1 and q.norm.cache_info().misses == 1


def test_frozen_dataclass():
    f = Frozen(4)
    assert f.double() == 8 and f.double() == 8
    assert f.double.cache_info() == (1, 1, None, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.x = 5


def test_user_setattr_getattr_getattribute_not_invoked():
    seen = []

    class Picky:
        def __setattr__(self, name, value):
            seen.append(("set", name))
            object.__setattr__(self, name, value)

        def __getattr__(self, name):
            seen.append(("getattr", name))
            raise AttributeError(name)

        def __getattribute__(self, name):
            if name not in ("m", "__class__", "__dict__"):
                seen.append(("getattribute", name))
            return object.__getattribute__(self, name)

        @boundcache.lru_cache
        def m(self, x):
            return x

    p = Picky()
    seen.clear()
    assert p.m(1) == 1 and p.m(1) == 1
    assert type(p).m(p, 2) == 2
    assert seen == []


def test_only_trace_is_the_boundcache_key():
    a = Image()
    before = set(vars(a))
    a.thumbnail(1), a.meta()
    assert set(vars(a)) - before == {"__boundcache__"}


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_copies_start_with_an_empty_cache(clone):
    a = Image("a")
    a.thumbnail(1), a.thumbnail(1)
    b = clone(a)
    assert b.name == "a" and b.buffer == a.buffer
    assert b.thumbnail.cache_info() == (0, 0, 2, 0)
    b.thumbnail(1)
    assert b.thumbnail.cache_info() == (0, 1, 2, 1)
    assert a.thumbnail.cache_info() == (1, 1, 2, 1)
    # No two live instances share entries, however the copy was made.
    b.thumbnail.cache_clear()
    assert a.thumbnail.cache_info().currsize == 1


def test_shallow_copy_does_not_share_entries_even_when_copied_dict_is_reused():
    a = Image("a")
    a.thumbnail(1)
    b = copy.copy(a)
    b.thumbnail(1)
    assert vars(a)["__boundcache__"] is not vars(b)["__boundcache__"]


def test_inline_values_are_not_materialised_into_a_dict():
    class Plain:
        def __init__(self):
            self.a = 1

        @boundcache.lru_cache
        def m(self, x):
            return x

    def dict_referents(obj):
        return sum(type(r) is dict for r in gc.get_referents(obj))

    p = Plain()
    # From CPython 3.11 attributes live as inline values (no dict referent)
    # until something asks for __dict__; before that the dict always exists.
    before = dict_referents(p)
    assert before == (1 if sys.version_info < (3, 11) else 0)
    p.m(1), p.m(1)
    assert dict_referents(p) == before


# -- 5. where the cache lives ----------------------------------------------------


def test_cache_lives_in_dict_under_one_key():
    a = Image()
    a.thumbnail(1), a.meta()
    caches = vars(a)["__boundcache__"]
    assert type(caches).__name__ == "InstanceCaches"
    assert "2 methods, 2 entries" in repr(caches)


def test_slots_with_boundcache_slot(no_gc):
    class Slotted:
        __slots__ = ("x", "__boundcache__")

        def __init__(self, x):
            self.x = x

        @boundcache.lru_cache
        def m(self, y):
            return (self.x, y)

    s = Slotted(1)
    assert s.m(2) == (1, 2) and s.m(2) == (1, 2)
    assert s.m.cache_info() == (1, 1, 128, 1)
    objs = [Slotted(i) for i in range(3)]
    for o in objs:
        o.m(0)
    assert Slotted.m.cache_info().currsize == 4


def test_slots_with_weakref_only_uses_the_weak_table(no_gc):
    class WeakSlotted:
        __slots__ = ("x", "__weakref__")

        def __init__(self, x):
            self.x = x

        @boundcache.lru_cache
        def m(self, y):
            return [self.x, y]

    w = WeakSlotted(1)
    assert w.m(2) == [1, 2] and w.m(2) is w.m(2)
    assert w.m.cache_info() == (2, 1, 128, 1)
    r = weakref.ref(w)
    del w
    released()
    assert r() is None
    assert WeakSlotted.m.cache_info().currsize == 0


def test_weak_table_result_referring_back_keeps_instance_alive():
    # Documented limitation of the weak table (contract 3.5).
    class WeakSlotted:
        __slots__ = ("__weakref__",)

        @boundcache.lru_cache
        def me(self):
            return self

    w = WeakSlotted()
    w.me()
    r = weakref.ref(w)
    del w
    gc.collect()
    assert r() is not None
    type(r()).me.cache_clear()
    released()
    assert r() is None


@WITHOUT_WEAKREFS
def test_no_storage_at_all_is_served_as_functools_with_a_warning():
    # tests/test_served_as_functools.py has the rest of contract 3.5's last point.
    class Bare:
        __slots__ = ("x",)

        @boundcache.lru_cache
        def m(self):
            return [1]

    b = Bare()
    with pytest.warns(boundcache.PinningWarning, match=r"Bare.*__boundcache__.*__weakref__.*__slots__"):
        first = b.m()
    assert b.m() is first and Bare.m.cache_info() == (1, 1, 128, 1)


# -- 6. per-instance and per-class views -----------------------------------------


def test_per_instance_and_per_class_views():
    class Counter:
        @boundcache.lru_cache(maxsize=3)
        def m(self, x):
            return x

    a, b = Counter(), Counter()
    a.m(1), a.m(1), a.m(2), b.m(1)
    assert a.m.cache_info() == (1, 2, 3, 2)
    assert b.m.cache_info() == (0, 1, 3, 1)
    assert Counter.m.cache_info() == (1, 3, 3, 3)
    del b  # its statistics stay in the sums, its entries leave currsize
    released()
    assert Counter.m.cache_info() == (1, 3, 3, 2)
    a.m.cache_clear()  # clears a only; the sums keep counting
    assert a.m.cache_info() == (0, 0, 3, 0)
    assert Counter.m.cache_info() == (1, 3, 3, 0)
    c = Counter()
    a.m(5), c.m(5), c.m(5)
    assert Counter.m.cache_info() == (2, 5, 3, 2)
    Counter.m.cache_clear()
    assert Counter.m.cache_info() == (0, 0, 3, 0)
    assert a.m.cache_info() == (0, 0, 3, 0) and c.m.cache_info() == (0, 0, 3, 0)
    assert Counter.m.cache_parameters() == {"maxsize": 3, "typed": False}
    assert c.m.cache_parameters() == {"maxsize": 3, "typed": False}


def test_instance_view_before_any_call():
    assert Image().thumbnail.cache_info() == (0, 0, 2, 0)
    Image().thumbnail.cache_clear()  # nothing to clear, no error


# -- 7. inheritance --------------------------------------------------------------


def test_super_uses_the_base_wrapper_cache_and_overrides_have_their_own():
    class Base:
        @boundcache.lru_cache
        def m(self, x):
            return ("base", x)

        @boundcache.lru_cache
        def n(self, x):
            return ("base-n", x)

    class Derived(Base):
        @boundcache.lru_cache
        def m(self, x):
            return ("derived", super().m(x))

        def n(self, x):  # not cached: super() reaches the base cache
            return super().n(x)

    d = Derived()
    assert d.m(1) == ("derived", ("base", 1))
    assert d.m(1) == ("derived", ("base", 1))
    assert Derived.m.cache_info() == (1, 1, 128, 1)
    assert Base.m.cache_info() == (0, 1, 128, 1)
    d.n(2), d.n(2)
    assert Base.n.cache_info() == (1, 1, 128, 1)
    assert Base.m(d, 1) == ("base", 1)  # the base cache of the same instance
    assert Base.m.cache_info() == (1, 1, 128, 1)


# -- 8. stacking -------------------------------------------------------------------


class Stacked:
    made = 0

    @staticmethod
    @boundcache.lru_cache
    def static_below(x):
        return ("sb", x)

    @boundcache.lru_cache
    @staticmethod
    def static_above(x):
        return ("sa", x)

    @classmethod
    @boundcache.lru_cache
    def class_below(cls, x):
        return (cls.__name__, x)

    @boundcache.lru_cache
    @classmethod
    def class_above(cls, x):
        return (cls.__name__, x)

    @property
    @boundcache.lru_cache
    def prop(self):
        Stacked.made += 1
        return Stacked.made


@pytest.mark.parametrize("name", ["static_below", "static_above"])
def test_staticmethod_either_order_follows_functions(name):
    s = Stacked()
    f = getattr(Stacked, name)
    assert f(1) == getattr(s, name)(1) == (("sb" if name == "static_below" else "sa"), 1)
    assert f.cache_info() == (1, 1, 128, 1)
    assert f.cache_parameters() == {"maxsize": 128, "typed": False}


@pytest.mark.parametrize("name", ["class_below", "class_above"])
def test_classmethod_either_order_one_cache_per_class(name):
    class Sub(Stacked):
        pass

    assert getattr(Stacked, name)(1) == ("Stacked", 1)
    assert getattr(Stacked(), name)(1) == ("Stacked", 1)
    assert getattr(Sub, name)(1) == ("Sub", 1)
    wrapper = vars(Stacked)[name].__func__
    assert wrapper.cache_info() == (1, 2, 128, 2)


@pytest.mark.parametrize("name", ["class_below", "class_above"])
def test_classmethod_cache_does_not_keep_runtime_class_alive(name):
    def make():
        class Runtime(Stacked):
            pass

        getattr(Runtime, name)(1)
        return weakref.ref(Runtime)

    r = make()
    gc.collect()
    released()
    assert r() is None


def test_property_above_is_a_method_wrapper(no_gc):
    a, b = Stacked(), Stacked()
    assert a.prop == a.prop
    assert b.prop != a.prop
    r = weakref.ref(a)
    del a
    released()
    assert r() is None


# -- 9. introspection ----------------------------------------------------------------


def test_introspection():
    a = Image()
    bound = a.thumbnail
    assert bound.__self__ is a
    assert bound.__wrapped__ is Image.thumbnail.__wrapped__
    assert Image.thumbnail.__wrapped__.__name__ == "thumbnail"
    assert str(inspect.signature(bound)) == "(width, *, height=None)"
    assert str(inspect.signature(Image.thumbnail)) == "(self, width, *, height=None)"
    assert bound.__name__ == "thumbnail" and bound.__qualname__ == "Image.thumbnail"
    assert a.thumbnail == a.thumbnail and hash(a.thumbnail) == hash(a.thumbnail)
    assert a.thumbnail != Image().thumbnail
    assert pickle.loads(pickle.dumps(Image.thumbnail)) is Image.thumbnail


def test_bound_method_pickles_with_its_instance():
    a = Image("z")
    clone = pickle.loads(pickle.dumps(a.thumbnail))
    assert clone.__self__.name == "z" and clone(3) == ("z", 3, None)


def test_method_defined_by_assignment_in_class_body(no_gc):
    def helper(self, x):
        return (id(self), x)

    class WithHelper:
        m = boundcache.lru_cache(maxsize=None)(helper)

    w = WithHelper()
    assert WithHelper.m(w, 1) == w.m(1)
    assert w.m.cache_info() == (1, 1, None, 1)
    r = weakref.ref(w)
    del w
    released()
    assert r() is None


def test_method_under_another_decorator_that_passes_self(no_gc):
    import functools

    def logged(f):
        @functools.wraps(f)
        def inner(self, *args):
            return f(self, *args)

        return inner

    class Service:
        @logged
        @boundcache.lru_cache
        def get(self, key):
            return [key]

    s = Service()
    assert s.get(1) is s.get(1)
    r = weakref.ref(s)
    del s
    released()
    assert r() is None


class SlottedImage:
    __slots__ = ("name", "__boundcache__")

    def __init__(self, name):
        self.name = name

    @boundcache.lru_cache
    def label(self, suffix):
        return self.name + suffix


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_slot_held_cache_copies_start_empty(clone):
    a = SlottedImage("a")
    a.label("!"), a.label("!")
    b = clone(a)
    assert b.label.cache_info() == (0, 0, 128, 0)
    assert b.label("?") == "a?"
    assert a.label.cache_info() == (1, 1, 128, 1)
    assert b.label.cache_info() == (0, 1, 128, 1)


def test_function_wrapper_attached_after_class_creation_is_per_instance(no_gc):
    @boundcache.lru_cache
    def describe(obj, detail):
        return (id(obj), detail)

    class Late:
        pass

    Late.describe = describe  # no __set_name__: reached through instances, it binds
    x, y = Late(), Late()
    assert x.describe(1) == (id(x), 1) and x.describe(1) == (id(x), 1)
    assert y.describe(1) == (id(y), 1)
    assert x.describe.cache_info() == (1, 1, 128, 1)
    r = weakref.ref(x)
    del x
    released()
    assert r() is None
    assert describe("plain", 2) == (id("plain"), 2)  # still a function when called directly


def test_instances_outliving_their_wrapper(no_gc):
    class Value:
        pass

    class Owner:
        @boundcache.lru_cache
        def m(self, x):
            return Value()

        @boundcache.lru_cache
        def n(self, x):
            return x

    o = Owner()
    value = weakref.ref(o.m(1))
    o.n(2)
    wrapper = vars(Owner)["m"]
    del Owner.m, wrapper  # the wrapper dies before the instance
    released()
    assert value() is None  # its entries went with it
    assert o.n(2) == 2 and o.n.cache_info() == (1, 1, 128, 1)

    def m(self, x):
        return ("new", x)

    Owner.m = boundcache.lru_cache(m)  # a new wrapper, maybe at the old address
    assert o.m(1) == ("new", 1)
    assert o.m.cache_info() == (0, 1, 128, 1)
