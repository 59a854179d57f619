"""A class holding a numpy array, enums and exceptions with cached methods
(contract 3.10): their own features after cached calls, and freeing with the
GC off."""

import copy
import enum
import pickle
import sys
import warnings
import weakref

import pytest

try:
    import numpy as np
except ImportError:  # no PyPy 8.0 wheel of numpy (pyproject.toml, test extra)
    np = None

import boundcache
from cores import OWN_CACHES_WITHOUT_WEAKREF_SLOT, released

NEEDS_NUMPY = pytest.mark.skipif(np is None, reason="numpy is not installed (no PyPy 8.0 wheel)")


class Signal:
    def __init__(self, samples):
        self.samples = np.asarray(samples, dtype=np.float64)

    @boundcache.lru_cache(maxsize=4)
    def window(self, start, stop):
        return self.samples[start:stop].copy()

    @boundcache.cache
    def mean(self):
        return float(self.samples.mean())

    @boundcache.cached_property
    def spectrum(self):
        return np.abs(np.fft.rfft(self.samples))


@NEEDS_NUMPY
def test_numpy_holder_after_cached_calls():
    s = Signal([1.0, 2.0, 3.0, 4.0])
    w = s.window(1, 3)
    assert s.window(1, 3) is w and np.array_equal(w, [2.0, 3.0])
    assert s.window(np.int64(1), np.int64(3)) is w  # numpy scalars hash and compare as ints
    assert s.mean() == 2.5
    assert s.spectrum is s.spectrum and s.spectrum.shape == (3,)
    for other in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert np.array_equal(other.samples, s.samples)
        assert other.window.cache_info().currsize == 0 and other.window(1, 3) is not w
    # Only the instance's own attributes and the one cache key (contract 3.4).
    assert set(vars(s)) == {"samples", "spectrum", "__boundcache__"}


@NEEDS_NUMPY
def test_numpy_holder_and_its_buffer_freed_by_refcount(no_gc):
    s = Signal(np.zeros(1 << 16))
    s.window(0, 10)
    s.spectrum  # noqa: B018
    buffers = [weakref.ref(s.samples), weakref.ref(s.window(0, 10)), weakref.ref(s.spectrum)]
    ref = weakref.ref(s)
    del s
    released()
    assert ref() is None and [b() for b in buffers] == [None, None, None]
    assert Signal.window.cache_info().currsize == 0


class Planet(enum.Enum):
    MERCURY = (3.303e23, 2.4397e6)
    EARTH = (5.976e24, 6.37814e6)

    def __init__(self, mass, radius):
        self.mass = mass
        self.radius = radius

    @boundcache.lru_cache(maxsize=None)
    def weight(self, kg):
        return kg * 6.673e-11 * self.mass / (self.radius * self.radius)

    @boundcache.cached_property
    def gravity(self):
        return 6.673e-11 * self.mass / (self.radius * self.radius)


def test_enum_members_after_cached_calls():
    w = Planet.EARTH.weight(70)
    assert Planet.EARTH.weight(70) == w
    assert Planet.EARTH.weight.cache_info().hits == 1
    assert Planet.MERCURY.weight.cache_info().currsize == 0  # each member its own cache
    assert Planet.EARTH.gravity == Planet.EARTH.gravity
    assert Planet["EARTH"] is Planet.EARTH and Planet(Planet.EARTH.value) is Planet.EARTH
    assert [p.name for p in Planet] == ["MERCURY", "EARTH"]
    assert pickle.loads(pickle.dumps(Planet.EARTH)) is Planet.EARTH
    assert copy.deepcopy(Planet.EARTH) is Planet.EARTH


class Color(enum.IntFlag):
    RED = 1
    GREEN = 2

    @boundcache.cache
    def describe(self):
        return f"{self.name}={int(self)}"


def test_int_flag_members():
    # int subclass: a __dict__ but no weak references; before 3.12 served as
    # functools (docs/methods.md), from 3.12 per member (the C++ core's dict
    # watcher; the pure core serves them as functools). On PyPy, where an int
    # takes weak references, per member too. Hashed by value: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", boundcache.PinningWarning)
        assert Color.RED.describe() == "RED=1" and Color.RED.describe() is Color.RED.describe()
    assert Color.RED | Color.GREEN == 3
    assert ("__boundcache__" in vars(Color.RED)) == OWN_CACHES_WITHOUT_WEAKREF_SLOT


class LookupFailed(Exception):
    def __init__(self, key):
        super().__init__(key)
        self.key = key

    @boundcache.cache
    def hint(self):
        return [f"no such key: {self.key!r}"]

    @boundcache.cached_property
    def upper(self):
        return str(self.key).upper()


def test_exceptions_after_cached_calls():
    try:
        raise LookupFailed("k")
    except LookupFailed as caught:
        error = caught
    hint = error.hint()
    assert error.hint() is hint and error.upper == "K"
    assert error.args == ("k",) and str(error) == "k" and repr(error) == "LookupFailed('k')"
    for other in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(other) is LookupFailed and other.args == ("k",) and other.key == "k"
        assert other.hint() == hint and other.hint() is not hint


def test_exceptions_freed_by_refcount(no_gc):
    error = LookupFailed("k")
    error.hint()
    error.upper  # noqa: B018
    ref = weakref.ref(error)
    del error
    released()
    assert ref() is None
    assert LookupFailed.hint.cache_info().currsize == 0
