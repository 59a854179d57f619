"""``python -m boundcache demo``: the image-service scenario, functools beside boundcache.

A service creates one ``ImageCache`` per request. Each instance holds a large
image buffer and memoizes ``thumbnail(size)`` with ``@lru_cache`` on the
method. After a few thumbnails the request is done and the instance dropped.

The same workload runs twice, once per memoizer, each in a fresh process so
that one run's peak RSS cannot leak into the other's. A worker prints one line
of JSON; the parent collects both and prints the table. With ``--patch`` a
third process runs the functools code unchanged under ``BOUNDCACHE_PATCH=1``:
code you cannot edit, fixed by the switch (docs/patch.md).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

IMPLS = ("functools", "boundcache")
PATCHED = "patched"  # functools' code, in a process started with BOUNDCACHE_PATCH=1
LABELS = {"functools": "functools.lru_cache", "boundcache": "boundcache.lru_cache",
          PATCHED: "functools.lru_cache, BOUNDCACHE_PATCH=1"}  # fmt: skip
MIB = 1024 * 1024
# Without reference counting (PyPy) what a request drops is freed at the next
# collection, not at once: the worker collects after each request there.
REFCOUNTED = hasattr(sys, "getrefcount")


def _lru_cache(impl: str) -> Callable[..., Any]:
    if impl in ("functools", PATCHED):
        return functools.lru_cache
    import boundcache

    lru_cache: Callable[..., Any] = boundcache.lru_cache
    return lru_cache


def _peak_rss_bytes() -> int | None:
    """This process's peak resident set size so far, or None where unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux and the BSDs report KiB, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


def make_image_cache_class(lru_cache: Callable[..., Any], maxsize: int | None) -> type:
    """The service's class, decorated with the memoizer under test."""

    class ImageCache:
        """One request's image, with memoized thumbnails."""

        def __init__(self, request_id: int, nbytes: int) -> None:
            self.request_id = request_id
            # Filled, not just allocated: bytearray(n) maps zero pages that
            # would never become resident and so never show in RSS.
            self.pixels = bytearray(b"\x7f") * nbytes

        @lru_cache(maxsize=maxsize)
        def thumbnail(self, size: int) -> bytes:
            step = max(1, len(self.pixels) // (size * size))
            return bytes(self.pixels[::step][: size * size])

    return ImageCache


def run_worker(impl: str, requests: int, buffer_mb: float, calls: int, maxsize: int | None) -> dict[str, Any]:
    """Serve ``requests`` requests with ``impl``'s lru_cache; return the measurements."""
    image_cache = make_image_cache_class(_lru_cache(impl), maxsize)
    nbytes = int(buffer_mb * MIB)
    sizes = [32 * (i + 1) for i in range(calls)]  # edge lengths in pixels, all distinct
    alive: weakref.WeakSet[Any] = weakref.WeakSet()

    rss_before = _peak_rss_bytes()
    start = time.perf_counter()
    for request_id in range(requests):
        image = image_cache(request_id, nbytes)
        alive.add(image)
        for size in sizes:
            image.thumbnail(size)
        del image  # the request is over
        if not REFCOUNTED:
            gc.collect()
    elapsed = time.perf_counter() - start
    # Not a garbage problem: whatever survives a full collection is pinned.
    gc.collect()
    rss_peak = _peak_rss_bytes()

    return {
        "impl": impl,
        "served_by": functools.lru_cache.__module__,
        "requests": requests,
        "buffer_bytes": nbytes,
        "alive": len(alive),
        "rss_before": rss_before,
        "rss_peak": rss_peak,
        "seconds": elapsed,
    }


def _spawn_worker(impl: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "boundcache._demo", "--worker", impl,
        "--requests", str(args.requests), "--buffer-mb", str(args.buffer_mb),
        "--calls", str(args.calls), "--maxsize", _format_maxsize(args.maxsize),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "BOUNDCACHE_PATCH"}
    if impl == PATCHED:
        env["BOUNDCACHE_PATCH"] = "1"
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the {impl} worker failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if impl == PATCHED and result["served_by"] == "functools":
        raise RuntimeError(
            "BOUNDCACHE_PATCH=1 did not patch the worker: boundcache_patch.pth is missing from site-packages "
            "(install boundcache with pip)"
        )
    return result


def _format_maxsize(maxsize: int | None) -> str:
    return "None" if maxsize is None else str(maxsize)


def _parse_maxsize(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or 'none': {text!r}") from None


def _mb(nbytes: float | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / MIB:,.0f} MB"


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The human-readable report: what was run, the table, the conclusion."""
    deco = f"@lru_cache(maxsize={_format_maxsize(args.maxsize)})"
    lines = [
        f"Image service: {args.requests} requests; each creates an ImageCache holding "
        f"{args.buffer_mb:g} MB of image data, calls its {deco} method thumbnail() "
        f"{args.calls} times, then drops it.",
        "Each memoizer runs in its own process.",
        "",
    ]
    header = ("memoizer", "instances alive at end", "peak RSS", "time")
    rows = [
        (
            LABELS[r["impl"]],
            f"{r['alive']:,} of {r['requests']:,}",
            _mb(r["rss_peak"]),
            f"{r['seconds']:.2f} s",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for i, row in enumerate((header, *rows)):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")

    by_impl = {r["impl"]: r for r in results}
    ft, bc = by_impl.get("functools"), by_impl.get("boundcache")
    if ft and bc:
        pinned = ft["alive"] * ft["buffer_bytes"]
        if ft["alive"] and not bc["alive"]:
            lines.append(
                f"Conclusion: functools' class-level cache kept {ft['alive']:,} finished instances "
                f"({_mb(pinned)} of images) alive, even through gc.collect(); "
                "boundcache freed each one as soon as its request dropped it."
            )
        else:
            lines.append(
                f"Instances left alive: functools {ft['alive']:,}, boundcache {bc['alive']:,} "
                "(with these settings the class-level cache pinned nothing visible)."
            )
    patched = by_impl.get(PATCHED)
    if ft and patched and ft["alive"] and not patched["alive"]:
        lines.append(
            "With BOUNDCACHE_PATCH=1, the same functools code freed every instance too: "
            "the switch fixes the trap in code you cannot edit."
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m boundcache demo",
        description="The image-service scenario: lru_cache on a method, functools beside boundcache.",
    )
    parser.add_argument("--requests", type=int, default=200, help="instances created, one per request (default 200)")
    parser.add_argument("--buffer-mb", type=float, default=8.0, help="image size held by each instance (default 8)")
    parser.add_argument(
        "--calls", type=int, default=3, help="thumbnail() calls per request, each a new size (default 3)"
    )
    parser.add_argument(
        "--maxsize", type=_parse_maxsize, default=128, help="lru_cache maxsize, an integer or 'none' (default 128)"
    )
    parser.add_argument(
        "--patch",
        action="store_true",
        help="add a row: the functools code run with BOUNDCACHE_PATCH=1 (docs/patch.md)",
    )
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON instead of a table")
    parser.add_argument("--worker", choices=(*IMPLS, PATCHED), help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.requests < 1 or args.calls < 1 or args.buffer_mb <= 0:
        parser.error("--requests, --calls and --buffer-mb must be positive")

    if args.worker:
        result = run_worker(args.worker, args.requests, args.buffer_mb, args.calls, args.maxsize)
        print(json.dumps(result))
        return 0

    try:
        impls = (*IMPLS, PATCHED) if args.patch else IMPLS
        results = [_spawn_worker(impl, args) for impl in impls]
    except RuntimeError as exc:
        print(f"boundcache demo: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2) if args.json else render(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
