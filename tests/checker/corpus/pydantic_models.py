"""pydantic models: rewritten, since boundcache's decorators define on them
(FIX_PYDANTIC_MODELS in boundcache/checker/finding.py)."""
from functools import lru_cache

import pydantic
from pydantic import BaseModel


class Settings(BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)  # hashable: functools works
    name: str

    @lru_cache(maxsize=8)  # expect: BC001 fix
    def upper(self):
        return [self.name.upper()]


class Derived(Settings):
    @lru_cache(maxsize=8)  # expect: BC001 fix
    def lower(self):
        return [self.name.lower()]


class Other(pydantic.main.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    n: int

    @lru_cache(maxsize=8)  # expect: BC001 fix
    def twice(self):
        return [2 * self.n]


def cached_calls():
    return [Settings(name="a").upper, Derived(name="B").lower, Other(n=1).twice]
