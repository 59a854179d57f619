"""Churn: --instances (10^6 in CI) instances created, used and dropped, one
after another, cycling through the storage kinds (``__dict__``,
``__boundcache__`` slot, weak table) and, for the first two, a
cached_property. Each instance carries a 256-byte payload, makes three method
calls (two misses, one hit) and its cache holds a result that refers to the
payload.

Memory must stay flat. After a warm-up of 10% of the instances (allocator
arenas, specialised bytecode, the weak table's capacity), tracemalloc is
started; at each tenth the script reads tracemalloc's current size, the
interpreter's allocated block count and the process RSS. It fails when, from
the end of the warm-up to the end of the run:

- tracemalloc's current size grew by more than TRACEMALLOC_TOLERANCE (64 KiB):
  the core allocates through PyMem, which tracemalloc traces, so one byte
  leaked per instance would show as ~900 KB;
- sys.getallocatedblocks() grew by more than BLOCKS_TOLERANCE (1,000 blocks;
  one leaked object per instance would be 900,000);
- RSS grew by more than RSS_TOLERANCE (4 MiB; the smallest malloc chunk
  leaked per instance would be ~29 MB).

Then the per-class cache_info() must be exact (hits == instances,
misses == 2 * instances, currsize == 0), and every instance has been freed.

A control run first (20,000 instances with functools.lru_cache(maxsize=None)
on the method, the trap boundcache removes) must *exceed* the tolerances, so that
the measurement is known to see a leak.

Exit status 0 and a last line with the figures, or a message.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import time
import tracemalloc
import weakref

import boundcache

TRACEMALLOC_TOLERANCE = 64 * 1024
BLOCKS_TOLERANCE = 1000
RSS_TOLERANCE = 4 * 1024 * 1024
PAYLOAD = 256


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_classes(deco, maxsize=8):
    def m(self, x):
        return (self.payload, x)

    def p(self):
        return len(self.payload)

    D = type("D", (), {"m": deco(maxsize=maxsize)(m), "p": boundcache.cached_property(p)})
    S = type(
        "S",
        (),
        {"__slots__": ("payload", "__boundcache__", "__weakref__"), "m": deco(maxsize=maxsize)(m), "p": boundcache.cached_property(p)},
    )
    W = type("W", (), {"__slots__": ("payload", "__weakref__"), "m": deco(maxsize=maxsize)(m)})
    return [D, S, W]


def churn(classes, n, checkpoints, on_checkpoint):
    last = None
    for i in range(n):
        cls = classes[i % 3]
        o = cls()
        o.payload = bytes(PAYLOAD)
        r = o.m(1)
        assert o.m(2)[1] == 2 and o.m(1) is r
        if cls is not classes[2]:
            assert o.p == PAYLOAD and o.p == PAYLOAD
        if i == n - 1:
            last = weakref.ref(o)
        del o, r
        if (i + 1) in checkpoints:
            on_checkpoint(i + 1)
    return last


def measure(classes, n):
    warmup = n // 10
    checkpoints = {warmup * k for k in range(1, 11)}
    rows = []

    def on_checkpoint(done):
        if done == warmup:
            gc.collect()
            tracemalloc.start()
        rows.append((done, tracemalloc.get_traced_memory()[0], sys.getallocatedblocks(), rss()))

    t0 = time.perf_counter()
    last = churn(classes, n, checkpoints, on_checkpoint)
    elapsed = time.perf_counter() - t0
    tracemalloc.stop()
    base = rows[0]
    growth = (rows[-1][1] - base[1], rows[-1][2] - base[2], rows[-1][3] - base[3])
    return rows, growth, elapsed, last


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1_000_000)
    ap.add_argument("--control-instances", type=int, default=20_000)
    args = ap.parse_args()

    # The control: functools pins every instance; the measurement must see it.
    _, growth, _, _ = measure(make_classes(functools.lru_cache, None), args.control_instances)
    seen = growth[0] > TRACEMALLOC_TOLERANCE and growth[1] > BLOCKS_TOLERANCE and growth[2] > RSS_TOLERANCE
    print(
        f"control (functools, {args.control_instances} instances): tracemalloc +{growth[0]} B, "
        f"blocks +{growth[1]}, RSS +{growth[2]} B -> {'leak detected' if seen else 'NOT DETECTED'}"
    )
    if not seen:
        print("FAIL: the measurement does not see the functools leak")
        return 1
    gc.collect()

    classes = make_classes(boundcache.lru_cache)
    rows, growth, elapsed, last = measure(classes, args.instances)
    print(f"{'instances':>10} {'tracemalloc B':>14} {'blocks':>10} {'RSS KiB':>10}")
    for done, traced, blocks, r in rows:
        print(f"{done:>10} {traced:>14} {blocks:>10} {r // 1024:>10}")
    failures = []
    if last() is not None:
        failures.append("the last instance is still alive")
    if growth[0] > TRACEMALLOC_TOLERANCE:
        failures.append(f"tracemalloc grew {growth[0]} B > {TRACEMALLOC_TOLERANCE}")
    if growth[1] > BLOCKS_TOLERANCE:
        failures.append(f"allocated blocks grew {growth[1]} > {BLOCKS_TOLERANCE}")
    if growth[2] > RSS_TOLERANCE:
        failures.append(f"RSS grew {growth[2]} B > {RSS_TOLERANCE}")
    per_kind = [len(range(k, args.instances, 3)) for k in range(3)]
    for cls, n in zip(classes, per_kind):
        info = tuple(cls.m.cache_info())
        if info != (n, 2 * n, 8, 0):
            failures.append(f"{cls.__name__}.m.cache_info() == {info}, expected {(n, 2 * n, 8, 0)}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print(
        f"churn: {args.instances} instances made, used and freed in {elapsed:.1f}s; after warm-up "
        f"tracemalloc {growth[0]:+d} B (tol {TRACEMALLOC_TOLERANCE}), blocks {growth[1]:+d} (tol {BLOCKS_TOLERANCE}), "
        f"RSS {growth[2] // 1024:+d} KiB (tol {RSS_TOLERANCE // 1024}); functools control detected"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
