"""Contract section 4: cached_property."""

import functools
import threading
import weakref

import pytest

import boundcache


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
    assert r() is None


def test_slots_with_weakref_only():
    class WeakSlotted:
        __slots__ = ("__weakref__",)

        @boundcache.cached_property
        def value(self):
            return [1]

    w = WeakSlotted()
    assert w.value is w.value


def test_slots_with_nowhere_to_store_raises():
    class Bare:
        __slots__ = ()

        @boundcache.cached_property
        def value(self):
            return 1

    with pytest.raises(TypeError, match="__boundcache__"):
        Bare().value


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
