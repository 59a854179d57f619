"""CPython's own functools tests, pointed at boundcache.

Importing this module imports ``test.test_functools`` (the running CPython's
file, untouched) while ``import_fresh_module('functools', blocked=['_functools'])``
answers with a functools-shaped module whose memoizers are boundcache's. So the
file's module-level ``py_functools`` is boundcache-backed, and with it every
class the ``cached_property`` tests define at import time (``CachedCostItem``
and the others use ``@py_functools.cached_property``).

Test classes run by the oracle (their names are what expected_failures.txt uses):

  BoundcacheLRU             TestLRU with ``module`` = boundcache-backed functools
  BoundcacheCache           TestCache likewise (CPython itself never runs it)
  BoundcacheCachedProperty  TestCachedProperty against the boundcache-backed py_functools

``module`` in the two mixins is built on the C ``functools`` and is neither
``c_functools`` nor ``py_functools``, so ``if self.module is py_functools``
branches take the exact (C) assertions and no C-only test is skipped for it.
"""

from __future__ import annotations

import functools
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boundcache_functools import functools_shaped  # noqa: E402

if "test.test_functools" in sys.modules:
    raise RuntimeError("test.test_functools was imported before oracle_cases: its py_functools is the real one")

from test.support import import_helper  # noqa: E402

_original_import_fresh_module = import_helper.import_fresh_module


def _import_fresh_module(name, *args, **kwargs):
    module = _original_import_fresh_module(name, *args, **kwargs)
    blocked = kwargs.get("blocked", args[1] if len(args) > 1 else ())
    if name == "functools" and module is not None and "_functools" in (blocked or ()):
        return functools_shaped(module, "boundcache_py_functools")
    return module


import_helper.import_fresh_module = _import_fresh_module
try:
    import test.test_functools as cpython  # noqa: E402
finally:
    import_helper.import_fresh_module = _original_import_fresh_module

assert cpython.py_functools.lru_cache is functools_shaped().lru_cache, "py_functools was not replaced"

bc_functools = functools_shaped(functools)


# pickled by reference by TestLRU.test_pickle: must be reachable as oracle_cases.cached_func
@bc_functools.lru_cache()
def cached_func(x, y):
    return 3 * x + y


class BoundcacheLRU(cpython.TestLRU, unittest.TestCase):
    module = bc_functools
    cached_func = (cached_func,)

    @module.lru_cache()
    def cached_meth(self, x, y):
        return 3 * x + y

    @staticmethod
    @module.lru_cache()
    def cached_staticmeth(x, y):
        return 3 * x + y


class BoundcacheCache(cpython.TestCache, unittest.TestCase):
    module = bc_functools


class BoundcacheCachedProperty(cpython.TestCachedProperty):
    pass


CASES = (BoundcacheLRU, BoundcacheCache, BoundcacheCachedProperty)


def test_ids() -> list[str]:
    loader = unittest.TestLoader()
    return [f"{case.__name__}.{name}" for case in CASES for name in loader.getTestCaseNames(case)]
