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
