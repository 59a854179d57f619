"""`from functools import *`."""
from os.path import *
from functools import *


class Path:
    @lru_cache(maxsize=None)  # expect: BC001
    def parts(self):
        return ()

    @cache  # expect: BC001
    def name(self):
        return ""


def make():
    path = Path()
    path.parts()
    path.name()
    return [path]
