"""Value types: equal values share a functools cache's entries on purpose.

boundcache cannot keep a per-instance cache on a tuple (no __dict__, and a
tuple subclass takes no '__weakref__' slot): it serves those as functools
does (contract 3.5), so the rewrite behaves as before.  A namedtuple subclass
without __slots__ has a __dict__ but no weak references: a cache per instance
from Python 3.12, functools' before.  A frozen dataclass gets one everywhere.
Every one is rewritten.
"""
import collections
import dataclasses
import functools
import typing
from functools import lru_cache


class Region(typing.NamedTuple):
    x: int
    y: int

    @lru_cache(maxsize=64)  # expect: BC001 fix
    def area(self):
        return [self.x * self.y]

    @functools.cache  # expect: BC001 fix
    def corners(self):
        return [(self.x, self.y)]


class SlottedPoint(collections.namedtuple("SlottedPoint", "x y")):
    __slots__ = ()

    @lru_cache(maxsize=None)  # expect: BC001 fix
    def norm(self):
        return [abs(self.x) + abs(self.y)]


class Point(collections.namedtuple("Point", "x y")):
    # No __slots__: the subclass has a __dict__, but no weak references
    # (a cache per instance from Python 3.12 only).
    @lru_cache(maxsize=32)  # expect: BC001 fix
    def norm(self):
        return [abs(self.x) + abs(self.y)]


class SubRegion(Region):
    @functools.lru_cache  # expect: BC001 fix
    def double(self):
        return [2 * self.x]


@dataclasses.dataclass(frozen=True)
class Money:
    cents: int

    @lru_cache(maxsize=16)  # expect: BC001 fix
    def formatted(self):
        return [f"{self.cents / 100:.2f}"]


def make():
    # Tuples take no weak reference: the runtime test watches Money alone
    # (cached_calls covers the rest).
    instances = [Money(250), Money(300)]
    for obj in instances:
        obj.formatted()
    return instances


def cached_calls():
    # Every cached method, fixed or not, still runs and caches.
    region, point = Region(2, 3), SlottedPoint(1, -1)
    return [region.area, region.corners, point.norm, Point(1, 2).norm,
            SubRegion(1, 1).double, Money(5).formatted]
