"""One interpreter's row of the per-version table: ``python bench/versions.py`` prints JSON.

Run by ``bench/run.py --versions`` once per CPython (each in its own virtual
environment with boundcache and wrapt installed; 3.14 and 3.15 inside the
Debian unstable root of .ci/debian-unstable). Needs nothing but boundcache:
no pyperf, so that it runs on a CPython the peers have no wheels for yet.

Timing: boundcache, functools and (when installed) wrapt side by side in this
one process, interleaved: every round times each library once, in an order
that rotates from round to round, and a library's figure is its best round
(the least disturbed by the rest of the machine). Each timing runs the
scenario's loop long enough to take about 20 ms. The scenarios are
bench/scenarios.py's, so the figures mean what RESULTS.md's mean.

Footprint: bytes per instance for cached calls, each measurement in a fresh
process (``--footprint LIB METHODS ENTRIES METRIC``): N instances exist, then
each instance's METHODS cached methods are each called with ENTRIES different
arguments, and the growth of tracemalloc's traced memory (or of the resident
set, which also sees what tracemalloc cannot) is divided by N. Arguments and
results are small ints, which allocate nothing, so only the caches count.
boundcache and wrapt cache per instance (``lru_cache(maxsize=128)``);
functools' one class-wide cache is unbounded here (``lru_cache(maxsize=None)``)
so that it keeps every entry, as a per-instance cache does.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from libs import LIBRARIES  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

#: The scenarios of the per-version table (issue 17's goals bound each).
TIMED = ("fn_hit_int", "fn_hit_str", "method_hit", "fn_miss", "method_miss", "first_call", "churn")
ROUNDS = 15
TARGET_SECONDS = 0.02
#: (methods, entries) per instance of the footprint rows.
FOOTPRINT_ROWS = ((1, 1), (1, 2), (1, 4), (1, 16), (3, 1))
INSTANCES = {"tracemalloc": 20_000, "rss": 50_000}


def _libraries() -> list[str]:
    names = ["functools", "boundcache"]
    try:
        import wrapt  # noqa: F401
    except ImportError:
        pass
    else:
        names.append("wrapt")
    return names


def _calibrated(time_func: Any) -> int:
    loops = 1
    while True:
        if time_func(loops) >= TARGET_SECONDS or loops >= 1 << 24:
            return loops
        loops *= 2


def timing(names: list[str]) -> dict[str, dict[str, float]]:
    """ns per operation: scenario -> library -> best of ROUNDS interleaved rounds."""
    out: dict[str, dict[str, float]] = {}
    for scenario_name in TIMED:
        scenario = SCENARIOS[scenario_name]
        libs = [LIBRARIES[n] for n in names if scenario.supports(LIBRARIES[n])]
        funcs = {lib.name: scenario.build(lib) for lib in libs}
        loops = {name: _calibrated(f) for name, f in funcs.items()}
        best = {name: float("inf") for name in funcs}
        order = list(funcs)
        for r in range(ROUNDS):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                gc.collect()  # another library's garbage is not collected on this one's time
                seconds = funcs[name](loops[name])
                best[name] = min(best[name], seconds / (loops[name] * scenario.inner_loops) * 1e9)
        out[scenario_name] = best
        del funcs
        gc.collect()
    return out


def _method_decorator(lib: str) -> Any:
    if lib == "functools":
        import functools

        return functools.lru_cache(maxsize=None)
    if lib == "boundcache":
        import boundcache

        return boundcache.lru_cache(maxsize=128)
    import wrapt

    return wrapt.lru_cache(maxsize=128)


def footprint(lib: str, methods: int, entries: int, metric: str) -> float:
    """Bytes per instance that ``methods`` cached methods with ``entries`` entries each cost."""
    import tracemalloc  # here: bench/pure.py times on PyPy, which has none

    from memory import _rss, _traced
    decorate = _method_decorator(lib)
    namespace = {f"m{i}": decorate(lambda self, x: x) for i in range(methods)}
    cls = type("Owner", (), namespace)
    bound_names = list(namespace)
    cls().m0(0)  # whatever a decorator makes lazily, once per class, is not per instance
    # wrapt's first calls cost 40 us and its caches about 1 KB: a tenth as many suffice
    n = INSTANCES[metric] // (10 if lib == "wrapt" else 1)
    if metric == "tracemalloc":
        tracemalloc.start()
    measure = _traced if metric == "tracemalloc" else _rss
    objs = [cls() for _ in range(n)]
    gc.collect()
    before = measure()
    for obj in objs:
        for name in bound_names:
            m = getattr(obj, name)
            for x in range(entries):
                m(x)
    gc.collect()
    after = measure()
    return (after - before) / n


def _footprints(names: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """metric -> library -> "methods x entries" -> bytes per instance, one process each."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for metric in INSTANCES:
        for lib in names:
            for methods, entries in FOOTPRINT_ROWS:
                args = [sys.executable, os.path.abspath(__file__), "--footprint", lib, str(methods), str(entries), metric]
                value = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
                out.setdefault(metric, {}).setdefault(lib, {})[f"{methods}x{entries}"] = value
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--footprint"]:
        lib, methods, entries, metric = argv[1:5]
        print(json.dumps(footprint(lib, int(methods), int(entries), metric)))
        return 0
    names = _libraries()
    versions = {}
    for name in names:
        try:
            versions[name] = LIBRARIES[name].version()
        except Exception:  # noqa: BLE001 - a version is only a label here
            versions[name] = "?"
    result = {
        "python": platform.python_version(),
        # Whose build: pyenv compiles without PGO/LTO by default; Debian ships an optimised one.
        "build": "Debian" if sys.base_prefix == "/usr" else "pyenv" if ".pyenv" in sys.base_prefix else sys.base_prefix,
        "versions": versions,
        "timing": timing(names),
        "footprint": _footprints(names),
        "load_average": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
