"""The pure-Python core beside functools, cachetools and methodtools (and the
C++ core where it is built): ``python bench/pure.py`` prints a table.

Every library is timed in this one process, interleaved round by round
(bench/versions.py's ``timing``: each figure is a library's best of 15
rounds), on the scenarios of the per-version table, so the figures mean what
RESULTS.md's mean. Runs on CPython and on PyPy (the peers it needs are pure
Python: ``pip install . cachetools==8.0.0 methodtools==0.4.7``, the pins of
the bench extra). ``--markdown`` prints the table as Markdown.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenarios import SCENARIOS  # noqa: E402
from versions import TIMED, timing  # noqa: E402

PEERS = ("functools", "cachetools", "methodtools")


def libraries() -> list[str]:
    names = [n for n in PEERS if n == "functools" or importlib.util.find_spec(n) is not None]
    if importlib.util.find_spec("boundcache._core") is not None:
        names.append("boundcache")  # the C++ core (BOUNDCACHE_PURE unset)
    names.append("boundcache-pure")
    return names


def table(ns: dict[str, dict[str, float]], names: list[str], markdown: bool) -> str:
    head = ["scenario", *names, *(f"pure / {n}" for n in names if n != "boundcache-pure")]
    rows = []
    for scenario in TIMED:
        got = ns.get(scenario, {})
        cells = [f"{got[n]:.0f}" if n in got else "" for n in names]
        pure = got.get("boundcache-pure")
        ratios = [f"{pure / got[n]:.2f}" if pure and n in got else "" for n in names if n != "boundcache-pure"]
        rows.append([scenario, *cells, *ratios])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in [head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    names = libraries()
    ns = timing(names)
    impl = f"{platform.python_implementation()} {platform.python_version()}"
    if sys.implementation.name == "pypy":
        impl += f" (PyPy {'.'.join(map(str, sys.pypy_version_info[:3]))})"  # type: ignore[attr-defined]
    print(f"ns per operation, best of 15 interleaved rounds; {impl}; scenarios: bench/scenarios.py")
    print(table(ns, names, args.markdown))
    missing = [s for s in TIMED if s not in SCENARIOS]
    if missing:
        print("unknown scenarios:", ", ".join(missing), file=sys.stderr)


if __name__ == "__main__":
    main()
