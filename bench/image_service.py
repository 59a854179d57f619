"""The image-service workload with one library: ``python bench/image_service.py LIB`` prints JSON.

One instance per request, each holding a buffer (20 MB by default) and
serving 3 thumbnails from its cached method, then dropped. The resident set
is sampled after every request, so the chart shows RSS over the run. The
garbage collector runs as it does in production, with default thresholds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import weakref
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from libs import LIBRARIES  # noqa: E402

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Current resident set size (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def thumbnail(self: Any, size: int) -> bytes:
    step = max(1, len(self.pixels) // (size * size))
    return bytes(self.pixels[::step][: size * size])


def run(lib_name: str, requests: int, buffer_mb: float, calls: int, maxsize: int) -> dict[str, Any]:
    lib = LIBRARIES[lib_name]
    assert lib.method_class is not None
    base = lib.method_class(maxsize, thumbnail)
    nbytes = int(buffer_mb * MIB)

    class ImageCache(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            # Filled, not just allocated: untouched zero pages never become resident.
            self.pixels = bytearray(b"\x7f") * nbytes

    alive: weakref.WeakSet[Any] = weakref.WeakSet()
    sizes = [32 * (i + 1) for i in range(calls)]
    baseline = rss()
    samples = [baseline]
    t0 = time.perf_counter()
    for _ in range(requests):
        image = ImageCache()
        alive.add(image)
        for size in sizes:
            image.m(size)
        del image
        samples.append(rss())
    seconds = time.perf_counter() - t0
    alive_before_gc = len(alive)
    gc.collect()
    return {
        "lib": lib_name,
        "requests": requests,
        "buffer_bytes": nbytes,
        "baseline": baseline,
        "rss": samples,
        "peak": max(samples),
        "seconds": seconds,
        "alive_at_end": alive_before_gc,
        "alive_after_gc": len(alive),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lib", choices=[n for n, lib in LIBRARIES.items() if lib.method_class])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--buffer-mb", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--maxsize", type=int, default=128)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.lib, args.requests, args.buffer_mb, args.calls, args.maxsize)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
