"""Names that look like functools' memoizers but are not."""
from mylib import lru_cache as memo


def lru_cache(func=None, **kwargs):
    return func if func is not None else (lambda f: f)


def cache(func):
    return func


class Local:
    @lru_cache  # skip: bugbear (a local function called lru_cache)
    def a(self):
        return 1

    @lru_cache(maxsize=3)  # skip: bugbear (a local function called lru_cache)
    def b(self):
        return 2

    @cache  # skip: bugbear (a local function called cache)
    def c(self):
        return 3

    @memo
    def d(self):
        return 4


def shadowed_by_parameter(cache):
    class Param:
        @cache  # skip: bugbear (a parameter called cache)
        def e(self):
            return 5

    return Param


def shadowed_later():
    from functools import cache
    cache = len  # rebound before the class runs

    class Rebound:
        @cache  # skip: bugbear (rebound to something else)
        def f(self):
            return 6

    return Rebound
