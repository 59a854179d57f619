"""Memory measurements, each in a fresh process: ``python bench/memory.py LIB PROBE`` prints JSON.

Probes:
  entry_tracemalloc_function / entry_tracemalloc_method
      bytes per cached entry as tracemalloc sees them: exact, but blind to
      memory a native extension takes from malloc directly (Rust, C++ new).
  entry_rss_function / entry_rss_method
      the same from the process's resident set with many entries, which every
      allocator shows; the cross-check for what tracemalloc cannot see.
  first_call
      bytes an instance costs for being cached: its cache and its first entry
      (tracemalloc, against a plain instance).
  lifetime
      what frees an instance after a cached call once the last reference is
      dropped: "refcount" (at once), "gc" (only the cycle collector), or
      "pinned" (the cache keeps it alive).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from libs import LIBRARIES, Library  # noqa: E402

#: Entries per tracemalloc measurement; maxsize equals it, so nothing is evicted.
TRACEMALLOC_ENTRIES = 1000
#: Entries per RSS measurement: enough that page granularity is noise.
RSS_ENTRIES = 200_000
#: Instances in the first-call measurement; below 128 so that functools' and
#: theine's shared caches evict nothing.
INSTANCES = 100


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _cached_callable(lib: Library, kind: str, maxsize: int) -> Callable[[Any], Any]:
    if kind == "function":
        assert lib.function is not None

        def f(x: Any) -> Any:
            return x

        return lib.function(maxsize)(f)
    assert lib.method_class is not None
    obj = lib.method_class(maxsize)()
    return lambda x: obj.m(x)


def bytes_per_entry(lib: Library, kind: str, metric: str) -> float:
    n = TRACEMALLOC_ENTRIES if metric == "tracemalloc" else RSS_ENTRIES
    if metric == "tracemalloc":
        tracemalloc.start()
    call = _cached_callable(lib, kind, maxsize=n)
    # Keys made beforehand (ints above 256 are objects) and returned as results:
    # the entries are all that the inserts allocate.
    keys = list(range(10**9, 10**9 + n))
    call(keys[0])  # the first entry also makes whatever a cache makes lazily
    measure = _traced if metric == "tracemalloc" else _rss
    before = measure()
    for k in keys[1:]:
        call(k)
    return (measure() - before) / (n - 1)


def first_call_bytes(lib: Library) -> float:
    assert lib.method_class is not None
    cls = lib.method_class(128)

    class Plain:
        pass

    tracemalloc.start()
    cls().m(1)  # warm up: lazily made class-level state is not per instance

    def cost(make: Callable[[], Any], call: bool) -> int:
        before = _traced()
        objs = [make() for _ in range(INSTANCES)]
        if call:
            for obj in objs:
                obj.m(1)
        used = _traced() - before
        del objs
        return used

    return (cost(cls, call=True) - cost(Plain, call=False)) / INSTANCES


def lifetime(lib: Library) -> str:
    assert lib.method_class is not None
    cls = lib.method_class(128)
    gc.disable()
    obj = cls()
    obj.m(1)
    ref = weakref.ref(obj)
    del obj
    if ref() is None:
        return "refcount"
    gc.collect()
    return "gc" if ref() is None else "pinned"


PROBES: dict[str, Callable[[Library], Any]] = {
    "entry_tracemalloc_function": lambda lib: bytes_per_entry(lib, "function", "tracemalloc"),
    "entry_tracemalloc_method": lambda lib: bytes_per_entry(lib, "method", "tracemalloc"),
    "entry_rss_function": lambda lib: bytes_per_entry(lib, "function", "rss"),
    "entry_rss_method": lambda lib: bytes_per_entry(lib, "method", "rss"),
    "first_call": first_call_bytes,
    "lifetime": lifetime,
}


def applicable(lib: Library, probe: str) -> bool:
    if probe.endswith("_function"):
        return lib.function is not None
    return lib.method_class is not None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in LIBRARIES or argv[1] not in PROBES:
        print(f"usage: memory.py {{{','.join(LIBRARIES)}}} {{{','.join(PROBES)}}}", file=sys.stderr)
        return 2
    print(json.dumps(PROBES[argv[1]](LIBRARIES[argv[0]])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
