"""No third-party import: boundcache's section goes between the standard
library and the project's own (myapp, found in the source root, and helpers,
named by known-first-party), and relative imports stay last."""

import functools
import os

from helpers import double
from myapp import stdlib_only

from . import third_party

SEP = functools.partial(os.path.join, "a")


class Shop:
    @functools.lru_cache(maxsize=16)  # expect: BC001 fix
    def price(self, n):
        return [double(n), stdlib_only.Files, third_party.Report, SEP("b")]


def cached_calls():
    return [lambda: Shop().price(3)]
