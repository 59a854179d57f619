"""No import block before the class: a new one, with isort's blank lines."""


class Lazy:
    import functools

    @functools.cache  # expect: BC001 fix
    def value(self):
        return [1]


def cached_calls():
    return [Lazy().value]
