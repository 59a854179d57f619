"""``python -m boundcache demo``, run as a user runs it: in a subprocess, on small sizes.

The assertions are on counts and memory, never on time.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from cores import REFCOUNTED

import boundcache

pytestmark = pytest.mark.skipif(
    not hasattr(boundcache, "lru_cache"), reason="boundcache.lru_cache not in this build yet"
)

MIB = 1024 * 1024
REQUESTS = 30
BUFFER_MB = 2
SMALL = ("--requests", str(REQUESTS), "--buffer-mb", str(BUFFER_MB))


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boundcache", "demo", *args], capture_output=True, text=True, timeout=300, check=False
    )


def demo_results(*args: str) -> dict[str, dict[str, Any]]:
    proc = run_demo(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return {r["impl"]: r for r in json.loads(proc.stdout)}


@pytest.fixture(scope="module")
def unbounded() -> dict[str, dict[str, Any]]:
    # 30 requests x 3 calls = 90 entries: all fit under the default maxsize=128.
    return demo_results(*SMALL)


def test_functools_pins_every_instance_its_cache_holds(unbounded: dict[str, dict[str, Any]]) -> None:
    assert unbounded["functools"]["alive"] == REQUESTS


def test_boundcache_frees_every_instance(unbounded: dict[str, dict[str, Any]]) -> None:
    assert unbounded["boundcache"]["alive"] == 0


def test_maxsize_bounds_what_functools_pins() -> None:
    # One class-level cache of 7 entries, 3 per instance: the last 3 instances survive.
    results = demo_results(*SMALL, "--calls", "3", "--maxsize", "7")
    if REFCOUNTED:
        assert results["functools"]["alive"] == math.ceil(7 / 3)
    else:
        # PyPy's dict keeps the last few keys deleted from it alive for a while:
        # those of the instance evicted last, and so that instance.
        assert math.ceil(7 / 3) <= results["functools"]["alive"] <= math.ceil(7 / 3) + 1
    assert results["boundcache"]["alive"] == 0


def test_rss_grows_with_functools_and_stays_flat_with_boundcache(unbounded: dict[str, dict[str, Any]]) -> None:
    if unbounded["functools"]["rss_peak"] is None:
        pytest.skip("no peak RSS on this platform")
    growth = {impl: r["rss_peak"] - r["rss_before"] for impl, r in unbounded.items()}
    pinned = REQUESTS * BUFFER_MB * MIB
    # Generous margins: allocator and interpreter noise are a few MB at most.
    assert growth["functools"] > pinned * 0.8
    assert growth["boundcache"] < 3 * BUFFER_MB * MIB


def test_table_is_readable() -> None:
    proc = run_demo(*SMALL)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"Image service: {REQUESTS} requests;")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("functools.", "boundcache."))}
    assert f"{REQUESTS} of {REQUESTS}" in rows["functools.lru_cache"]
    assert f"0 of {REQUESTS}" in rows["boundcache.lru_cache"]
    assert out.rstrip().splitlines()[-1].startswith("Conclusion: ")


@pytest.mark.parametrize("args", [("--requests", "0"), ("--maxsize", "big"), ("--worker", "cachetools")])
def test_rejects_bad_arguments(args: tuple[str, ...]) -> None:
    proc = run_demo(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_patch_row_runs_the_functools_code_switched_and_frees_every_instance() -> None:
    results = demo_results(*SMALL, "--patch")
    assert results["functools"]["alive"] == REQUESTS
    assert results["functools"]["served_by"] == "functools"
    assert results["patched"]["served_by"] == "boundcache._patch"  # the same code, served by the switch
    assert results["patched"]["alive"] == 0


def test_patch_row_in_the_table() -> None:
    proc = run_demo(*SMALL, "--patch")
    assert proc.returncode == 0, proc.stderr
    assert f"functools.lru_cache, BOUNDCACHE_PATCH=1                 0 of {REQUESTS}" in proc.stdout
    assert "the switch fixes the trap in code you cannot edit" in proc.stdout
