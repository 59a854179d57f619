"""A memoizer reached through an assignment alias."""
import functools

memo = functools.lru_cache(maxsize=None)
forever = functools.cache
memo_again = memo


@memo
def module_level(x):  # a function: fine, and still cached after --fix
    return x


class Cart:
    def __init__(self, items):
        self.items = items

    @memo  # expect: BC001
    def total(self):
        return sum(self.items)

    @forever  # expect: BC001
    def first(self):
        return self.items[0]

    @memo_again  # expect: BC001
    def last(self):
        return self.items[-1]


def make():
    cart = Cart([1, 2])
    cart.total()
    cart.first()
    cart.last()
    return [cart]
