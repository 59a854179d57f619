import gc
import sys
import threading

import pytest


@pytest.fixture
def no_gc():
    """Lifetime tests run with the cyclic GC off: only reference counting frees."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@pytest.fixture
def run_threads():
    """run(work, n): work(0) ... work(n - 1) in n threads at once, switching
    between them as often as CPython allows, so that races show."""

    def run(work, n):
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(old)

    return run


# ---- the two cores (contract 9) ----
#
# The whole suite runs against whichever core boundcache chose: the C++
# extension, or the pure-Python core with BOUNDCACHE_PURE=1 (and wherever
# the extension cannot be loaded, as on PyPy). Tests of C++ internals that
# the pure core has no equivalent of are marked ``c_core("why")``; they are
# skipped on the pure core, with that reason.

import contextlib  # noqa: E402

import boundcache._backend  # noqa: E402

PURE = boundcache._backend.PURE
CORE = boundcache._backend.core
# Implementations without reference counting free what a test drops at the
# next collection: lifetime tests collect there first (docs/design.md, "The
# pure-Python core").
REFCOUNTED = sys.implementation.name == "cpython"


def pytest_configure(config):
    config.addinivalue_line("markers", "c_core(reason): tests internals of the C++ core only (skipped on the pure core)")


def pytest_collection_modifyitems(config, items):
    if not PURE:
        return
    for item in items:
        mark = item.get_closest_marker("c_core")
        if mark is not None:
            item.add_marker(pytest.mark.skip(reason="C++ core internals: " + (mark.args[0] if mark.args else "")))


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
    """Where nothing but reference counting frees (CPython), nothing to do;
    elsewhere (PyPy) a collection, which is when such an implementation
    frees what the test dropped."""
    if not REFCOUNTED:
        gc.collect()
