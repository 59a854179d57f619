"""Wrong arguments to RedisTier and shared=.  Each marked line must be an error."""

from boundcache import RedisTier, lru_cache

RedisTier(secret=12)  # E: arg-type | reportArgumentType
RedisTier("redis://x", "y")  # E: call-arg | reportCallIssue


@lru_cache(shared="redis://127.0.0.1")  # E: call-overload | reportCallIssue | reportArgumentType
def f(x: int) -> int:
    return x

RedisTier(serializer="yaml")  # E: arg-type | reportArgumentType


@lru_cache(shared=RedisTier(), name=3)  # E: call-overload | reportCallIssue | reportArgumentType
def g(x: int) -> int:
    return x


@lru_cache(maxsize=8)
def thumb(size: int) -> bytes:
    return b""


thumb.cache_delete("x")  # E: arg-type | reportArgumentType
