"""`from functools import ...`, bare and called."""
from functools import cache, lru_cache


class Shape:
    def __init__(self, n):
        self.n = n

    @lru_cache  # expect: BC001
    def area(self):
        return self.n ** 2

    @lru_cache(maxsize=4)  # expect: BC001
    def scaled(self, k):
        return self.n * k

    @cache  # expect: BC001
    def perimeter(self):
        return 4 * self.n


def make():
    shape = Shape(2)
    shape.area()
    shape.scaled(3)
    shape.perimeter()
    return [shape]
