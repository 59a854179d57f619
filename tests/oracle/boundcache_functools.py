"""A functools-shaped module whose memoizers are boundcache's.

CPython's ``Lib/test/test_functools.py`` reaches the decorators under test
through a module object (``self.module.lru_cache``, ``py_functools.cached_property``).
``functools_shaped(base)`` returns a new module holding everything ``base`` has
(``partial``, ``wraps``, ``RLock``, ...) except ``lru_cache``, ``cache``,
``cached_property`` and ``_CacheInfo``, which are boundcache's.
"""

from __future__ import annotations

import functools
import types

import boundcache

REPLACED = {
    "lru_cache": boundcache.lru_cache,
    "cache": boundcache.cache,
    "cached_property": boundcache.cached_property,
    "_CacheInfo": boundcache.CacheInfo,
}


def functools_shaped(base: types.ModuleType = functools, name: str = "boundcache_functools") -> types.ModuleType:
    module = types.ModuleType(name, base.__doc__)
    for key, value in vars(base).items():
        if key not in ("__name__", "__doc__", "__spec__", "__loader__"):
            setattr(module, key, value)
    for key, value in REPLACED.items():
        setattr(module, key, value)
    module.__boundcache_base__ = base.__name__
    return module
