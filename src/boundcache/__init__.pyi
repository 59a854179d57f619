"""boundcache: functools' memoizers, with caches that never outlive their owner."""

from collections.abc import Callable, Hashable
from typing import TypeVar, overload

from typing_extensions import ParamSpec

from ._core import (
    BoundCachedMethod as BoundCachedMethod,
    CachedFunction as CachedFunction,
    CachedMethod as CachedMethod,
    CacheInfo as CacheInfo,
    cached_property as cached_property,
)
from ._shared import RedisTier as RedisTier, TierInfo as TierInfo
from ._storage_hint import PinningWarning as PinningWarning
from ._core import _CachedClassMethod, _LruCacheDecorator  # pyright: ignore[reportPrivateUsage]  # stub-only helper types

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

# lru_cache and cache are defined in the package itself (the C++ core holds
# the types they return).
@overload
def lru_cache(maxsize: classmethod[_T, _P, _R], typed: bool = False) -> _CachedClassMethod[_T, _P, _R]: ...
@overload
def lru_cache(maxsize: Callable[_P, _R], typed: bool = False) -> CachedFunction[_P, _R]: ...
@overload
def lru_cache(
    maxsize: int | None = 128,
    typed: bool = False,
    *,
    ttl: float | None = None,
    timer: Callable[[], float] | None = None,
    key: Callable[..., Hashable] | None = None,
    max_total: int | None = None,
    lock: bool = False,
    shared: RedisTier | None = None,
) -> _LruCacheDecorator: ...
@overload
def cache(user_function: classmethod[_T, _P, _R], /) -> _CachedClassMethod[_T, _P, _R]: ...
@overload
def cache(user_function: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...

from ._audit import audit as audit

__all__ = [
    "BoundCachedMethod",
    "CacheInfo",
    "CachedFunction",
    "CachedMethod",
    "PinningWarning",
    "audit",
    "cache",
    "cached_property",
    "lru_cache",
]
