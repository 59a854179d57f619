"""Memoizers applied by assignment in a class body."""
import functools
from functools import cache, lru_cache


def helper(self, x=1):
    return (self.seed, x)


def plain(self):
    return self.seed


class Table:
    def __init__(self, seed):
        self.seed = seed

    m = functools.lru_cache(maxsize=None)(helper)  # expect: BC001
    n = lru_cache(helper)  # expect: BC001
    o = cache(plain)  # expect: BC001
    p = property(functools.cache(lambda self: self.seed))  # expect: BC001
    q: object = lru_cache(maxsize=2)(helper)  # expect: BC001
    r = functools.lru_cache(lambda self: self.seed)  # expect: BC001

    # Not methods of the instance: a factory, a static method.
    factory = functools.lru_cache(maxsize=None)
    sized_factory = functools.lru_cache(128)
    static = staticmethod(functools.cache(len))


def make():
    table = Table(5)
    table.m(2)
    table.n()
    table.o()
    table.p
    table.q(3)
    table.r()
    table.static("abc")
    return [table]
