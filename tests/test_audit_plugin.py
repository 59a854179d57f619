"""The pytest plugin: --boundcache-leaks, the ini option and the marker."""

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

from cores import CORE

# audit() counts references, which an interpreter without reference counting
# (PyPy) does not keep: it refuses there with an error saying so.
if not hasattr(sys, "getrefcount"):
    pytest.skip("audit() needs reference counts (CPython)", allow_module_level=True)

pytest_plugins = ["pytester"]

# Classes at module level of the inner test files: their caches live as long
# as the inner module, like an application's.
PRELUDE = textwrap.dedent(
    """
    import functools, gc, weakref
    import pytest
    import boundcache

    class ImageCache:
        def __init__(self, size=64 * 1024):
            self.buffer = bytearray(size)

        @functools.lru_cache(maxsize=None)
        def thumbnail(self, width, *, height=None):
            return bytes(width)

    class Owned:
        def __init__(self):
            self.buffer = bytearray(1024)

        @boundcache.lru_cache
        def me(self):
            return self  # a collectable cycle: __dict__ storage never pins

    class Tile:
        __slots__ = ("buffer", "__weakref__")

        def __init__(self):
            self.buffer = bytearray(32 * 1024)

        @boundcache.cache
        def me(self):
            return self  # weak table + back reference: pinned (contract 3.5)

    @functools.lru_cache(maxsize=None)
    def square(n):
        return n * n
    """
)


def make_tests(pytester, body, name="test_inner"):
    pytester.makepyfile(**{name: PRELUDE + textwrap.dedent(body)})


LEAKY = """
def test_leaks():
    ImageCache().thumbnail(10)
    ImageCache().thumbnail(20, height=5)

def test_clean():
    square(3)
    img = ImageCache()
    img.thumbnail(1)
    ImageCache.thumbnail.cache_clear()
    Owned().me()
    keep = ImageCache()
    keep.thumbnail(4)
    del keep
    ImageCache.thumbnail.cache_clear()
"""


def test_registered_through_the_pytest11_entry_point():
    eps = [ep for ep in entry_points(group="pytest11") if ep.name == "boundcache"]
    assert [ep.value for ep in eps] == ["boundcache.pytest_plugin"]


def test_off_by_default(pytester):
    make_tests(pytester, LEAKY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)


def test_option_fails_the_leaking_test_naming_cache_count_and_bytes(pytester):
    make_tests(pytester, LEAKY)
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*boundcache: 2 instances created during this test are still pinned by a cache:",
            "*functools cache test_inner.ImageCache.thumbnail pins 2 instances (2 ImageCache) holding 128.* KiB",
            "FAILED test_inner.py::test_leaks - boundcache: 2 instances*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_clean*FAILED*")


def test_boundcache_weak_table_pin_is_reported(pytester):
    make_tests(
        pytester,
        """
        def test_tile():
            Tile().me()
            Tile.me.cache_clear  # attribute access only

        def test_tile_cleared():
            Tile().me()
            Tile.me.cache_clear()
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*boundcache cache test_inner.Tile.me pins 1 instance (1 Tile) holding 32.* KiB"])


def test_ini_option(pytester):
    make_tests(pytester, LEAKY)
    pytester.makeini("[pytest]\nboundcache_leaks = true\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)


def test_marker_checks_one_test_and_exempts_another(pytester):
    make_tests(
        pytester,
        """
        @pytest.mark.boundcache_leaks
        def test_checked():
            ImageCache().thumbnail(1)

        def test_unchecked():
            ImageCache().thumbnail(2)
        """,
        name="test_marker_on",
    )
    make_tests(
        pytester,
        """
        @pytest.mark.boundcache_leaks(False)
        def test_exempt():
            ImageCache().thumbnail(1)

        @pytest.mark.boundcache_leaks(enabled=False)
        def test_exempt_too():
            ImageCache().thumbnail(2)

        def test_checked_by_option():
            ImageCache().thumbnail(3)
        """,
        name="test_marker_off",
    )
    result = pytester.runpytest("test_marker_on.py", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_marker_on.py::test_checked - *"])

    result = pytester.runpytest("--boundcache-leaks", "test_marker_off.py", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_marker_off.py::test_checked_by_option - *"])


def test_instances_made_by_a_fixture_are_reported_at_teardown(pytester):
    make_tests(
        pytester,
        """
        @pytest.fixture
        def image():
            img = ImageCache()
            img.thumbnail(7)
            return img

        def test_uses_fixture(image):
            assert image.thumbnail(7) == bytes(7)
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_uses_fixture*",
            "*boundcache: 1 instance created during this test or its fixtures is still pinned by a cache:",
            "*functools cache test_inner.ImageCache.thumbnail pins 1 instance (1 ImageCache)*",
        ]
    )


def test_earlier_pins_are_not_blamed_on_later_tests(pytester):
    make_tests(
        pytester,
        """
        ImageCache().thumbnail(1)  # pinned at import, before any test

        def test_first_unchecked():
            ImageCache().thumbnail(2)

        @pytest.mark.boundcache_leaks
        def test_second_checked():
            square(2)

        @pytest.mark.boundcache_leaks
        def test_third_checked():
            square(3)

        @pytest.mark.boundcache_leaks
        def test_fourth_leaks_one():
            ImageCache().thumbnail(4)
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*pins 1 instance (1 ImageCache)*", "FAILED test_inner.py::test_fourth_leaks_one*"])


def test_a_failing_test_is_reported_as_itself(pytester):
    make_tests(
        pytester,
        """
        def test_fails_and_leaks():
            ImageCache().thumbnail(1)
            assert False, "own failure"
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*own failure*"])
    result.stdout.no_fnmatch_line("*still pinned*")


def test_the_plugin_keeps_no_object_alive(pytester):
    make_tests(
        pytester,
        """
        REFS = []

        def test_makes_objects():
            img = ImageCache()
            owned = Owned()
            owned.me()
            REFS.extend([weakref.ref(img), weakref.ref(owned)])

        def test_they_are_gone():
            gc.collect()
            assert [r() for r in REFS] == [None, None]

        def test_leak_then_clear():
            img = ImageCache()
            img.thumbnail(1)
            REFS.append(weakref.ref(img))

        def test_cleared_leak_is_gone():
            ImageCache.thumbnail.cache_clear()
            gc.collect()
            assert REFS[-1]() is None
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_leak_then_clear*"])


def test_in_a_fresh_process_through_the_entry_point(pytester):
    make_tests(pytester, LEAKY)
    result = pytester.runpytest_subprocess("--boundcache-leaks")
    result.assert_outcomes(passed=1, failed=1)
    help_text = pytester.runpytest_subprocess("--help")
    help_text.stdout.fnmatch_lines(["*--boundcache-leaks*", "*boundcache_leaks (bool)*"])


def test_plugin_import_is_cheap():
    code = "import sys, boundcache.pytest_plugin; print(sorted(m for m in sys.modules if m.startswith('boundcache')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = set(eval(out.stdout))
    # The package, its core and the plugin (and _storage_hint: PinningWarning,
    # a class the package exports): neither the audit, nor the checker, nor
    # the Redis tier.
    core = {m for m in loaded if m == CORE.__name__ or m.startswith(CORE.__name__ + ".")}
    assert core and loaded - core == {"boundcache", "boundcache._backend", "boundcache._storage_hint", "boundcache.pytest_plugin"}


VALUES = """
import dataclasses, typing

class Region(typing.NamedTuple):
    x: int
    y: int

    @functools.lru_cache(maxsize=64)
    def area(self):
        return self.x * self.y

    @functools.lru_cache(maxsize=None)
    def unbounded(self):
        return self.x

@dataclasses.dataclass(frozen=True)
class Money:
    cents: int

    @functools.lru_cache(maxsize=16)
    def formatted(self):
        return str(self.cents)

def test_bounded_values():
    Region(1, 2).area()
    Region(3, 4).area()
    Money(5).formatted()

def test_unbounded_values():
    Region(5, 6).unbounded()

def test_object_leak():
    ImageCache().thumbnail(3)
"""


def test_values_in_bounded_caches_are_reported_not_failed(pytester):
    make_tests(pytester, VALUES)
    result = pytester.runpytest("--boundcache-leaks", "-rA")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_inner.py::test_unbounded_values - boundcache: 1 instance*",
            "FAILED test_inner.py::test_object_leak - boundcache: 1 instance*",
        ]
    )
    # The rows are sorted by bytes, which differ between Python versions:
    # each row is looked for after the summary's header on its own.
    for row in (
        "*functools cache test_inner.Region.area (maxsize=64) keeps 2 values (2 Region)*",
        "*functools cache test_inner.Money.formatted (maxsize=16) keeps 1 value (1 Money)*",
    ):
        result.stdout.fnmatch_lines(
            ["*= boundcache: values kept by bounded caches (not failures) =*", "test_inner.py::test_bounded_values", row]
        )
    result.stdout.no_fnmatch_line("*test_bounded_values - *")


def test_strict_fails_on_values_too(pytester):
    make_tests(pytester, VALUES)
    result = pytester.runpytest("--boundcache-leaks", "--boundcache-strict")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        ["*functools cache test_inner.Region.area pins 2 instances (2 Region)*"])
    pytester.makeini("[pytest]\nboundcache_leaks = true\nboundcache_strict = true\n")
    pytester.runpytest().assert_outcomes(failed=3)


def test_pins_of_bounded_caches_are_said_to_last_until_evicted(pytester):
    make_tests(
        pytester,
        """
        class Parser:
            @functools.lru_cache(maxsize=16)
            def parse(self, text):
                return text

        def test_bounded():
            Parser().parse("a")

        def test_unbounded():
            ImageCache().thumbnail(1)
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*functools cache test_inner.Parser.parse pins 1 instance (1 Parser) holding * B, "
        "until newer entries evict it (maxsize=16)",
        "Nothing but the cache refers to them, so they stay alive until it is cleared or newer entries evict them.",
    ])
    result.stdout.fnmatch_lines([
        "*functools cache test_inner.ImageCache.thumbnail pins 1 instance (1 ImageCache) holding 64.* KiB",
        "Nothing but the cache refers to them, so they stay alive until it is cleared.",
    ])
    result.stdout.no_fnmatch_line("*never freed*")


def test_weak_table_cached_property_pin_fails_the_test(pytester):
    make_tests(
        pytester,
        """
        class Node:
            __slots__ = ("buffer", "__weakref__")

            def __init__(self):
                self.buffer = bytearray(16 * 1024)

            @boundcache.cached_property
            def family(self):
                return [self]  # refers back, in the weak table: pinned

        class Leaf(Node):
            __slots__ = ()

            @property
            def family(self):
                return super().family

        def test_property():
            Node().family

        def test_through_super():
            Leaf().family

        def test_deleted_value():
            node = Node()
            node.family
            del node.family
        """,
    )
    result = pytester.runpytest("--boundcache-leaks")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*boundcache cache test_inner.Node.family pins 1 instance (1 Node) holding 16.* KiB",
        "boundcache keeps the caches of these instances in its weak table*",
    ])
    result.stdout.fnmatch_lines(["*boundcache cache test_inner.Node.family pins 1 instance (1 Leaf) holding 16.* KiB"])
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_property - *", "FAILED test_inner.py::test_through_super - *"])


FUNCTION_TABLE = """
import typing

def _size(obj):
    return [len(getattr(obj, "buffer", b""))]

def _small(obj):
    return _size(obj)

def _plain(obj):
    return _size(obj)

class Holder:
    size = MEMO(maxsize=None)(_size)  # a function aliased into a class: Holder.size(obj)
    small = MEMO(maxsize=8)(_small)

    def __init__(self):
        self.buffer = bytearray(4096)

class Pair(typing.NamedTuple):
    x: int
    small = Holder.small

plain = MEMO(maxsize=None)(_plain)  # on no class

def test_identity_unbounded():
    Holder.size(Holder())

def test_identity_bounded():
    Holder.small(Holder())

def test_values_bounded():
    Pair.small(Pair(1))

def test_plain_function_taking_an_instance():
    plain(Holder())
"""


def test_a_boundcache_function_table_is_treated_as_functools(pytester):
    # The own table of a boundcache wrapper (keyed as functools keys) pins as
    # functools' does: identity-hashed owners fail, values in a bounded cache
    # are reported apart, a function taking an instance holds no self (issue 23).
    for memo in ("functools", "boundcache"):
        make_tests(pytester, FUNCTION_TABLE.replace("MEMO", f"{memo}.lru_cache"), name=f"test_{memo}")
    result = pytester.runpytest("--boundcache-leaks", "-rA")
    result.assert_outcomes(passed=4, failed=4)
    for memo in ("functools", "boundcache"):
        result.stdout.fnmatch_lines([f"*{memo} cache test_{memo}._size pins 1 instance (1 Holder)*"])
        result.stdout.fnmatch_lines([f"*{memo} cache test_{memo}._small pins 1 instance (1 Holder)*"
                                     "until newer entries evict it (maxsize=8)"])
        result.stdout.fnmatch_lines([
            "*= boundcache: values kept by bounded caches (not failures) =*",
            f"test_{memo}.py::test_values_bounded",
            f"*{memo} cache test_{memo}._small (maxsize=8) keeps 1 value (1 Pair)*",
        ])
        result.stdout.fnmatch_lines([f"FAILED test_{memo}.py::test_identity_unbounded - *",
                                     f"FAILED test_{memo}.py::test_identity_bounded - *"])
    result.stdout.fnmatch_lines(["A boundcache function keys on its arguments, as functools does*"])


def test_a_program_that_freezes_objects_keeps_them_frozen(pytester):
    # The check freezes what exists before a test (gc.freeze) to see only the
    # test's objects; where the program froze objects itself, it remembers
    # identities instead and leaves the program's frozen objects as they are.
    pytester.makeconftest("import gc\nFROZEN = [object()]\ngc.freeze()\n")
    make_tests(
        pytester,
        """
        def test_leaks():
            ImageCache().thumbnail(1)

        def test_still_frozen():
            assert gc.get_freeze_count() > 0
        """,
    )
    result = pytester.runpytest_subprocess("--boundcache-leaks", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_leaks - boundcache: 1 instance*"])


def test_a_test_that_freezes_or_unfreezes_is_not_blamed_for_older_pins(pytester):
    make_tests(
        pytester,
        """
        ImageCache().thumbnail(1)  # pinned at import, before any test

        def test_unfreezes():
            gc.unfreeze()  # everything older looks new now: the check must not believe it

        def test_freezes():
            gc.freeze()
            gc.unfreeze()

        def test_after_them_leaks():
            ImageCache().thumbnail(2)

        def test_clean():
            square(4)
        """,
    )
    result = pytester.runpytest_subprocess("--boundcache-leaks", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_after_them_leaks - boundcache: 1 instance*"])


def test_owners_served_as_functools_fail_as_with_functools(pytester):
    make_tests(
        pytester,
        """
        import typing, warnings

        class Slotted:
            __slots__ = ("buffer",)  # no __weakref__: served as functools, with a PinningWarning

            def __init__(self):
                self.buffer = bytearray(4096)

            @boundcache.lru_cache(maxsize=32)
            def parse(self, text):
                return text

        class Pair(typing.NamedTuple):
            x: int

            @boundcache.lru_cache(maxsize=32)
            def norm(self):
                return abs(self.x)

        def test_slotted():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Slotted().parse("a")

        def test_pair():
            Pair(-1).norm()
        """,
    )
    result = pytester.runpytest("--boundcache-leaks", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*boundcache cache test_inner.Slotted.parse pins 1 instance (1 Slotted) holding * KiB, "
        "until newer entries evict it (maxsize=32)",
        "*boundcache serves these classes as functools does, keyed on self*add '__boundcache__' to __slots__*",
    ])
    result.stdout.fnmatch_lines([
        "test_inner.py::test_pair",
        "*boundcache cache test_inner.Pair.norm (maxsize=32) keeps 1 value (1 Pair)*",
    ])
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_slotted - *"])
