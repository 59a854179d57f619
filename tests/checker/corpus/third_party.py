"""Memoizers from other libraries."""
import cachetools.func
from async_lru import alru_cache


class Client:
    @alru_cache(maxsize=32)  # expect: BC001
    async def fetch(self, url):
        return url

    @cachetools.func.lru_cache(maxsize=32)  # only with extend-decorators (see test_config)
    def parse(self, text):
        return text
