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
