"""The timing half of the harness: a pyperf Runner script, one benchmark per (scenario, library).

pyperf re-runs this script in its worker processes, so it must register the
same benchmarks in every process and must not import a library until the one
benchmark a worker runs is set up. Run by bench/run.py; by hand:

    python bench/timing.py --libs boundcache,functools --scenarios core -o out.json
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import pyperf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from libs import LIBRARIES, select  # noqa: E402
from scenarios import SCENARIOS, Scenario, TimeFunc  # noqa: E402


def select_scenarios(names: str) -> list[Scenario]:
    """A comma-separated list of scenario names; "core" for those the core issue bounds; "" for all."""
    if not names:
        return list(SCENARIOS.values())
    if names == "core":
        return [s for s in SCENARIOS.values() if s.core]
    wanted = {n.strip() for n in names.split(",")}
    unknown = sorted(wanted - SCENARIOS.keys())
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    return [s for s in SCENARIOS.values() if s.name in wanted]


def benchmark_name(scenario: str, lib: str) -> str:
    return f"{scenario}/{lib}"


def _lazy(scenario: str, lib: str) -> TimeFunc:
    """Build on first use: in a worker, only the benchmark it runs imports its library."""
    built: list[TimeFunc] = []

    def time_func(loops: int) -> float:
        if not built:
            built.append(SCENARIOS[scenario].build(LIBRARIES[lib]))
        return built[0](loops)  # times itself, so building is never counted

    return time_func


def _pass_args(cmd: list[str], args: Any) -> None:
    cmd.extend(("--libs", args.libs, "--scenarios", args.scenarios))


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=_pass_args)
    runner.argparser.add_argument("--libs", default="", help="comma-separated libraries (default: all)")
    runner.argparser.add_argument("--scenarios", default="", help="comma-separated scenarios, or 'core'")
    args: argparse.Namespace = runner.parse_args()
    # Scenario outer, library inner: the libraries compared in one row run back to back.
    for scenario in select_scenarios(args.scenarios):
        for lib in select(args.libs):
            if scenario.supports(lib):
                runner.bench_time_func(
                    benchmark_name(scenario.name, lib.name),
                    _lazy(scenario.name, lib.name),
                    inner_loops=scenario.inner_loops,
                )


if __name__ == "__main__":
    main()
