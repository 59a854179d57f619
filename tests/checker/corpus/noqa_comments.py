"""noqa comments, with flake8's meaning."""
import functools


class Quiet:
    @functools.lru_cache  # noqa
    def a(self):
        return 1

    @functools.lru_cache  # noqa: BC001
    def b(self):
        return 2

    @functools.lru_cache  # noqa:BC001,E501
    def c(self):
        return 3

    @functools.lru_cache  # noqa: BC
    def d(self):
        return 4

    @functools.lru_cache(  # noqa: BC001 (anywhere in the logical line)
        maxsize=None,
    )
    def e(self):
        return 5

    @functools.lru_cache  # noqa: E501 expect: BC001
    def f(self):
        return 6

    @functools.lru_cache(typed="# noqa" == "")  # expect: BC001 (a string is no comment)
    def g(self):
        return 7


class KnownToRuff:
    # ruff's and flake8-bugbear's code for the same trap: a synonym.
    @functools.lru_cache  # noqa: B019
    def h(self):
        return 8

    @functools.lru_cache  # noqa: E501, B019
    def i(self):
        return 9

    @functools.lru_cache  # noqa: B009 expect: BC001
    def j(self):
        return 10
