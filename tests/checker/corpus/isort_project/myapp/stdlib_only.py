"""Only the standard library: boundcache opens the third-party section."""

import os
from functools import lru_cache


class Files:
    def __init__(self, root):
        self.root = root

    @lru_cache(maxsize=32)  # expect: BC001 fix
    def listing(self):
        return [os.sep, self.root]


def cached_calls():
    return [Files("a").listing]
