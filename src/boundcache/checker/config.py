"""``[tool.boundcache]`` in ``pyproject.toml``.

Keys (anything else is an error, so that a typo is not silently ignored):

``extend-decorators``
    qualified names of more memoizers keyed on their arguments, such as
    ``"cachetools.func.lru_cache"`` or ``"mypkg.caching.memoize"``.  They are
    reported, never rewritten (their arguments need not mean boundcache's).
``vendor-dirs``
    names of directories holding vendored code (copied from elsewhere), skipped
    while walking; default ``["_vendor", "vendor"]``, ``[]`` checks them too.
``exclude``
    glob patterns of files and directories to skip while walking, matched
    against the path relative to the pyproject's directory and against the
    bare name (``"build"``, ``"tests/corpus/*"``).
``patch-exclude``
    module names whose functions keep functools' memoizers under
    ``boundcache.patch()`` / ``BOUNDCACHE_PATCH=1`` (docs/patch.md); not
    used by the checker.

The file used is the nearest ``pyproject.toml`` with a ``[tool.boundcache]``
table, from the paths checked upward (as ruff does), or ``--config FILE``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

from .._pyproject import ConfigError, _mini_table, read_table  # noqa: F401 - _mini_table: imports.py reads isort settings with it
from .finding import DEFAULT_MEMOIZERS

_QUALNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
KEYS = ("extend-decorators", "exclude", "vendor-dirs", "patch-exclude")
# A fix there would add a runtime dependency to code copied from elsewhere.
DEFAULT_VENDOR_DIRS = ("_vendor", "vendor")


@dataclass(frozen=True)
class Config:
    extend_decorators: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root: str = "."  # the directory exclude patterns are relative to
    source: str | None = None  # the pyproject.toml read, if any
    vendor_dirs: tuple[str, ...] = DEFAULT_VENDOR_DIRS
    patch_exclude: tuple[str, ...] = ()  # for boundcache.patch(), not the checker

    @property
    def memoizers(self) -> frozenset[str]:
        return DEFAULT_MEMOIZERS.union(self.extend_decorators)


def discover(paths: Sequence[str]) -> Config:
    """The configuration for a run over ``paths``."""
    absolute = [os.path.abspath(p) for p in paths] or [os.getcwd()]
    start = os.path.commonpath(absolute)
    if not os.path.isdir(start):
        start = os.path.dirname(start)
    directory = start
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            table = read_table(candidate, required=False)
            if table is not None:
                return _config(table, candidate)
        parent = os.path.dirname(directory)
        if parent == directory:
            return Config(root=start)
        directory = parent


def load(path: str) -> Config:
    """The configuration in ``path`` (``--config``); an empty one if no table."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such file")
    table = read_table(path, required=True)
    return _config(table or {}, path)


def _config(table: dict[str, Any], path: str) -> Config:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} in [tool.boundcache] "
            f"(known: {', '.join(KEYS)})"
        )
    decorators = _strings(table, "extend-decorators", path)
    for name in decorators:
        if not _QUALNAME.match(name):
            raise ConfigError(
                f"{path}: extend-decorators: {name!r} is not a qualified name "
                "such as 'cachetools.func.lru_cache'"
            )
    exclude = _strings(table, "exclude", path)
    vendor = _strings(table, "vendor-dirs", path) if "vendor-dirs" in table else list(DEFAULT_VENDOR_DIRS)
    return Config(tuple(decorators), tuple(exclude), os.path.dirname(os.path.abspath(path)), path,
                  tuple(vendor), tuple(_strings(table, "patch-exclude", path)))


def _strings(table: dict[str, Any], key: str, path: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings")
    return value
