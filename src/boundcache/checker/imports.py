"""Where isort (and ruff's ``I`` rules) would put ``import boundcache``.

The fix adds one import; a project that sorts its imports with isort or
ruff must not get a new I001 for it.  The rules followed are the defaults
both tools share (the profile ``black`` changes none of them):

* sections, in order: ``__future__``, standard library, third party, first
  party, local (relative imports), one blank line between sections;
* inside a section, ``import x`` lines before ``from x import y`` lines
  (unless ``force-sort-within-sections``), each sorted by module name,
  case-insensitively;
* ``boundcache`` is third party unless the configuration says otherwise
  (``known-first-party``, ``known-local-folder``...), or a ``boundcache``
  package sits in one of the project's source roots (ruff's ``src``,
  isort's ``src_paths``; default the project directory and its ``src``).

The settings are read from the nearest ``pyproject.toml`` with a
``[tool.ruff]`` or ``[tool.isort]`` table, or ``ruff.toml``/``.ruff.toml``/
``.isort.cfg``, from the fixed file's directory upward.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL = range(5)
_SECTION_KEYS = (
    ("known-local-folder", LOCAL),
    ("known-first-party", FIRST_PARTY),
    ("known-third-party", THIRD_PARTY),
)
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # pragma: no cover - 3.10
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ImportStyle:
    known: tuple[tuple[str, int], ...] = ()  # (pattern, section), in precedence order
    src_roots: tuple[str, ...] = ()
    force_sort_within_sections: bool = False
    source: str | None = None  # the file the settings came from

    def section(self, module: str | None, level: int = 0) -> int:
        if level:
            return LOCAL
        module = module or ""
        top = module.partition(".")[0]
        if top == "__future__":
            return FUTURE
        for pattern, section in self.known:
            if module == pattern or module.startswith(pattern + ".") or fnmatch.fnmatchcase(module, pattern) \
                    or fnmatch.fnmatchcase(top, pattern):
                return section
        if top in _STDLIB:
            return STDLIB
        for root in self.src_roots:
            if os.path.isdir(os.path.join(root, top)) or os.path.isfile(os.path.join(root, top + ".py")):
                return FIRST_PARTY
        return THIRD_PARTY


DEFAULT_STYLE = ImportStyle()
_CACHE: dict[str, ImportStyle] = {}


def style_for(path: str) -> ImportStyle:
    """The import settings that apply to the file ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    found = _CACHE.get(directory)
    if found is None:
        found = _CACHE[directory] = _discover(directory)
    return found


def _discover(directory: str) -> ImportStyle:
    start = directory
    while True:
        for name in ("ruff.toml", ".ruff.toml"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                document = _read_toml(candidate)
                if document is not None:
                    lint = document.get("lint", {}) if isinstance(document.get("lint"), dict) else {}
                    table = lint.get("isort", document.get("isort", {}))
                    return _style(table, document.get("src"), directory, candidate)
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            document = _read_toml(candidate)
            if document is None:
                document = _read_tables(candidate)
            tool = document.get("tool", {}) if isinstance(document, dict) else {}
            if isinstance(tool.get("ruff"), dict):
                ruff = tool["ruff"]
                lint = ruff.get("lint", {}) if isinstance(ruff.get("lint"), dict) else {}
                table = lint.get("isort", ruff.get("isort", {}))
                return _style(table, ruff.get("src"), directory, candidate)
            if isinstance(tool.get("isort"), dict):
                table = tool["isort"]
                return _style(_isort_keys(table), table.get("src_paths"), directory, candidate)
        candidate = os.path.join(directory, ".isort.cfg")
        if os.path.isfile(candidate):
            parser = configparser.ConfigParser()
            try:
                parser.read(candidate, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError, OSError):
                return DEFAULT_STYLE
            if parser.has_section("settings"):
                table = {k: _cfg_list(v) if k != "force_sort_within_sections" else v.strip().lower() == "true"
                         for k, v in parser.items("settings")}
                return _style(_isort_keys(table), table.get("src_paths"), directory, candidate)
        parent = os.path.dirname(directory)
        if parent == directory:
            return ImportStyle(src_roots=_roots(None, _project_root(start)))
        directory = parent


def _project_root(start: str) -> str:
    """Without settings: the nearest directory that looks like a project's."""
    directory = start
    while True:
        if any(os.path.exists(os.path.join(directory, marker))
               for marker in ("pyproject.toml", "setup.py", "setup.cfg", ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return start
        directory = parent


def _read_tables(path: str) -> dict[str, Any] | None:
    """Python 3.10 without tomli: the few tables read here, through the small
    reader of config.py (lists of strings, booleans); None if unreadable."""
    from .config import ConfigError, _mini_table

    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError):
        return None
    tool: dict[str, Any] = {}
    try:
        if re.search(r"^\s*\[\s*tool\s*\.\s*ruff\b", text, re.MULTILINE):
            ruff: dict[str, Any] = {}
            for name, key in (("tool.ruff.lint.isort", "lint"), ("tool.ruff.isort", "isort")):
                table = _mini_table(text, path, name)
                if table is not None:
                    if key == "lint":
                        ruff["lint"] = {"isort": table}
                    else:
                        ruff["isort"] = table
            tool["ruff"] = ruff
        elif re.search(r"^\s*\[\s*tool\s*\.\s*isort\s*\]", text, re.MULTILINE):
            tool["isort"] = _mini_table(text, path, "tool.isort") or {}
    except ConfigError:
        return None
    return {"tool": tool}


def _read_toml(path: str) -> dict[str, Any] | None:
    if _toml is None:
        return None
    try:
        with open(path, "rb") as stream:
            return _toml.load(stream)
    except (OSError, ValueError):
        return None


def _cfg_list(value: str) -> list[str]:
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def _isort_keys(table: dict[str, Any]) -> dict[str, Any]:
    # isort spells its keys with underscores; ruff with dashes.
    return {key.replace("_", "-"): value for key, value in table.items()}


def _roots(src: Any, directory: str) -> tuple[str, ...]:
    entries = src if isinstance(src, list) and all(isinstance(s, str) for s in src) else [".", "src"]
    return tuple(os.path.normpath(os.path.join(directory, entry)) for entry in entries)


def _style(table: Any, src: Any, directory: str, path: str) -> ImportStyle:
    table = table if isinstance(table, dict) else {}
    known: list[tuple[str, int]] = []
    for key, section in _SECTION_KEYS:
        values = table.get(key, [])
        if isinstance(values, list):
            known.extend((value, section) for value in values if isinstance(value, str))
    return ImportStyle(
        known=tuple(known),
        src_roots=_roots(src, directory),
        force_sort_within_sections=table.get("force-sort-within-sections") is True,
        source=path,
    )
