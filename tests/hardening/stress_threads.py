"""Thread stress: N threads (8) share function and method caches and run a
random mix of operations, --ops in all (10^6 in CI on the release build,
2*10^5 under ASan+UBSan, where every operation costs about 5 times more):

- calls that hit, miss and evict on bounded and unbounded function caches,
  some of which raise (exceptions are not cached);
- method calls on instances of three storage kinds (``__dict__``,
  ``__boundcache__`` slot, weak table), taken from shared pools;
- ``obj.m.cache_clear()``, ``f.cache_clear()`` and ``Cls.m.cache_clear()``
  from other threads;
- instances replaced in the pools while other threads are calling them (the
  calling thread then holds the last reference: the instance dies when its
  call returns), and calls through a bound method whose instance is gone
  from everywhere else;
- first reads of a cached_property racing with each other;
- the same method caches made with the keyword options (group O:
  ``max_total=40, ttl=50, lock=True`` on a shared fake clock that threads
  advance), so that evictions across instances, expiry and flights race with
  everything above.

Every call's result is checked. At the end, with the threads joined:

- caches nobody clears count exactly: hits + misses == calls made,
  misses == executions of the wrapped function, per function and per class;
- currsize agrees with the keys called (unbounded cache), with maxsize
  (bounded), and with the sum over the live instances (per class), which
  stays within max_total (group O);
- every cached_property was computed once per instance;
- after the pools are dropped every instance is freed and every class's
  currsize is 0, with the cyclic GC disabled;
- the caches still behave as an exact LRU afterwards.

Exit status 0 and a last line with the figures, or a traceback.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import sys
import threading
import time
import weakref

import boundcache


def counter():
    return itertools.count()  # next() is atomic under the GIL


def value(c):
    """How many times next() was called on c (consumes one more)."""
    return next(c)


class Stats:
    def __init__(self):
        self.calls = counter()
        self.execs = counter()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    sys.setswitchinterval(1e-5)  # many more thread switches than the default 5 ms
    t0 = time.perf_counter()

    # ---- function caches ----
    s_main, s_unb, s_clr = Stats(), Stats(), Stats()

    @boundcache.lru_cache(maxsize=64)
    def f_main(x):  # never cleared: counts must be exact
        next(s_main.execs)
        if x % 50 == 49:
            raise ValueError(x)
        return x * 7

    @boundcache.cache
    def f_unb(x):  # never cleared, unbounded
        next(s_unb.execs)
        return (x, "u")

    @boundcache.lru_cache(maxsize=32, typed=True)
    def f_clr(x):  # cleared from other threads
        return -x

    # ---- method caches: one class per storage kind, three times (A: only
    # instance-level clears, so class sums are exact; B: also Cls.m.cache_clear();
    # O: as A, with the keyword options)
    clock = [0.0]
    created = []  # weak references to every instance made
    kinds = {"dict": None, "slot": ("tag", "computed", "__boundcache__", "__weakref__"), "weak": ("tag", "computed", "__weakref__")}
    classes = {}
    for group in "ABO":
        for kind, slots in kinds.items():
            st = Stats()

            def m(self, x, _st=st):
                next(_st.execs)
                return (self.tag, x * 3)

            def p(self):
                self.computed.append(1)  # list.append is atomic
                return ("p", self.tag)

            options = dict(max_total=40, ttl=50, timer=lambda: clock[0], lock=True) if group == "O" else {}
            ns = {"m": boundcache.lru_cache(maxsize=16, **options)(m), "__qualname__": f"{group}{kind}"}
            if kind != "weak":
                ns["p"] = boundcache.cached_property(p)
            if slots:
                ns["__slots__"] = slots
            cls = type(f"{group}_{kind}", (), ns)
            cls.stats = st
            classes[group, kind] = cls
    tags = counter()

    def new(cls):
        o = cls()
        o.tag = next(tags)
        o.computed = []
        created.append(weakref.ref(o))
        return o

    POOL = 12
    pools = {key: [new(cls) for _ in range(POOL)] for key, cls in classes.items()}
    pool_keys = list(pools)

    per_thread = args.ops // args.threads
    errors = []
    op_counts = [None] * args.threads
    keys_unb = set()

    def worker(tid):
        rnd = random.Random(args.seed + tid)
        counts = dict.fromkeys(
            ["f", "f_raise", "unb", "clr", "clr_clear", "m", "m_dropped", "m_clear", "cls_clear", "replace", "prop",
             "tick"], 0
        )
        seen_unb = set()
        try:
            for _ in range(per_thread):
                r = rnd.random()
                if r < 0.30:
                    x = rnd.randrange(128)
                    next(s_main.calls)
                    if x % 50 == 49:
                        try:
                            f_main(x)
                        except ValueError as e:
                            assert e.args == (x,)
                            counts["f_raise"] += 1
                        else:
                            raise AssertionError("exception was cached")
                    else:
                        assert f_main(x) == x * 7
                        counts["f"] += 1
                elif r < 0.40:
                    x = rnd.randrange(500)
                    next(s_unb.calls)
                    assert f_unb(x) == (x, "u")
                    seen_unb.add(x)
                    counts["unb"] += 1
                elif r < 0.48:
                    x = rnd.randrange(48)
                    x = float(x) if rnd.random() < 0.3 else x
                    y = f_clr(x)
                    assert y == -x and type(y) is type(x)
                    counts["clr"] += 1
                elif r < 0.485:
                    f_clr.cache_clear()
                    counts["clr_clear"] += 1
                elif r < 0.85:
                    key = pool_keys[rnd.randrange(len(pool_keys))]
                    o = pools[key][rnd.randrange(POOL)]
                    x = rnd.randrange(24)
                    next(o.__class__.stats.calls)
                    if rnd.random() < 0.1:
                        bm = o.m  # the bound method may become the last reference
                        tag = o.tag
                        del o
                        assert bm(x) == (tag, x * 3)
                        del bm
                        counts["m_dropped"] += 1
                    else:
                        assert o.m(x) == (o.tag, x * 3)
                        counts["m"] += 1
                elif r < 0.88:
                    key = pool_keys[rnd.randrange(len(pool_keys))]
                    pools[key][rnd.randrange(POOL)].m.cache_clear()
                    counts["m_clear"] += 1
                elif r < 0.882:
                    classes["B", rnd.choice(list(kinds))].m.cache_clear()
                    counts["cls_clear"] += 1
                elif r < 0.885:
                    clock[0] += 10  # group O's entries expire after 5 ticks
                    counts["tick"] += 1
                elif r < 0.95:
                    key = pool_keys[rnd.randrange(len(pool_keys))]
                    pools[key][rnd.randrange(POOL)] = new(classes[key])  # the old one dies, maybe mid-call
                    counts["replace"] += 1
                else:
                    key = (rnd.choice("ABO"), rnd.choice(["dict", "slot"]))
                    o = pools[key][rnd.randrange(POOL)]
                    assert o.p == ("p", o.tag)
                    assert len(o.computed) == 1, f"cached_property computed {len(o.computed)} times"
                    counts["prop"] += 1
        except BaseException as e:  # noqa: BLE001
            import traceback

            errors.append(f"thread {tid}: {traceback.format_exc()}")
            raise SystemExit(1) from e
        op_counts[tid] = counts
        keys_unb.update(seen_unb)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("\n".join(errors))
        return 1
    elapsed = time.perf_counter() - t0
    totals = {k: sum(c[k] for c in op_counts) for k in op_counts[0]}
    total_ops = sum(totals.values())
    assert total_ops == per_thread * args.threads, (total_ops, totals)

    # ---- consistency ----
    def check_exact(name, info, stats):
        calls, execs = value(stats.calls), value(stats.execs)
        assert info.hits + info.misses == calls, f"{name}: {info} after {calls} calls"
        assert info.misses == execs, f"{name}: {info} but the function ran {execs} times"

    info = f_main.cache_info()
    check_exact("f_main", info, s_main)
    assert info.currsize == 64, info
    info = f_unb.cache_info()
    check_exact("f_unb", info, s_unb)
    assert info.currsize == len(keys_unb), (info, len(keys_unb))
    assert f_clr.cache_info().currsize <= 32

    gc.collect()
    gc.disable()
    for (group, kind), cls in classes.items():
        info = cls.m.cache_info()
        if group in "AO":
            check_exact(cls.__name__, info, cls.stats)
        if group == "O":
            assert info.currsize <= 40, (cls.__name__, info)
        live = [o.m.cache_info() for o in pools[group, kind]]
        assert all(i.currsize <= 16 for i in live)
        assert info.currsize == sum(i.currsize for i in live), (cls.__name__, info, live)
    for key in pools:
        for o in pools[key]:
            if key[1] != "weak":
                assert len(o.computed) <= 1
    del o
    pools.clear()
    alive = sum(r() is not None for r in created)
    assert alive == 0, f"{alive} instances still alive after the pools were dropped (GC off)"
    for cls in classes.values():
        assert cls.m.cache_info().currsize == 0, cls.m.cache_info()
    gc.enable()

    # ---- still an exact LRU ----
    f_main.cache_clear()
    for _ in range(2):
        for x in range(64):
            y = x if x % 50 != 49 else 128 + x
            assert f_main(y) == y * 7
    assert tuple(f_main.cache_info()) == (64, 64, 64, 64), f_main.cache_info()
    o = classes["A", "slot"]()
    o.tag, o.computed = -1, []
    for _ in range(2):
        for x in range(17):
            o.m(x)
    assert tuple(o.m.cache_info()) == (0, 34, 16, 16), o.m.cache_info()

    print(
        f"stress: {args.threads} threads, {total_ops} ops "
        f"({totals['f'] + totals['f_raise'] + totals['unb'] + totals['clr']} function calls, "
        f"{totals['m'] + totals['m_dropped']} method calls, {totals['prop']} cached_property reads, "
        f"{totals['clr_clear'] + totals['m_clear'] + totals['cls_clear']} cache_clear, "
        f"{totals['replace']} instances replaced, {len(created)} made and all freed) in {elapsed:.1f}s; "
        f"cache_info consistent"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
