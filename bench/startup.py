#!/usr/bin/env python3
"""What boundcache's .pth file costs an interpreter's start (issue 28).

    python bench/startup.py [--runs N] [--wheel PATH]

Two fresh virtual environments of this interpreter: a plain one, and one with
boundcache installed from a wheel of this checkout (built unless --wheel is
given), so with boundcache_patch.pth at the root of its site-packages.
`python -c pass` is started N times in each, interleaved, and the medians are
compared; then the same with BOUNDCACHE_PATCH=1, which imports boundcache and
patches functools. `-X importtime` shows what the unset switch imports:
nothing of boundcache's. Finally the site module's own work on the file
(site.addpackage, timed in-process) beside an empty .pth: the difference is
all that the unset switch costs, and is steady where whole starts are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="starts per configuration (default 200)")
    parser.add_argument("--wheel", help="a boundcache wheel for this interpreter (default: build one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="boundcache-startup-") as tmp:
        wheel = args.wheel or _build_wheel(tmp)
        plain, patched = os.path.join(tmp, "plain"), os.path.join(tmp, "with-boundcache")
        for venv in (plain, patched):
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                        "--target", _site_packages(patched), wheel], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNDCACHE_", "PYTHON"))}
        on = {**env, "BOUNDCACHE_PATCH": "1"}
        cases = {
            "plain venv": (plain, env),
            "boundcache installed, BOUNDCACHE_PATCH unset": (patched, env),
            "boundcache installed, BOUNDCACHE_PATCH=1": (patched, on),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved, so that drifts hit every case alike
            for name, (venv, environ) in cases.items():
                t0 = time.perf_counter()
                subprocess.run([_python(venv), "-c", "pass"], env=environ, check=True)
                times[name].append(time.perf_counter() - t0)
        base = statistics.median(times["plain venv"])
        print(f"CPython {sys.version.split()[0]}, `python -c pass`, median of {args.runs} starts each:")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:48} {median * 1e3:7.2f} ms  {median / base:5.3f}x  (+{(median - base) * 1e3:.2f} ms)")
        for name, environ in (("unset", env), ("BOUNDCACHE_PATCH=1", on)):
            proc = subprocess.run([_python(patched), "-X", "importtime", "-c", "pass"], env=environ,
                                  capture_output=True, text=True, check=True)
            ours = [line for line in proc.stderr.splitlines() if "boundcache" in line]
            total = max((int(line.split("|")[1]) for line in ours), default=0)
            print(f"  -X importtime, {name}: {len(ours)} boundcache modules imported, {total / 1e3:.2f} ms (the outermost, cumulative)")
        print("  " + _pth_cost(patched, env))
    return 0


PTH_COST = """
import os, site, sys, tempfile, timeit
ours = next(p for p in sys.path if os.path.isfile(os.path.join(p, "boundcache_patch.pth")))
empty = tempfile.mkdtemp()
open(os.path.join(empty, "empty.pth"), "w").close()
n = 5000
times = {}
for _ in range(5):  # interleaved, best of 5
    for where, name in ((ours, "boundcache_patch.pth"), (empty, "empty.pth")):
        t = timeit.timeit(lambda: site.addpackage(where, name, set()), number=n) / n
        times[name] = min(times.get(name, t), t)
print(f"site.addpackage, unset: boundcache_patch.pth {times['boundcache_patch.pth'] * 1e6:.1f} us, "
      f"an empty .pth {times['empty.pth'] * 1e6:.1f} us")
"""


def _pth_cost(venv: str, env: dict[str, str]) -> str:
    return subprocess.run([_python(venv), "-c", PTH_COST], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _build_wheel(tmp: str) -> str:
    out = os.path.join(tmp, "wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", REPO,
                    "-w", out], check=True)
    return os.path.join(out, os.listdir(out)[0])


def _python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def _site_packages(venv: str) -> str:
    return subprocess.run([_python(venv), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
