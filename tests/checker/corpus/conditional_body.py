"""Methods defined under compound statements of the class body."""
import functools
import sys


class Platform:
    if sys.version_info >= (3, 0):
        @functools.lru_cache  # expect: BC001
        def name(self):
            return "py3"
    else:
        @functools.lru_cache  # expect: BC001
        def name(self):
            return "py2"

    try:
        @functools.cache  # expect: BC001
        def version(self):
            return sys.version_info[0]
    except Exception:
        pass

    for _i in range(1):
        @functools.cache  # expect: BC001
        def looped(self):
            return 1


def make():
    platform = Platform()
    platform.name()
    platform.version()
    platform.looped()
    return [platform]
