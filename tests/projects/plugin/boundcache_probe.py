"""A pytest plugin loaded in both runs (``-p boundcache_probe``): at the end of the
session it writes which functools decorators served the suite and how many
caches the patch made, so that a patched run proves it was patched."""

from __future__ import annotations

import functools
import json
import os
import sys


def pytest_sessionfinish(session):
    path = os.environ.get("BOUNDCACHE_PROBE_OUT")
    if not path:
        return
    patch = sys.modules.get("boundcache._patch")
    with open(path, "w") as f:
        json.dump(
            {
                "lru_cache": functools.lru_cache.__module__,
                "replaced": patch.replaced_count() if patch else 0,
            },
            f,
        )
