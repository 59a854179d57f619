"""Benchmark boundcache against every peer: ``python bench/run.py`` (see --help).

Full run (under 10 minutes on 2 cores): timing with pyperf, memory with
tracemalloc and RSS, the image-service workload; writes bench/RESULTS.md,
bench/charts/*.png and the raw data in bench/results/.

Quick run (well under a minute), for work on the core: ``--quick`` times only
the scenarios the core issue bounds, for boundcache and functools, and prints
their ratios; it writes nothing.

Shared run (about a minute): ``--shared`` times the Redis tier (``shared=``)
against dogpile.cache, cashews and aiocache on one local redis-server, and
writes bench/SHARED.md (bench/shared.py).

Versions run (about 8 minutes, as root for 3.14 and 3.15): ``--versions``
runs bench/versions.py on every CPython >= 3.11 that pyenv provides, on
Debian's /usr/bin/python3, and on 3.14 and 3.15 in the Debian unstable root
of .ci/debian-unstable, each in a fresh venv; writes
bench/results/versions.json and the per-version section of RESULTS.md.

Options run (about 2 minutes): ``--options`` times lru_cache's keyword options
(ttl=, key=, max_total=, lock=) against plain boundcache and functools, and
peers' TTL caches, and writes bench/OPTIONS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from libs import LIBRARIES, Library, select  # noqa: E402
from memory import PROBES, applicable  # noqa: E402

#: pyperf settings. Full: 6 processes x 3 values of >= 0.1 s each, after 1 warmup (55 benchmarks
#: in about 6 minutes on 2 shared cores).
FULL_PYPERF = ["--processes", "6", "--values", "3", "--warmups", "1", "--min-time", "0.1"]
QUICK_PYPERF = ["--processes", "3", "--values", "3", "--warmups", "1", "--min-time", "0.05"]
QUICK_PROBES = ("entry_tracemalloc_function", "entry_tracemalloc_method", "entry_rss_function", "entry_rss_method")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_timing(libs: str, scenarios: str, pyperf_args: list[str], out: Path, quiet: bool) -> dict[str, Any]:
    out.unlink(missing_ok=True)  # pyperf refuses to overwrite
    cmd = [sys.executable, str(HERE / "timing.py"), "--libs", libs, "--scenarios", scenarios, "-o", str(out)]
    cmd += pyperf_args + ["--quiet"]
    if "PYTHONPATH" in os.environ:  # pyperf workers get a clean environment otherwise
        cmd += ["--inherit-environ", "PYTHONPATH"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if quiet else None)
    return report.summarize_pyperf(out)


def _run_json(script: str, *args: str) -> Any:
    proc = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def run_memory(libs: list[Library], probes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each probe of each library in a fresh process, so none sees another's allocations."""
    return {lib.name: {p: _run_json("memory.py", lib.name, p) for p in probes if applicable(lib, p)} for lib in libs}


def run_image_service(libs: list[Library], requests: int, buffer_mb: float) -> dict[str, dict[str, Any]]:
    args = ("--requests", str(requests), "--buffer-mb", str(buffer_mb))
    return {lib.name: _run_json("image_service.py", lib.name, *args) for lib in libs if lib.method_class}


def environment(pyperf_args: list[str], libs: list[Library]) -> dict[str, Any]:
    import pyperf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "command": "python bench/run.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "python bench/run.py",
        "date": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "pyperf": pyperf.__version__,
        "pyperf_args": " ".join(pyperf_args),
        "versions": {lib.name: lib.version() for lib in libs},
        # Other work on the machine inflates and spreads the timings: recorded, so a reader can judge.
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def full(args: argparse.Namespace) -> int:
    libs = select(args.only)
    results_dir, charts_dir = HERE / "results", HERE / "charts"
    results_dir.mkdir(exist_ok=True)
    charts_dir.mkdir(exist_ok=True)
    raw = results_dir / "results.json"
    if args.report_only:
        results = json.loads(raw.read_text())
    else:
        t0 = time.monotonic()
        _log("timing (pyperf)...")
        timing = run_timing(args.only or "", args.scenarios or "", FULL_PYPERF, results_dir / "timing.json.gz", False)
        _log(f"memory probes... ({time.monotonic() - t0:.0f} s)")
        memory = run_memory(libs, tuple(PROBES))
        _log(f"image service... ({time.monotonic() - t0:.0f} s)")
        image = run_image_service(libs, args.requests, args.buffer_mb)
        _log(f"done in {time.monotonic() - t0:.0f} s")
        results = {"env": environment(FULL_PYPERF, libs), "timing": timing, "memory": memory, "image_service": image}
        raw.write_text(json.dumps(results, indent=1))
    charts = {"speed": "charts/ns_per_op.png", "rss": "charts/image_service_rss.png"}
    report.plot_speed(results["timing"], HERE / charts["speed"])
    report.plot_rss(results["image_service"], HERE / charts["rss"])
    per_version = results_dir / "versions.json"
    runs = json.loads(per_version.read_text()) if per_version.exists() else None
    report.write_results_md(results, HERE / "RESULTS.md", charts, runs)
    failed = [text for ok, text in report.check_targets(results) if not ok]
    print(f"wrote {HERE / 'RESULTS.md'} and {charts_dir}/; {len(failed)} target(s) missed")
    for text in failed:
        print(f"  missed: {text}")
    return 0


def quick(args: argparse.Namespace) -> int:
    names = args.only or "boundcache,functools"
    libs = select(names)
    if {"boundcache", "functools"} - {lib.name for lib in libs}:
        raise SystemExit("--quick compares boundcache with functools: --only must name both")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        timing = run_timing(names, args.scenarios or "core", QUICK_PYPERF, Path(tmp) / "quick.json", True)
    memory = run_memory(libs, QUICK_PROBES)
    table, ok = report.quick_table(timing, memory)
    print(f"boundcache / functools, median ns/op, same run (pyperf {' '.join(QUICK_PYPERF)}):\n")
    print(table)
    print(f"\n{'all within bounds' if ok else 'SOME RATIOS OVER THEIR BOUND'} ({time.monotonic() - t0:.0f} s)")
    return 0 if ok else 1


#: Scenarios and libraries of the --options run.
OPTION_SCENARIOS = "fn_hit_int,fn_miss,method_hit,method_miss,churn"


def options(args: argparse.Namespace) -> int:
    names = args.only or ",".join(["functools", "boundcache", *(n for n, lib in LIBRARIES.items() if lib.variant)])
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        timing = run_timing(names, args.scenarios or OPTION_SCENARIOS, QUICK_PYPERF, Path(tmp) / "options.json", True)
    env = environment(QUICK_PYPERF, select(names))
    text = report.options_md(timing, env, [lib for lib in select(names)])
    (HERE / "OPTIONS.md").write_text(text)
    print(text)
    _log(f"wrote {HERE / 'OPTIONS.md'} ({time.monotonic() - t0:.0f} s)")
    return 0


def _wrapt_pin() -> str:
    """The bench extra's wrapt requirement (the version RESULTS.md reports)."""
    import tomllib

    extra = tomllib.loads((HERE.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]["bench"]
    return next(req for req in extra if req.startswith("wrapt"))


def _host_interpreters() -> list[str]:
    found = []
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        bare = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        root, bare = "", ""
    for v in bare.split():
        parts = v.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts) and (int(parts[0]), int(parts[1])) >= (3, 11):
            found.append(f"{root}/versions/{v}/bin/python")
    if Path("/usr/bin/python3").exists():
        found.append("/usr/bin/python3")
    return found


def versions(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    pin = _wrapt_pin()
    runs = []
    for py in _host_interpreters():
        with tempfile.TemporaryDirectory() as venv:
            _log(f"{py}: venv, pip install . {pin}, bench/versions.py ({time.monotonic() - t0:.0f} s)")
            subprocess.run([py, "-m", "venv", venv], check=True)
            vpy = f"{venv}/bin/python"
            subprocess.run([vpy, "-m", "pip", "install", "-q", str(HERE.parent), pin], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            out = subprocess.run([vpy, str(HERE / "versions.py")], check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out))
    if os.geteuid() == 0 and not args.no_sid:
        _log(f"3.14 and 3.15 in the Debian unstable root ({time.monotonic() - t0:.0f} s)")
        with tempfile.TemporaryDirectory() as outdir:
            env = dict(os.environ, BOUNDCACHE_SID_PIP_EXTRA=pin)
            subprocess.run(["bash", str(HERE.parent / ".ci" / "debian-unstable"), "bench", outdir], env=env, check=False)
            runs += [json.loads(p.read_text()) for p in sorted(Path(outdir).glob("*.json")) if p.stat().st_size]
    else:
        _log("3.14 and 3.15 left out (needs root for the Debian unstable root, or --no-sid given)")
    runs.sort(key=lambda r: (tuple(int(x) for x in r["python"].split(".")[:2]), r["build"] != "pyenv"))
    (HERE / "results" / "versions.json").write_text(json.dumps(runs, indent=1))
    args.report_only = True
    full(args)
    print("\n".join(report.versions_md(runs)))
    _log(f"versions done in {time.monotonic() - t0:.0f} s")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the core issue's ratios, printed; writes nothing")
    parser.add_argument("--options", action="store_true", help="the keyword options' cost; writes OPTIONS.md")
    parser.add_argument(
        "--shared", action="store_true", help="the Redis tier against dogpile.cache, cashews, aiocache; writes SHARED.md"
    )
    parser.add_argument("--versions", action="store_true", help="boundcache/functools/wrapt on every CPython 3.11+")
    parser.add_argument("--no-sid", action="store_true", help="with --versions: leave out 3.14/3.15 (Debian root)")
    parser.add_argument("--only", metavar="LIBS", help=f"comma-separated subset of: {','.join(LIBRARIES)}")
    parser.add_argument("--scenarios", metavar="NAMES", help="comma-separated scenario names, or 'core'")
    parser.add_argument("--report-only", action="store_true", help="redo RESULTS.md and charts from results.json")
    parser.add_argument("--requests", type=int, default=150, help="image service: requests (default 150)")
    parser.add_argument("--buffer-mb", type=float, default=20.0, help="image service: MB per instance (default 20)")
    args = parser.parse_args(argv)
    if args.shared:
        # Its own harness: a redis-server, peers that need it, processes for the stampede.
        return subprocess.run([sys.executable, str(HERE / "shared.py")], check=False).returncode
    if args.options:
        return options(args)
    if args.versions:
        return versions(args)
    return quick(args) if args.quick else full(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
