"""Which core the suite runs against (contract 9).

The whole suite runs against whichever core boundcache chose: the C++
extension, or the pure-Python core with ``BOUNDCACHE_PURE=1`` (and wherever
the extension cannot be loaded, as on PyPy). Tests of C++ internals that the
pure core has no equivalent of are marked ``c_core("why")`` (conftest.py);
they are skipped on the pure core, with that reason.
"""

from __future__ import annotations

import contextlib
import gc
import sys

import boundcache._backend

PURE = boundcache._backend.PURE
CORE = boundcache._backend.core
# Implementations without reference counting free what a test drops at its
# next collection (contract 9): lifetime tests collect there first.
REFCOUNTED = sys.implementation.name == "cpython"
# Owners with a __dict__ but no weak references (int subclasses, NamedTuple
# subclasses) own their caches only where the C++ core's dict watcher can
# observe their death (CPython 3.12+); elsewhere they are served as functools.
DICT_WATCHER = not PURE and sys.version_info >= (3, 12)


@contextlib.contextmanager
def recursion_room(depth, frames_per_call=4):
    """Room for `depth` nested cached calls. Through the pure core each one
    is a few Python frames more than the function's own (the wrapper's
    __call__, the table's lookup), where the C++ core adds none."""
    old = sys.getrecursionlimit()
    if PURE:
        sys.setrecursionlimit(max(old, depth * frames_per_call + 200))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def released():
    """Before a test asserts that what it dropped is freed: where reference
    counting frees (CPython), nothing to do, since it is freed at once, with
    the collector disabled. Elsewhere (PyPy) collections, which is when such
    an implementation frees: one runs the owners' weakref callbacks, which
    release their caches, whose entries the next one frees."""
    if not REFCOUNTED:
        for _ in range(3):
            gc.collect()
