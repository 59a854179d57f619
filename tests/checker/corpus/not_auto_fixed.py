"""Reported, but left for a human: --fix cannot make these right."""
import functools

import cachetools.func
from async_lru import alru_cache


def plain(self):
    return self


class Kept:
    # boundcache could not tell that this wrapper is a method (no __set_name__,
    # and plain's __qualname__ names no class): a rewrite would still pin.
    p = property(functools.cache(plain))  # expect: BC001 nofix

    @(functools  # expect: BC001 nofix
      .cache)  # a comment inside the reference would be lost
    def commented(self):
        return 1

    @alru_cache  # expect: BC001 nofix
    async def fetch(self):
        return 2

    @cachetools.func.lru_cache(maxsize=3)  # only with extend-decorators
    def configured(self):
        return 3
