"""lru_cache(shared=RedisTier(...)): the wrapper types are those without shared=.  Must type-check."""

from typing_extensions import assert_type

from boundcache import CacheInfo, RedisTier, TierInfo, lru_cache

tier = RedisTier("redis://127.0.0.1:6379/0", secret=b"0123456789abcdef", timeout=0.5)


@lru_cache(maxsize=1024, ttl=300, shared=tier)
def thumbnail(path: str, size: int) -> bytes:
    return path.encode() * size


assert_type(thumbnail("a", 2), bytes)
assert_type(thumbnail.cache_info(), CacheInfo)
thumbnail.cache_clear()


def by_path(handler: "Handler", path: str) -> str:
    return path


class Handler:
    @lru_cache(maxsize=64, key=by_path, shared=tier, lock=True)
    def render(self, path: str) -> str:
        return path


assert_type(Handler().render("x"), str)
info = tier.info()
assert_type(info, TierInfo)
assert_type(info.bytes_sent, int)
tier.close()

json_tier = RedisTier("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", serializer="json", compress_above=None)


@lru_cache(maxsize=256, ttl=60, stale=300, shared=json_tier, name="prices-v1")
def price(item: str) -> float:
    return 1.0


assert_type(price.cache_delete("x"), bool)
assert_type(Handler().render.cache_delete("x"), bool)
