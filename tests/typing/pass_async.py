"""async def functions and methods: awaiting a cached call gives the result.  Must type-check."""

import asyncio

from typing_extensions import assert_type

from boundcache import CacheInfo, cache, lru_cache


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    @lru_cache(maxsize=32)
    async def fetch(self, path: str, *, page: int = 1) -> bytes:
        await asyncio.sleep(0)
        return (self.base + path).encode() * page

    @cache
    async def me(self) -> "Client":
        return self

    @staticmethod
    @cache
    async def version() -> int:
        return 1

    @classmethod
    @cache
    async def default(cls) -> "Client":
        return cls("https://example.invalid")


@lru_cache(maxsize=256, ttl=60)
async def lookup(name: str) -> int:
    return len(name)


async def main() -> None:
    c = Client("https://example.invalid")
    assert_type(await c.fetch("/a"), bytes)
    assert_type(await c.fetch("/a", page=2), bytes)
    assert_type(await Client.fetch(c, "/a"), bytes)
    assert_type(await c.me(), Client)
    assert_type(await Client.version(), int)
    assert_type(await Client.default(), Client)
    assert_type(await lookup("x"), int)
    results = await asyncio.gather(c.fetch("/a"), lookup("y"))
    assert_type(results, tuple[bytes, int])
    assert_type(c.fetch.cache_info(), CacheInfo)
    assert_type(Client.fetch.cache_info(), CacheInfo)
    assert_type(lookup.cache_info(), CacheInfo)
    c.fetch.cache_clear()
    lookup.cache_clear()


asyncio.run(main())
