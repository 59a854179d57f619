"""A parenthesized import loses the one name the fix made unused."""

from functools import (
    cache,
    lru_cache,
    partial,
)

ONE = partial(int, "1")


class Parser:
    @cache  # expect: BC001 fix
    def tokens(self):
        return [ONE()]

    @lru_cache(maxsize=2)  # noqa: B019  (known to the project: silenced)
    def kept(self):
        return [2]


def cached_calls():
    parser = Parser()
    return [parser.tokens, parser.kept]
