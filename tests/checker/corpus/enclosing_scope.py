"""Imports in an enclosing function, and in the class body itself."""


def make_class():
    from functools import lru_cache as memo

    class Local:
        @memo(maxsize=None)  # expect: BC001
        def value(self):
            return 1

    return Local


def make_nested():
    import functools

    def inner():
        class Deep:
            @functools.cache  # expect: BC001
            def value(self):
                return 2

        return Deep

    return inner()


class ImportsInBody:
    import functools

    @functools.lru_cache  # expect: BC001
    def value(self):
        return 3


def make():
    local, deep, body = make_class()(), make_nested()(), ImportsInBody()
    local.value()
    deep.value()
    body.value()
    return [local, deep, body]
