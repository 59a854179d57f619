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
import weakref

import pytest

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


class _SlottedWithoutWeakref:
    __slots__ = ()


def _weakly_referenceable(obj):
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


# PyPy: every object supports weak references, a class with __slots__ and no
# __weakref__ and subclasses of int, bytes and tuple too. No owner there is
# served as functools for want of them: each keeps its own caches (contract
# 3.5), in the weak table or its __dict__ (docs/design.md).
WEAK_REFERENCES_EVERYWHERE = _weakly_referenceable(_SlottedWithoutWeakref())
# Owners that CPython gives a __dict__ but no weak references (int
# subclasses, named tuple subclasses) keep per-instance caches.
OWN_CACHES_WITHOUT_WEAKREF_SLOT = DICT_WATCHER or WEAK_REFERENCES_EVERYWHERE
# For tests of owners that CPython cannot weakly reference (served as functools there).
WITHOUT_WEAKREFS = pytest.mark.skipif(
    WEAK_REFERENCES_EVERYWHERE,
    reason="PyPy: every object supports weak references, so this owner keeps its own caches there "
    "(test_served_as_functools.py::test_owners_keep_their_own_caches_where_every_object_has_weak_references)",
)


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


def released(collections=3):
    """Before a test asserts that what it dropped is freed: where reference
    counting frees (CPython), nothing to do, since it is freed at once, with
    the collector disabled. Elsewhere (PyPy) collections, which is when such
    an implementation frees: one runs the owners' weakref callbacks, which
    release their caches (and take their entries out of a max_total), whose
    entries the next one frees, and the entries' finalizers the one after.
    Tests that only need the first pass 1."""
    if not REFCOUNTED:
        for _ in range(collections):
            gc.collect()


def examples(n: int) -> int:
    """A hypothesis example budget: n where references are counted; a third
    on PyPy for the tests that collect after each step (a full collection
    costs tens of milliseconds there), so that the suite fits CI's budget."""
    return n if REFCOUNTED else max(n // 3, 10)
