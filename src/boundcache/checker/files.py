"""Which files a run looks at.

Paths named on the command line are always checked (as ruff and flake8 do);
directories are walked in sorted order for stable output, skipping hidden
directories, virtual environments (a ``pyvenv.cfg`` or ``conda-meta`` inside,
whatever the directory is called), ``__pycache__`` and ``node_modules``, and
whatever the configuration excludes.  Only ``*.py`` files are picked up while
walking: stubs (``.pyi``) never run, so they cannot pin anything.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Iterator, Sequence

from .config import Config

_SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "__pypackages__"})


def iter_files(paths: Sequence[str], config: Config) -> Iterator[str]:
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        for directory, subdirectories, filenames in os.walk(path):
            subdirectories[:] = sorted(
                name for name in subdirectories
                if not _skip_directory(os.path.join(directory, name), name, config)
            )
            for name in sorted(filenames):
                full = os.path.join(directory, name)
                if name.endswith(".py") and not is_excluded(full, config):
                    yield full


def _skip_directory(path: str, name: str, config: Config) -> bool:
    if name.startswith(".") or name in _SKIPPED_DIRECTORIES or name in config.vendor_dirs:
        return True
    if os.path.exists(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(os.path.join(path, "conda-meta")):
        return True
    return is_excluded(path, config)


def is_excluded(path: str, config: Config) -> bool:
    if not config.exclude:
        return False
    relative = os.path.relpath(os.path.abspath(path), config.root).replace(os.sep, "/")
    name = os.path.basename(path)
    return any(
        fnmatch.fnmatchcase(relative, pattern.rstrip("/")) or fnmatch.fnmatchcase(name, pattern.rstrip("/"))
        for pattern in config.exclude
    )
