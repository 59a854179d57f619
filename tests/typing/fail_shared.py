"""Wrong arguments to RedisTier and shared=.  Each marked line must be an error."""

from boundcache import RedisTier, lru_cache

RedisTier(secret=12)  # E: arg-type | reportArgumentType
RedisTier("redis://x", "y")  # E: call-arg | reportCallIssue


@lru_cache(shared="redis://127.0.0.1")  # E: call-overload | reportCallIssue | reportArgumentType
def f(x: int) -> int:
    return x
