"""Instructions per operation, boundcache against functools, under callgrind: ``python bench/instructions.py``.

Timings on a shared machine move by 20-30% between runs; instruction counts
do not. Each (library, operation) runs in two processes under
``valgrind --tool=callgrind``: one that performs N operations and one that
sets up the same objects and skips them. The difference divided by N is the
figure; it includes the Python ``for`` loop around the operation (the
``loop`` row), as the timed benchmark does. ``PYTHONHASHSEED=0`` keeps dict
layouts, and so the counts, the same from run to run.

Operations are bench/scenarios.py's: hits on one key; misses on fresh ints
(bounded caches of 128, prefilled so that every call evicts); ``churn``:
create an instance, ``m(0) m(1) m(0) m(1)``, drop it; ``first_call``: batches
of 1,024 fresh instances each calling ``m(1)`` once, then dropped (so it counts
the container's creation and its teardown; the baseline makes and drops the
same instances without calling).

    python bench/instructions.py                  # every operation, table on stdout
    python bench/instructions.py --ops churn,first_call --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
N = 20_000
BATCH = 1024

#: operation -> (setup, one operation); `obj`, `f`, `cls` and `keys` are made by the setup.
OPS = {
    "loop": ("", "pass"),
    "fn_hit": ("f = lib.function(128)(_one); f(1)", "f(1)"),
    "method_hit": ("obj = lib.method_class(128)(); obj.m(1)", "obj.m(1)"),
    "fn_miss": ("f = lib.function(128)(_one)\nfor k in range(1, 129): f(-k)", "f(k)"),
    "method_miss": ("obj = lib.method_class(128)()\nfor k in range(1, 129): obj.m(-k)", "obj.m(k)"),
    "method_insert": ("obj = lib.method_class(None)()", "obj.m(k)"),
    "churn": ("cls = lib.method_class(128)", "obj = cls(); obj.m(0); obj.m(1); obj.m(0); obj.m(1); del obj"),
    "first_call": ("cls = lib.method_class(128)", None),
    "create_drop": ("cls = lib.method_class(128)", "obj = cls(); del obj"),
}

SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from libs import LIBRARIES
lib = LIBRARIES[{lib!r}]
def _one(x):
    return x
{setup}
keys = range({n})
def run():
{body}
if {do_run}:
    run()
"""


def _body(op: str) -> str:
    if op == "first_call":
        return (
            f"    for done in range(0, {N}, {BATCH}):\n"
            f"        objs = [cls() for _ in range({BATCH})]\n"
            f"        for obj in objs:\n"
            f"            obj.m(1)\n"
            f"        del objs\n"
        )
    stmt = OPS[op][1]
    return f"    for k in keys:\n        {stmt}\n"


def _baseline_body(op: str) -> str:
    """The same setup; for first_call the same instances, made and dropped without a call."""
    return _body(op).replace("obj.m(1)", "pass")


def _instructions(python: str, script: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "op.py")
        with open(path, "w") as f:
            f.write(script)
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, PYTHONHASHSEED="0")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, path],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind failed:\n{proc.stderr[-2000:]}")
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if not match:
            raise RuntimeError(f"no instruction count in:\n{proc.stderr[-2000:]}")
        return int(match.group(1))


def per_operation(python: str, lib: str, op: str) -> float:
    setup = OPS[op][0]
    measured = SCRIPT.format(here=HERE, lib=lib, setup=setup, n=N, body=_body(op), do_run=True)
    if op == "first_call":
        baseline = SCRIPT.format(here=HERE, lib=lib, setup=setup, n=N, body=_baseline_body(op), do_run=True)
    else:  # the same setup, run() not called: the loop around the operation is counted
        baseline = SCRIPT.format(here=HERE, lib=lib, setup=setup, n=N, body=_body(op), do_run=False)
    return (_instructions(python, measured) - _instructions(python, baseline)) / N


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated operations")
    parser.add_argument("--libs", default="functools,boundcache", help="comma-separated libraries")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (default: this one)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    ops = [o for o in args.ops.split(",") if o]
    libs = [name for name in args.libs.split(",") if name]
    unknown = sorted(set(ops) - OPS.keys())
    if unknown:
        parser.error(f"unknown operations: {', '.join(unknown)} (known: {', '.join(OPS)})")
    # Compiles what the scripts import, so that no measured run pays for it.
    subprocess.run([args.python, "-c", f"import sys; sys.path.insert(0, {HERE!r}); import libs, boundcache"], check=True)
    results = {op: {lib: per_operation(args.python, lib, op) for lib in libs} for op in ops}
    if args.json:
        print(json.dumps(results))
        return 0
    print("| operation | " + " | ".join(libs) + (" | ratio |" if len(libs) == 2 else " |"))
    print("| --- |" + " ---: |" * (len(libs) + (len(libs) == 2)))
    for op, row in results.items():
        cells = [f"{row[lib]:,.0f}" for lib in libs]
        if len(libs) == 2 and op != "loop" and row[libs[0]]:
            cells.append(f"{row[libs[1]] / row[libs[0]]:.2f}")
        print(f"| {op} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
