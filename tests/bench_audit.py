"""Times boundcache.audit() on a process holding 10,000 live cache entries,
and the pytest plugin's check of one test as the process grows.

Not collected by pytest (no test_ prefix). Run: python tests/bench_audit.py
Mix: 3,000 pinned instances (functools unbounded, 2 entries each), 1,000
pinned by a bounded functools cache (2 entries each), 1,000 boundcache
instances with 1 entry each in their __dict__, 1,000 entries of a plain
function cache: 10,000 entries in all.

The plugin's check (--boundcache-leaks) of a small test that leaks one
instance, in a process of 10,000 and of 1,000,000 more objects: the window
(gc.freeze) against remembering every object's identity, its fallback.
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


def a_test():
    """What one checked test does: objects, cached calls, one leak."""
    objects = [Bounded(i) for i in range(100)]
    for o in objects:
        o.f(1)
    Pinned(-1).area(3)
    Bounded.f.cache_clear()


def check_one_test(freeze: bool) -> float:
    from boundcache._audit._leaks import Window, find

    Window.program_freezes = not freeze
    t0 = time.perf_counter()
    window = Window()
    a_test()
    leaks = find(window, set())
    find(window, leaks.ids if leaks else set(), phase="test or its fixtures")
    window.close()
    assert leaks is not None and "Pinned.area pins 1 instance" in leaks.message
    return time.perf_counter() - t0


def plugin():
    rows = []
    for extra in (10_000, 1_000_000):
        ballast = [[i] for i in range(extra)]
        gc.collect()
        for freeze in (True, False):
            times = sorted(check_one_test(freeze) for _ in range(7))
            rows.append((extra, "window (gc.freeze)" if freeze else "every identity", times[0], times[3]))
        del ballast
    for extra, how, best, median in rows:
        print(f"plugin check of one test, {extra:>9,} more objects, {how:<18}: "
              f"min {best * 1000:.1f} ms, median {median * 1000:.1f} ms")


if __name__ == "__main__":
    main()
    plugin()
