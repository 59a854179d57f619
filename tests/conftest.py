import gc

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
