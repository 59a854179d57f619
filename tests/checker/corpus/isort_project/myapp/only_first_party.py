"""Nothing but first-party imports once functools goes: boundcache opens the block."""

from functools import cached_property, lru_cache

from myapp import stdlib_only


class Box:
    @lru_cache(maxsize=None)  # expect: BC001 fix
    def files(self):
        return [stdlib_only.Files]

    @cached_property
    def size(self):
        return 1


def cached_calls():
    return [Box().files]
