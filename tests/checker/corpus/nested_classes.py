"""Classes in classes, in methods, in functions."""
import functools


class Outer:
    class Inner:
        @functools.lru_cache  # expect: BC001
        def value(self):
            return 1

    def build(self):
        class InMethod:
            @functools.cache  # expect: BC001
            def value(self):
                return 2

        @functools.cache  # a plain closure, not a method
        def helper():
            return 3

        return InMethod

    @functools.lru_cache(maxsize=None)  # expect: BC001
    def own(self):
        return 4


def factory():
    class InFunction:
        @functools.lru_cache  # expect: BC001
        def value(self):
            return 5

    return InFunction


def make():
    outer = Outer()
    inner, in_method, in_function = Outer.Inner(), outer.build()(), factory()()
    for obj in (inner, in_method, in_function):
        obj.value()
    outer.own()
    return [outer, inner, in_method, in_function]
