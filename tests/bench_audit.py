"""Times boundcache.audit() on a process holding 10,000 live cache entries.

Not collected by pytest (no test_ prefix). Run: python tests/bench_audit.py
Mix: 3,000 pinned instances (functools unbounded, 2 entries each), 1,000
pinned by a bounded functools cache (2 entries each), 1,000 boundcache
instances with 1 entry each in their __dict__, 1,000 entries of a plain
function cache: 10,000 entries in all.
"""

import functools
import gc
import statistics
import sys
import time

import boundcache


class Pinned:
    def __init__(self, i):
        self.i = i
        self.payload = bytearray(256)

    @functools.lru_cache(maxsize=None)
    def area(self, scale, *, offset=0):
        return self.i * scale + offset


class Bounded:
    def __init__(self, i):
        self.i = i

    @functools.lru_cache(maxsize=4096)
    def f(self, x):
        return [self.i, x]


class Owned:
    def __init__(self, i):
        self.i = i

    @boundcache.lru_cache
    def g(self, x):
        return (self.i, x)


@functools.lru_cache(maxsize=None)
def square(n):
    return n * n


def build():
    for i in range(3000):
        p = Pinned(i)
        p.area(1)
        p.area(2, offset=1)
    for i in range(1000):
        b = Bounded(i)
        b.f(1)
        b.f(2)
    owned = [Owned(i) for i in range(1000)]
    for o in owned:
        o.g(1)
    for n in range(1000):
        square(n)
    return owned


def main():
    keep = build()
    entries = (
        Pinned.area.cache_info().currsize
        + Bounded.f.cache_info().currsize
        + Owned.g.cache_info().currsize
        + square.cache_info().currsize
    )
    gc.collect()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        report = boundcache.audit()
        times.append(time.perf_counter() - t0)
    print(report)
    print(
        f"Python {sys.version.split()[0]}: {entries} entries, {len(gc.get_objects())} GC objects; "
        f"audit() min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms"
    )
    del keep


if __name__ == "__main__":
    main()
