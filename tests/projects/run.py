#!/usr/bin/env python3
"""Real projects' own test suites, with and without BOUNDCACHE_PATCH=1.

    python tests/projects/run.py [--python PY]... [--ci] [--cache DIR] [PROJECT...]

For each interpreter: boundcache is built into a wheel from this checkout
(so the .pth file is installed as users get it). For each project
(projects.py): its pinned source with tests (sources.py), a virtual
environment of its own with boundcache, the project and its test
requirements, then its suite run twice under pytest, once plain and once
with BOUNDCACHE_PATCH=1 (functools' three decorators replaced at interpreter
start, before anything is imported). The per-test outcomes (JUnit XML) must
be identical; the differences are printed, with the patched run's message.

--ci runs the part of each suite that .ci/run can afford (projects.py).
Exit status: 0 when no test differs, 1 otherwise or when a run could not be
made. Sources, wheels of the test requirements and environments are kept in
the cache directory (default: $BOUNDCACHE_PROJECTS_CACHE, or
~/.cache/boundcache-projects) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from compare import differences, durations, outcomes, slowest  # noqa: E402
from projects import PROJECTS, Project  # noqa: E402
from sources import source_tree  # noqa: E402

RUN_TIMEOUT = 3600  # seconds for one run of one suite


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="*", metavar="PROJECT", help=f"default: all of {', '.join(PROJECTS)}")
    parser.add_argument("--python", action="append", help="interpreter(s) to run on (default: this one)")
    parser.add_argument("--ci", action="store_true", help="only the part of each suite that CI runs")
    parser.add_argument("--cache", default=os.environ.get("BOUNDCACHE_PROJECTS_CACHE")
                        or os.path.expanduser("~/.cache/boundcache-projects"))
    parser.add_argument("-v", "--verbose", action="store_true", help="print every difference, not the first 20")
    args = parser.parse_args()
    unknown = [p for p in args.projects if p not in PROJECTS]
    if unknown:
        parser.error(f"unknown project(s) {', '.join(unknown)}; known: {', '.join(PROJECTS)}")
    projects = [PROJECTS[p] for p in args.projects or PROJECTS]
    os.makedirs(args.cache, exist_ok=True)
    ok = True
    for python in args.python or [sys.executable]:
        version = _version(python)
        t0 = time.monotonic()
        wheel = _build_wheel(python, version, args.cache)
        print(f"=== CPython {version}: boundcache wheel built ({time.monotonic() - t0:.0f} s)", flush=True)
        for project in projects:
            ok &= _one(project, python, version, wheel, args)
    return 0 if ok else 1


def _one(project: Project, python: str, version: str, wheel: str, args) -> bool:
    t0 = time.monotonic()
    label = f"{project.name} {project.version} on CPython {version}"
    try:
        tree = source_tree(project, args.cache)
        venv = _environment(project, python, version, wheel, tree, args.cache)
    except SystemExit as e:
        print(f"PROJECT {label}: SETUP FAILED\n{e}", flush=True)
        return False
    setup = time.monotonic() - t0
    tests = list(project.ci if args.ci and project.ci is not None else project.pytest_args)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="boundcache-projects-") as tmp:
        for mode in ("plain", "patched"):
            runs[mode] = _pytest(project, venv, tree, tests, mode, tmp)
            if runs[mode] is None:
                print(f"PROJECT {label}: the {mode} run wrote no report", flush=True)
                return False
    (plain, plain_times, plain_probe, plain_s), (patched, patched_times, patched_probe, patched_s) = (
        runs["plain"],
        runs["patched"],
    )
    if plain_probe.get("lru_cache") != "functools" or patched_probe.get("lru_cache") != "boundcache._patch":
        print(f"PROJECT {label}: the runs were not plain and patched as asked ({plain_probe}, {patched_probe})")
        return False
    diff = differences(plain, patched)
    counts: dict[str, int] = {}
    for outcome, _ in plain.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    print(
        f"PROJECT {label}: {len(plain)} tests ({summary}); patched run: {patched_probe['replaced']} caches "
        f"made by the patch alive at the end; {len(diff)} differ"
        f" (setup {setup:.0f} s, plain {plain_s:.0f} s, patched {patched_s:.0f} s)",
        flush=True,
    )
    causes: dict[str, int] = {}
    for _, _, _, message in diff:
        causes[message] = causes.get(message, 0) + 1
    for message, n in sorted(causes.items(), key=lambda kv: -kv[1]):
        print(f"  {n} x {message}")
    for test_id, a, b, message in diff if args.verbose else diff[:20]:
        print(f"  {a} -> {b}: {test_id}\n      {message}")
    if len(diff) > 20 and not args.verbose:
        print(f"  ... and {len(diff) - 20} more (-v shows them all)")
    # Slower switched, in the tests themselves (not in reporting failures): the tests that account for it.
    if sum(patched_times.values()) > 1.5 * sum(plain_times.values()) + 5:
        for test_id, a, b in slowest(plain_times, patched_times):
            print(f"  slower switched: {a:.2f} s -> {b:.2f} s  {test_id}")
    return not diff


def _pytest(project: Project, venv: str, tree: str, tests: list[str], mode: str, tmp: str):
    report = os.path.join(tmp, f"{mode}.xml")
    probe = os.path.join(tmp, f"{mode}.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNDCACHE_", "PYTEST_", "PYTHON"))}
    env.update(
        PYTHONHASHSEED="0",
        PYTHONPATH=os.path.join(HERE, "plugin"),
        BOUNDCACHE_PROBE_OUT=probe,
    )
    if mode == "patched":
        env["BOUNDCACHE_PATCH"] = "1"
    cmd = [os.path.join(venv, "bin", "python"), "-m", "pytest", "-p", "no:cacheprovider", "-p", "boundcache_probe",
           "-q", "--no-header", "-rN", f"--junitxml={report}", *tests]
    if any(r.startswith("hypothesis") for r in project.test_requires):
        cmd.append("--hypothesis-seed=0")  # the same examples in both runs
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - t0
    if not os.path.isfile(report) or not os.path.isfile(probe):
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        return None
    with open(probe) as f:
        return outcomes(report), durations(report), json.load(f), seconds


def _environment(project: Project, python: str, version: str, wheel: str, tree: str, cache: str) -> str:
    """A virtual environment with the project and its test requirements
    (made once per pin), and this checkout's boundcache (every time)."""
    venv = os.path.join(cache, "venvs", f"{project.name}-{project.version}-py{version}")
    stamp = os.path.join(venv, "boundcache-projects.json")
    want = {"requires": list(project.test_requires), "tree": tree}
    try:
        with open(stamp) as f:
            fresh = json.load(f) == want
    except (OSError, ValueError):
        fresh = False
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not fresh:
        shutil.rmtree(venv, ignore_errors=True)
        _check([python, "-m", "venv", venv])
        _check([*pip, tree, *project.test_requires])
        with open(stamp, "w") as f:
            json.dump(want, f)
    _check([*pip, "--force-reinstall", "--no-deps", wheel])
    return venv


def _build_wheel(python: str, version: str, cache: str) -> str:
    out = os.path.join(cache, "wheels", version)
    shutil.rmtree(out, ignore_errors=True)
    builder = os.path.join(cache, "venvs", f"wheel-builder-py{version}")
    if not os.path.isfile(os.path.join(builder, "bin", "python")):
        _check([python, "-m", "venv", builder])
    _check([os.path.join(builder, "bin", "python"), "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
            "--no-deps", REPO, "-w", out])
    return os.path.join(out, os.listdir(out)[0])


def _version(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _check(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


if __name__ == "__main__":
    sys.exit(main())
