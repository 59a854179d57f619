"""Memoized functions that are not methods."""
import functools


@functools.lru_cache(maxsize=None)
def module_level(x):
    return x


@functools.cache
async def coroutine_function():
    return 1


class Holder:
    def method(self):
        @functools.cache
        def local():
            return self

        return local()

    handler = staticmethod(functools.cache(module_level))


def function():
    @functools.lru_cache
    def nested():
        return 1

    return nested
