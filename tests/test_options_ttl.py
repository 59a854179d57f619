"""lru_cache(ttl=..., timer=...): entries expire ttl seconds after they were stored.

Every test runs on a fake clock (a timer= the test advances by hand), never
on wall time. The rules: the deadline is the timer's reading when the result
is stored, plus ttl; an entry whose deadline is not after now is never
returned; expired entries are dropped lazily, when looked up (that call is a
miss), before an unbounded table grows, and by cache_info(), so that
currsize counts live entries only; a full bounded table evicts its least
recently used entry as usual.
"""

from __future__ import annotations

import weakref

import boundcache


class FakeClock:
    """timer=: returns .now, which the test sets; counts its readings."""

    def __init__(self, now=0.0):
        self.now = now
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.now


# ---- the timer is user code ----


def test_class_cache_info_survives_a_timer_that_frees_instances(no_gc):
    # Regression: Cls.m.cache_info() read the timer once per instance cache,
    # inside its walk over them. A timer that dropped the last reference to
    # the instance being visited freed its cache under the walk
    # (ASan: heap-use-after-free in Table::purge_expired; a release build
    # looped forever). The clock is now read once, before the walk.
    clock = FakeClock()
    victims = []

    def timer():
        if victims:
            victims.pop()
        return clock()

    class C:
        @boundcache.lru_cache(ttl=10, timer=timer)
        def m(self, x):
            return x

    objs = [C() for _ in range(4)]
    refs = [weakref.ref(o) for o in objs]
    for o in objs:
        o.m(1)
        o.m(2)
    victims.extend(objs)
    del objs, o
    for _ in range(4):  # the timer frees an instance at each reading
        info = C.m.cache_info()
        alive = sum(r() is not None for r in refs)
        assert info == (0, 8, 128, 2 * alive)
    assert alive == 0
    victims.extend([C(), C()])
    clock.now = 10  # everything expired, and the timer frees while purging
    assert C.m.cache_info() == (0, 8, 128, 0)
