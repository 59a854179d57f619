"""Classes with __slots__: boundcache needs '__weakref__' or '__boundcache__'
(or a __dict__ from a base) to keep a per-instance cache; without, it serves
them as functools does (contract 3.5), so the rewrite is made and the message
says how to give them a cache of their own."""
import dataclasses
import numbers
from functools import cache, lru_cache


class Bare:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 1

    @cache  # expect: BC001 fix
    def value(self):
        return [self.a]


class BareChild(Bare):
    __slots__ = ["b"]

    @lru_cache(maxsize=8)  # expect: BC001 fix
    def other(self):
        return [self.a]


class Elsewhere(numbers.Number):
    # numbers.Number is not in this file: it may or may not give a __dict__.
    __slots__ = ("a",)

    @cache  # expect: BC001 fix
    def value(self):
        return [1]


@dataclasses.dataclass(slots=True, eq=False)
class SlotsDataclass:
    x: int

    @cache  # expect: BC001 fix
    def value(self):
        return [self.x]


class WithWeakref:
    __slots__ = ("a", "__weakref__")

    def __init__(self):
        self.a = 1

    @cache  # expect: BC001 fix
    def value(self):
        return [self.a]


class WithBoundcacheSlot:
    __slots__ = "__boundcache__"

    @lru_cache(maxsize=4)  # expect: BC001 fix
    def value(self):
        return [2]


class Plain:
    pass


class OverPlain(Plain):
    __slots__ = ("a",)  # Plain gives instances a __dict__

    @cache  # expect: BC001 fix
    def value(self):
        return [3]


def make():
    instances = [WithWeakref(), OverPlain()]  # WithBoundcacheSlot takes no weak reference
    for obj in instances:
        obj.value()
    return instances


def cached_calls():
    child = BareChild()
    child.a = 2
    return [Bare().value, child.other, SlotsDataclass(1).value, WithWeakref().value,
            WithBoundcacheSlot().value, OverPlain().value]
