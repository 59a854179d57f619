"""Contract section 6: boundcache.audit() finds the caches that pin instances.

Every test defines its classes locally, so that what it leaks becomes
collectable garbage (class, cache and instances together) once it returns,
and the next audit's gc.collect() frees it.
"""

import fnmatch
import functools
import gc
import subprocess
import sys
import textwrap
import weakref

import pytest

import boundcache
from boundcache._audit import CacheRow, Report, format_bytes, parse_bytes

# audit() counts references, which an interpreter without reference counting
# (PyPy) does not keep: it refuses there with an error saying so.
if not hasattr(sys, "getrefcount"):
    pytest.skip("audit() needs reference counts (CPython)", allow_module_level=True)

KiB = 1024
MiB = 1024 * KiB


def row_for(report, wrapper):
    """The report's row for `wrapper` (a functools or boundcache wrapper)."""
    rows = [r for r in report if r.qualname == wrapper.__qualname__ and r.module == wrapper.__module__]
    assert len(rows) == 1, (wrapper, rows)
    return rows[0]


# -- functools ----------------------------------------------------------------


def test_unbounded_functools_method_cache_pins_dropped_instances():
    class Image:
        def __init__(self):
            self.buffer = bytearray(64 * KiB)

        @functools.lru_cache(maxsize=None)
        def thumbnail(self, size):
            return size * 2

    refs = []
    for _ in range(5):
        img = Image()
        img.thumbnail(10)
        refs.append(weakref.ref(img))
    del img
    live = Image()
    live.thumbnail(3)

    row = row_for(boundcache.audit(), Image.thumbnail)
    assert (row.kind, row.entries, row.pinned, row.held) == ("functools", 6, 5, 6)
    assert row.classes == (("Image", 5),)
    assert 5 * 64 * KiB <= row.bytes < 2 * 5 * 64 * KiB
    assert row.maxsize is None
    assert all(r() is not None for r in refs)  # really pinned: nothing else holds them


def test_functools_cache_decorator_and_property_above_it():
    class Shape:
        def __init__(self):
            self.points = bytearray(10 * KiB)

        @functools.cache
        def area(self):
            return len(self.points)

        @property
        @functools.lru_cache(maxsize=None)
        def perimeter(self):
            return 4

    for _ in range(3):
        s = Shape()
        s.area()
        assert s.perimeter == 4
    del s
    report = boundcache.audit()
    assert row_for(report, Shape.area).pinned == 3
    assert row_for(report, Shape.perimeter.fget).pinned == 3


def test_bounded_functools_cache_pins_what_it_has_not_evicted():
    class Doc:
        def __init__(self):
            self.text = bytearray(8 * KiB)

        @functools.lru_cache(maxsize=3)
        def words(self):
            return ["w"] * 10

    refs = []
    for _ in range(10):
        d = Doc()
        d.words()
        refs.append(weakref.ref(d))
    del d
    gc.collect()
    assert [r() is None for r in refs] == [True] * 7 + [False] * 3

    row = row_for(boundcache.audit(), Doc.words)
    assert (row.entries, row.pinned, row.held, row.maxsize) == (3, 3, 3, 3)
    # The results (lists of ten) count too: they go with the entries.
    assert 3 * 8 * KiB < row.bytes < 2 * 3 * 8 * KiB


def test_maxsize_zero_holds_nothing():
    class C:
        @functools.lru_cache(maxsize=0)
        def m(self):
            return 1

    C().m()
    row = row_for(boundcache.audit(), C.m)
    assert (row.entries, row.pinned, row.held, row.bytes) == (0, 0, 0, 0)


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("maxsize", [None, 64])
def test_methods_with_several_arguments_and_keywords(maxsize, typed):
    class Grid:
        def __init__(self):
            self.cells = bytearray(4 * KiB)

        @functools.lru_cache(maxsize=maxsize, typed=typed)
        def cell(self, x, y=0, *, scale=1, label=None):
            return (x, y, scale, label)

    for _ in range(4):
        g = Grid()
        g.cell(1)
        g.cell(1, 2)
        g.cell(1, y=2)
        g.cell(1, 2, scale=3, label="a")
        g.cell(1.0, 2)  # a separate entry when typed
    del g
    row = row_for(boundcache.audit(), Grid.cell)
    assert row.entries == 4 * (5 if typed else 4)
    assert (row.pinned, row.held) == (4, 4)
    assert 4 * 4 * KiB < row.bytes < 2 * 4 * 4 * KiB


def test_instances_alive_elsewhere_are_held_not_pinned():
    class Session:
        def __init__(self):
            self.buffer = bytearray(16 * KiB)

        @functools.lru_cache(maxsize=None)
        def user(self, uid):
            return {"uid": uid}

    sessions = [Session() for _ in range(4)]
    for s in sessions:
        s.user(1)
    row = row_for(boundcache.audit(), Session.user)
    assert (row.entries, row.pinned, row.held, row.bytes) == (4, 0, 4, 0)

    del sessions[:2]  # the cache alone keeps these two now
    row = row_for(boundcache.audit(), Session.user)
    assert (row.pinned, row.held) == (2, 4)
    assert 2 * 16 * KiB <= row.bytes < 2 * 2 * 16 * KiB


def test_shared_objects_are_not_counted_as_retained():
    shared = bytearray(1 * MiB)

    class View:
        def __init__(self):
            self.shared = shared  # alive through the test's local too
            self.own = bytearray(1 * KiB)

        @functools.lru_cache(maxsize=None)
        def length(self):
            return len(self.shared)

    for _ in range(3):
        View().length()
    row = row_for(boundcache.audit(), View.length)
    assert row.pinned == 3
    assert 3 * KiB <= row.bytes < 64 * KiB  # not the shared megabyte


def test_result_referring_back_to_its_instance_is_still_pinned():
    class Node:
        def __init__(self):
            self.payload = bytearray(32 * KiB)

        @functools.lru_cache(maxsize=None)
        def handler(self):
            return self.describe  # a bound method: result -> instance

        def describe(self):
            return "node"

        @functools.lru_cache(maxsize=16)
        def itself(self):
            return self

    n = Node()
    n.handler()
    n.itself()
    ref = weakref.ref(n)
    del n
    gc.collect()
    assert ref() is not None  # not a collectable cycle: the class-level cache is a root
    report = boundcache.audit()
    for wrapper in (Node.handler, Node.itself):
        row = row_for(report, wrapper)
        assert row.pinned == 1
        assert 32 * KiB <= row.bytes < 64 * KiB
    assert report.total_pinned >= 1


def test_subclass_instances_count_and_their_hash_is_not_called():
    hashes = []

    class Base:
        def __init__(self):
            self.buffer = bytearray(4 * KiB)

        def __hash__(self):
            hashes.append(self)
            return id(self) >> 4

        @functools.lru_cache(maxsize=8)
        def m(self, x):
            return x

    class Child(Base):
        pass

    Base().m(1)
    Child().m(1)
    Child().m(2)
    hashes.clear()
    row = row_for(boundcache.audit(), Base.m)
    assert (row.pinned, row.classes) == (3, (("Child", 2), ("Base", 1)))
    assert hashes == []


def test_a_function_cache_taking_an_instance_does_not_hold_it_as_self():
    class Shape:
        def __init__(self):
            self.points = bytearray(KiB)

    @functools.lru_cache(maxsize=None)
    def area(shape):
        return len(shape.points)

    area(Shape())
    row = row_for(boundcache.audit(), area)
    assert (row.entries, row.pinned, row.held) == (1, 0, 0)


def test_a_wraps_decorator_above_the_cache_still_identifies_self():
    def logged(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            return func(*args, **kwargs)

        return inner

    class Repo:
        @logged
        @functools.lru_cache(maxsize=None)
        def fetch(self, key):
            return key

    Repo().fetch(1)
    Repo().fetch(2)
    row = row_for(boundcache.audit(), Repo.fetch.__wrapped__)
    assert (row.pinned, row.held) == (2, 2)


# -- boundcache -----------------------------------------------------------------


def test_boundcache_caches_in_dict_or_slot_never_pin():
    class WithDict:
        def __init__(self):
            self.buffer = bytearray(8 * KiB)

        @boundcache.lru_cache
        def me(self):
            return self  # a cycle through __dict__: collectable

        @boundcache.cache
        def twice(self, x, *, k=1):
            return [x, x]

    class WithSlot:
        __slots__ = ("buffer", "__boundcache__", "__weakref__")

        def __init__(self):
            self.buffer = bytearray(8 * KiB)

        @boundcache.cache
        def me(self):
            return self

    live = [WithDict(), WithSlot()]
    live[0].twice(1)
    live[0].twice(2, k=3)
    refs = []
    for cls in (WithDict, WithSlot):
        o = cls()
        o.me()
        refs.append(weakref.ref(o))
        del o
    report = boundcache.audit()  # collects the cycles first
    assert [r() for r in refs] == [None, None]
    for wrapper, entries in ((WithDict.me, 0), (WithDict.twice, 2), (WithSlot.me, 0)):
        row = row_for(report, wrapper)
        assert (row.kind, row.entries, row.pinned, row.held, row.bytes) == ("boundcache", entries, 0, 0, 0)


def test_boundcache_weak_table_owner_pinned_by_its_own_result():
    class Tile:
        __slots__ = ("buffer", "__weakref__")

        def __init__(self):
            self.buffer = bytearray(48 * KiB)

        @boundcache.lru_cache
        def me(self):
            return self  # refers back: the weak table keeps it (contract 3.5)

        @boundcache.cache
        def size(self, scale):
            return len(self.buffer) * scale

    pinned = Tile()
    pinned.me()
    pinned.size(1)
    ref = weakref.ref(pinned)
    del pinned
    gc.collect()
    assert ref() is not None

    freed = Tile()
    freed.size(2)  # no back reference: freed with the instance
    del freed

    live = Tile()
    live.me()

    report = boundcache.audit()
    me = row_for(report, Tile.me)
    assert (me.kind, me.entries, me.pinned, me.held) == ("boundcache", 2, 1, 2)
    assert me.classes == (("Tile", 1),)
    assert 48 * KiB <= me.bytes < 2 * 48 * KiB
    # The instance is held in size's cache too, but size's results do not pin it.
    size = row_for(report, Tile.size)
    assert (size.entries, size.pinned, size.held, size.bytes) == (1, 0, 1, 0)

    Tile.me.cache_clear()
    gc.collect()
    assert ref() is None
    assert row_for(boundcache.audit(), Tile.me).pinned == 0


def test_boundcache_weak_table_owner_pinned_by_its_cached_property():
    class Tile:
        __slots__ = ("buffer", "__weakref__")

        def __init__(self):
            self.buffer = bytearray(48 * KiB)

        @boundcache.cached_property
        def parts(self):
            return [self]  # refers back: the weak table keeps it (contract 3.5)

        @boundcache.cached_property
        def size(self):
            return len(self.buffer)

    pinned = Tile()
    pinned.parts  # noqa: B018
    pinned.size  # noqa: B018
    ref = weakref.ref(pinned)
    del pinned
    gc.collect()
    assert ref() is not None

    freed = Tile()
    freed.size  # noqa: B018  no back reference: freed with the instance
    del freed

    live = Tile()
    live.parts  # noqa: B018

    rows = {r.qualname: r for r in boundcache.audit() if r.qualname.startswith(Tile.__qualname__ + ".")}
    parts = rows[Tile.__qualname__ + ".parts"]
    assert (parts.kind, parts.entries, parts.pinned, parts.held) == ("boundcache", 2, 1, 2)
    assert parts.classes == (("Tile", 1),) and parts.maxsize is None
    assert 48 * KiB <= parts.bytes < 2 * 48 * KiB
    # The pinned instance's other value does not pin it.
    size = rows[Tile.__qualname__ + ".size"]
    assert (size.entries, size.pinned, size.held, size.bytes) == (1, 0, 1, 0)

    # Deleting the value lets the instance go.
    del ref().parts
    gc.collect()
    assert ref() is None
    rows = [r for r in boundcache.audit() if r.qualname == Tile.__qualname__ + ".parts"]
    assert [(r.entries, r.pinned) for r in rows] == [(1, 0)]


def test_boundcache_function_semantics_table_holding_self():
    def parse(obj, text):
        return [obj, text]

    cached_parse = boundcache.lru_cache(maxsize=None)(parse)

    class Parser:
        parse = cached_parse  # aliased: keeps function semantics

        def __init__(self):
            self.grammar = bytearray(16 * KiB)

    assert type(Parser.__dict__["parse"]) is boundcache.CachedFunction
    for _ in range(2):
        Parser.parse(Parser(), "x")
    row = row_for(boundcache.audit(), cached_parse)
    assert (row.kind, row.entries, row.pinned, row.held) == ("boundcache", 2, 2, 2)
    assert 2 * 16 * KiB <= row.bytes < 2 * 2 * 16 * KiB


def test_weak_table_property_value_of_a_base_reached_through_super():
    # The subclass gives the name to a property that reaches the base's
    # cached_property through super(): its values are kept under that name,
    # and the row is the base's property's (issue 23).
    class Base:
        __slots__ = ("buffer", "__weakref__")

        def __init__(self):
            self.buffer = bytearray(24 * KiB)

        @boundcache.cached_property
        def parts(self):
            return [self]  # refers back: the weak table keeps it (contract 3.5)

    class Sub(Base):
        __slots__ = ()

        @property
        def parts(self):
            return super().parts

    class Gone(Base):
        __slots__ = ()

    sub = Sub()
    sub.parts  # noqa: B018
    ref = weakref.ref(sub)
    del sub
    rows = [r for r in boundcache.audit() if r.qualname == Base.__qualname__ + ".parts"]
    assert [(r.entries, r.pinned, r.held) for r in rows] == [(1, 1, 1)]
    assert rows[0].classes == (("Sub", 1),) and 24 * KiB <= rows[0].bytes < 2 * 24 * KiB

    # A value whose property the class no longer shows still gets a row.
    gone = Gone()
    gone.parts  # noqa: B018
    del gone, Base.parts
    prefix = Base.__qualname__.rpartition(".")[0]
    rows = {r.qualname: r for r in boundcache.audit() if r.qualname.startswith(prefix)}
    orphan = rows[Gone.__qualname__ + ".parts"]
    assert (orphan.kind, orphan.entries, orphan.pinned, orphan.module) == ("boundcache", 1, 1, __name__)
    assert ref() is not None  # the first one is still pinned, now counted on the orphan row too
    assert rows[Sub.__qualname__ + ".parts"].pinned == 1


@pytest.mark.parametrize("memo", [functools.lru_cache, boundcache.lru_cache], ids=["functools", "boundcache"])
def test_a_boundcache_function_table_is_audited_as_functools_is(memo):
    # A cached function aliased into classes and called as Cls.f(obj): both
    # libraries key on obj; the rows must say the same (issue 23).
    import typing

    def size(obj):
        return [len(getattr(obj, "buffer", b""))]

    def small(obj):
        return size(obj)

    def length(obj):
        return size(obj)

    unbounded = memo(maxsize=None)(size)
    bounded = memo(maxsize=8)(small)
    plain = memo(maxsize=None)(length)  # on no class: a function taking an instance

    class Holder:
        size = unbounded
        small = bounded

        def __init__(self):
            self.buffer = bytearray(8 * KiB)

    class Pair(typing.NamedTuple):
        x: int
        small = bounded

    for _ in range(2):
        Holder.size(Holder())
        Holder.small(Holder())
        plain(Holder())
    Pair.small(Pair(1))
    kept = Holder()
    Holder.size(kept)
    report = boundcache.audit()
    kind = "functools" if memo is functools.lru_cache else "boundcache"
    row = row_for(report, unbounded)
    assert (row.kind, row.entries, row.pinned, row.held, row.values, row.maxsize) == (kind, 3, 2, 3, 0, None)
    row = row_for(report, bounded)
    assert (row.entries, row.pinned, row.held, row.values, row.maxsize) == (3, 3, 3, 1, 8)
    assert dict(row.classes) == {"Holder": 2, "Pair": 1} and row.leaks == 2
    row = row_for(report, plain)
    assert (row.entries, row.pinned, row.held) == (2, 0, 0)


@pytest.mark.parametrize("memo", [functools.lru_cache, boundcache.lru_cache], ids=["functools", "boundcache"])
def test_owners_served_as_functools_are_audited_as_functools_caches(memo):
    # No __dict__ and no weak reference: boundcache keeps their entries in the
    # method wrapper's own table, keyed by (self, *args), as functools does
    # (contract 3.5); the rows must be functools' (issue 23).
    import typing
    import warnings

    class Slotted:
        __slots__ = ("buffer",)

        def __init__(self):
            self.buffer = bytearray(8 * KiB)

        @memo(maxsize=None)
        def unbounded(self, x=0):
            return [x]

        @memo(maxsize=8)
        def bounded(self, x=0):
            return [x]

    class Pair(typing.NamedTuple):
        x: int

        @memo(maxsize=8)
        def bounded(self):
            return [self.x]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundcache.PinningWarning for Slotted
        for i in range(3):
            Slotted().unbounded(i)
            Slotted().bounded(i)
        Pair(1).bounded()
        kept = Slotted()
        kept.bounded()
    report = boundcache.audit()
    kind = "functools" if memo is functools.lru_cache else "boundcache"
    row = row_for(report, Slotted.unbounded)
    assert (row.kind, row.entries, row.pinned, row.held, row.values) == (kind, 3, 3, 3, 0)
    assert 3 * 8 * KiB <= row.bytes < 2 * 3 * 8 * KiB
    row = row_for(report, Slotted.bounded)
    assert (row.entries, row.pinned, row.held, row.values, row.maxsize) == (4, 3, 4, 0, 8)
    row = row_for(report, Pair.bounded)
    assert (row.entries, row.pinned, row.values, row.leaks) == (1, 1, 1, 0)


# -- accuracy: the image-service scenario (contract 7) --------------------------


def _freed_by(clear):
    """Bytes that tracemalloc sees released by clear() and a collection."""
    gc.collect()
    import tracemalloc

    before = tracemalloc.get_traced_memory()[0]
    clear()
    gc.collect()
    return before - tracemalloc.get_traced_memory()[0]


@pytest.mark.parametrize("kind", ["functools", "boundcache-weak-table"])
def test_bytes_within_2x_of_the_truth_on_the_image_service(kind):
    if kind == "functools":

        class ImageCache:
            def __init__(self, name):
                self.name = name
                self.buffer = bytearray(256 * KiB)

            @functools.lru_cache(maxsize=None)
            def thumbnail(self, width, height=None):
                return bytes(width)

    else:

        class ImageCache:
            __slots__ = ("name", "buffer", "__weakref__")

            def __init__(self, name):
                self.name = name
                self.buffer = bytearray(256 * KiB)

            @boundcache.lru_cache(maxsize=None)
            def thumbnail(self, width, height=None):
                return (bytes(width), self)  # the back reference pins it

    import tracemalloc

    tracemalloc.start()
    try:
        for i in range(40):  # one instance a request, dropped after it
            img = ImageCache(f"request-{i}")
            img.thumbnail(64)
            img.thumbnail(32, height=32)
        del img
        row = row_for(boundcache.audit(), ImageCache.thumbnail)
        truth = _freed_by(ImageCache.thumbnail.cache_clear)
    finally:
        tracemalloc.stop()
    assert row.pinned == 40
    assert truth > 40 * 256 * KiB
    assert truth / 2 <= row.bytes <= truth * 2, (row.bytes, truth)


# -- whole process ----------------------------------------------------------------


def test_objects_of_the_caller_are_live_and_nothing_is_pinned_by_a_clean_run():
    class Model:
        def __init__(self):
            self.weights = bytearray(KiB)

        @functools.lru_cache(maxsize=None)
        def predict(self, x):
            return x

        @boundcache.cache
        def explain(self, x):
            return (self, x)

    models = [Model() for _ in range(3)]
    for m in models:
        m.predict(1)
        m.explain(1)
    first = boundcache.audit()
    second = boundcache.audit()
    for report in (first, second):
        assert row_for(report, Model.predict).pinned == 0
        assert row_for(report, Model.explain).pinned == 0
    assert [(r.qualname, r.pinned, r.bytes) for r in first] == [(r.qualname, r.pinned, r.bytes) for r in second]


def test_a_fresh_process_has_no_pinned_instances():
    code = textwrap.dedent(
        """
        import fnmatch, functools, typing, boundcache

        class Live:
            @functools.lru_cache(maxsize=None)
            def m(self, x):
                return x

            @boundcache.cache
            def b(self, x):
                return x

        keep = Live()
        keep.m(1); keep.b(1)
        fnmatch.fnmatch("a.py", "*.py")
        typing.List[int]; typing.Optional[str]
        report = boundcache.audit()
        assert report.total_pinned == 0, report
        assert report.total_bytes == 0, report
        assert not report.pinning, report
        print(len(report))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 3


def test_the_report_keeps_no_object_alive(no_gc):
    class Blob:
        @functools.lru_cache(maxsize=None)
        def m(self):
            return 1

    b = Blob()
    b.m()
    ref = weakref.ref(b)
    del b
    report = boundcache.audit(collect=False)
    assert row_for(report, Blob.m).pinned == 1
    Blob.m.cache_clear()
    assert ref() is None  # freed by reference counting: the audit holds nothing


def test_many_entries():
    class Item:
        def __init__(self, i):
            self.i = i

        @functools.lru_cache(maxsize=None)
        def f(self, x, *, k=0):
            return x + k

    keep = []
    for i in range(2000):
        item = Item(i)
        item.f(1)
        item.f(1, k=2)
        if i % 4 == 0:
            keep.append(item)
    del item
    row = row_for(boundcache.audit(), Item.f)
    assert (row.entries, row.pinned, row.held) == (4000, 1500, 2000)


# -- the report -----------------------------------------------------------------------


def test_printing_gives_a_table_sorted_by_bytes_with_human_units():
    class Big:
        def __init__(self):
            self.b = bytearray(3 * MiB)

        @functools.lru_cache(maxsize=None)
        def m(self):
            return 0

    class Small:
        def __init__(self):
            self.b = bytearray(5 * KiB)

        @functools.lru_cache(maxsize=None)
        def m(self):
            return 0

    Small().m()
    Big().m()
    report = boundcache.audit()
    assert isinstance(report, Report) and all(isinstance(r, CacheRow) for r in report)
    assert [r.bytes for r in report] == sorted((r.bytes for r in report), reverse=True)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("boundcache.audit(): ")
    assert lines[1].split() == ["bytes", "pinned", "held", "entries", "kind", "cache"]
    big = next(i for i, line in enumerate(lines) if line.endswith("Big.m  [1 Big]"))
    small = next(i for i, line in enumerate(lines) if line.endswith("Small.m  [1 Small]"))
    assert big < small
    assert lines[big].split()[:2] == ["3.0", "MiB"]
    assert lines[small].split()[:2] == [format_bytes(row_for(report, Small.m).bytes).split()[0], "KiB"]
    assert repr(report) == text


def test_min_bytes_and_include_stdlib_trim_the_report():
    class Heavy:
        def __init__(self):
            self.b = bytearray(2 * MiB)

        @functools.lru_cache(maxsize=None)
        def m(self):
            return 0

    Heavy().m()
    fnmatch.fnmatch("a.txt", "*.txt")  # fnmatch._compile_pattern is an lru_cache

    full = boundcache.audit()
    names = {r.name for r in full}
    assert "fnmatch._compile_pattern" in names
    assert row_for(full, Heavy.m).pinned == 1

    no_stdlib = boundcache.audit(include_stdlib=False)
    assert "fnmatch._compile_pattern" not in {r.name for r in no_stdlib}
    assert row_for(no_stdlib, Heavy.m).pinned == 1

    big = boundcache.audit(min_bytes=MiB)
    assert all(r.bytes >= MiB for r in big)
    assert row_for(big, Heavy.m).bytes >= 2 * MiB
    assert big.total_bytes >= 2 * MiB and big.total_pinned >= 1


def test_format_and_parse_bytes():
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(4 * 1024**3) == "4.0 GiB"
    assert parse_bytes("4096") == 4096
    assert parse_bytes("64K") == parse_bytes("64 KiB") == parse_bytes("64kb") == 64 * KiB
    assert parse_bytes("1.5G") == int(1.5 * 1024**3)
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_audit_is_public_and_lazy():
    assert "audit" in boundcache.__all__
    assert boundcache.audit is __import__("boundcache._audit", fromlist=["audit"]).audit
    out = subprocess.run(
        [sys.executable, "-c", "import sys, boundcache; print('boundcache._audit' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "False"


def test_value_owners_in_bounded_caches_are_their_own_kind():
    import dataclasses
    import functools
    import typing

    from boundcache._audit import is_value_type

    class Point(typing.NamedTuple):
        x: int

        @functools.lru_cache(maxsize=8)
        def bounded(self):
            return [self.x]

        @functools.lru_cache(maxsize=None)
        def unbounded(self):
            return [self.x]

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        x: int

    @dataclasses.dataclass
    class Mutable:
        x: int

    class Identity:
        pass

    class Same:
        __hash__ = object.__hash__

        def __eq__(self, other):
            return self is other

    assert is_value_type(Point) and is_value_type(Frozen) and is_value_type(tuple)
    assert not is_value_type(Mutable)  # eq=True, unhashable
    assert not is_value_type(Identity) and not is_value_type(Same)
    try:
        Point(1).bounded()
        Point(2).unbounded()
        rows = {row.qualname.rsplit(".", 1)[1]: row for row in boundcache.audit()
                if row.qualname.startswith("test_value_owners")}
        assert (rows["bounded"].pinned, rows["bounded"].values, rows["bounded"].leaks) == (1, 1, 0)
        assert (rows["unbounded"].pinned, rows["unbounded"].values, rows["unbounded"].leaks) == (1, 0, 1)
        report = boundcache.audit()
        assert rows["bounded"].qualname in {r.qualname for r in report.value_caches}
        assert rows["bounded"].qualname not in {r.qualname for r in report.leaking}
        assert "values: 1 of 1 pinned, bounded by maxsize=8" in str(report)
    finally:
        Point.bounded.cache_clear()
        Point.unbounded.cache_clear()
