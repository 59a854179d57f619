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


# ---- the two cores (contract 9): tests/cores.py ----

from cores import PURE  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "c_core(reason): tests internals of the C++ core only (skipped on the pure core)")


def pytest_collection_modifyitems(config, items):
    if not PURE:
        return
    for item in items:
        mark = item.get_closest_marker("c_core")
        if mark is not None:
            item.add_marker(pytest.mark.skip(reason="C++ core internals: " + (mark.args[0] if mark.args else "")))
