"""boundcache: functools' memoizers, with caches that never outlive their owner."""

from ._core import (
    BoundCachedMethod as BoundCachedMethod,
    CachedFunction as CachedFunction,
    CachedMethod as CachedMethod,
    CacheInfo as CacheInfo,
    cache as cache,
    cached_property as cached_property,
    lru_cache as lru_cache,
)
from ._audit import audit as audit

__all__ = [
    "BoundCachedMethod",
    "CacheInfo",
    "CachedFunction",
    "CachedMethod",
    "audit",
    "cache",
    "cached_property",
    "lru_cache",
]
