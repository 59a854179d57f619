"""Plain functions keep their signature.  Every line here must type-check."""

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from typing_extensions import assert_type

import boundcache
from boundcache import CacheInfo, CachedFunction, cache, lru_cache

T = TypeVar("T")


@lru_cache
def bare(x: int, y: str = "a") -> float:
    return float(x) + len(y)


@lru_cache()
def called_empty(x: int) -> int:
    return x


@lru_cache(maxsize=32)
def called(x: int, *, scale: float = 1.0) -> float:
    return x * scale


@lru_cache(maxsize=None, typed=True)
def unbounded(key: str, /) -> bytes:
    return key.encode()


@lru_cache(64, True)
def positional_args(a: int, b: int) -> int:
    return a + b


@lru_cache(maxsize=True)  # bool is an int, as in functools
def bool_maxsize() -> None:
    return None


@boundcache.lru_cache(maxsize=0)
def qualified(*names: str, **weights: int) -> dict[str, int]:
    return {n: weights.get(n, 0) for n in names}


@cache
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@cache
def first(items: tuple[T, ...]) -> T:
    return items[0]


def plain(x: int) -> str:
    return str(x)


explicit_bare = lru_cache(plain)
explicit_called = lru_cache(maxsize=3)(plain)
explicit_cache = cache(plain)

# Calls are checked against the original parameters; results keep their type.
assert_type(bare(1), float)
assert_type(bare(1, "b"), float)
assert_type(bare(1, y="b"), float)
assert_type(bare(x=1, y="b"), float)
assert_type(called_empty(1), int)
assert_type(called(2), float)
assert_type(called(2, scale=0.5), float)
assert_type(unbounded("k"), bytes)
assert_type(positional_args(1, b=2), int)
assert_type(qualified("a", "b", a=1), dict[str, int])
assert_type(fib(10), int)
assert_type(first((1, 2)), int)
assert_type(first(("a",)), str)
assert_type(explicit_bare(1), str)
assert_type(explicit_called(1), str)
assert_type(explicit_cache(1), str)

# The wrapper's type and its cache API.
assert_type(bool_maxsize, CachedFunction[[], None])
assert_type(bare.cache_info(), CacheInfo)
assert_type(bare.cache_info().hits, int)
assert_type(bare.cache_info().misses, int)
assert_type(bare.cache_info().maxsize, int | None)
assert_type(bare.cache_info().currsize, int)
hits, misses, maxsize, currsize = fib.cache_info()
assert_type(maxsize, int | None)
bare.cache_clear()
params = bare.cache_parameters()
assert_type(params["maxsize"], int | None)
assert_type(params["typed"], bool)

# update_wrapper metadata, and __wrapped__ keeps the signature too.
assert_type(bare.__wrapped__(1, y="c"), float)
assert_type(bare.__name__, str)
assert_type(bare.__qualname__, str)
assert_type(bare.__module__, str)
assert_type(bare.__doc__, str | None)
assert_type(bare.__dict__, dict[str, Any])
assert_type(copy.copy(fib)(3), int)
assert_type(copy.deepcopy(fib).cache_info(), CacheInfo)

# A cached function is still the callable it wraps.
to_float: Callable[[int], float] = bare
to_float_named: Callable[[int, str], float] = bare
assert_type(to_float(3), float)
assert_type(to_float_named(3, "x"), float)
assert_type(CacheInfo(1, 2, None, 3).maxsize, int | None)


def audit_is_typed() -> None:
    report = boundcache.audit(min_bytes=1024, include_stdlib=False)
    for row in report.pinning:
        assert_type(row.bytes, int)
        assert_type(row.kind, str)
    for row in report.leaking + report.value_caches:
        assert_type(row.leaks + row.values, int)


# The keyword options keep the signature too.
@lru_cache(maxsize=None, ttl=60, timer=lambda: 0.0, max_total=100, lock=True)
def with_options(x: int) -> str:
    return str(x)


assert_type(with_options(1), str)
assert_type(with_options.cache_parameters().get("ttl"), float | None)


def _by_path(self: object, path: str) -> str:
    return path


class Client:
    @lru_cache(key=_by_path)
    def load(self, path: str) -> bytes:
        return path.encode()


assert_type(Client().load("a"), bytes)
