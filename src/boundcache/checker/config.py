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

The file used is the nearest ``pyproject.toml`` with a ``[tool.boundcache]``
table, from the paths checked upward (as ruff does), or ``--config FILE``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

from .finding import DEFAULT_MEMOIZERS

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # pragma: no cover - 3.10
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]

_QUALNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
KEYS = ("extend-decorators", "exclude", "vendor-dirs")
# A fix there would add a runtime dependency to code copied from elsewhere.
DEFAULT_VENDOR_DIRS = ("_vendor", "vendor")


class ConfigError(Exception):
    """A configuration the user must fix; the CLI exits 2 with this message."""


@dataclass(frozen=True)
class Config:
    extend_decorators: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root: str = "."  # the directory exclude patterns are relative to
    source: str | None = None  # the pyproject.toml read, if any
    vendor_dirs: tuple[str, ...] = DEFAULT_VENDOR_DIRS

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
            table = _table(candidate, required=False)
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
    table = _table(path, required=True)
    return _config(table or {}, path)


def _table(path: str, required: bool) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    if not required and "boundcache" not in text:
        return None  # not ours: do not even parse someone else's file
    if _toml is not None:
        try:
            document = _toml.loads(text)
        except _toml.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        table = document.get("tool", {}).get("boundcache")
    else:
        table = _mini_table(text, path)
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.boundcache] must be a table")
    return table


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
                  tuple(vendor))


def _strings(table: dict[str, Any], key: str, path: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings")
    return value


# -- a reader for [tool.boundcache] alone, for Python 3.10 without tomli ------
#
# No new runtime dependency is allowed, and the stdlib gained a TOML parser only
# in 3.11.  Our table holds lists of strings, so reading that much TOML is
# small: headers, `key = value` with strings, arrays (over several lines),
# booleans, integers and comments.  Anything else inside our table is an error.

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<basic>"(?:[^"\\\n]|\\.)*")
      | (?P<literal>'[^'\n]*')
      | (?P<punct>[\[\],=])
      | (?P<bare>[A-Za-z0-9_+.-]+)
      | (?P<comment>\#[^\n]*)
      | (?P<newline>\n)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _mini_table(text: str, path: str, name: str = "tool.boundcache") -> dict[str, Any] | None:
    header_pattern = r"\[\s*" + r"\s*\.\s*".join(map(re.escape, name.split("."))) + r"\s*\]"
    lines = text.splitlines()
    table: dict[str, Any] | None = None
    inside = False
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            header = line.split("#", 1)[0].strip()
            inside = re.fullmatch(header_pattern, header) is not None
            if inside:
                if table is not None:
                    raise ConfigError(f"{path}: invalid TOML: [{name}] defined twice")
                table = {}
            continue
        if not inside:
            continue
        statement = line
        while statement.count("[") > statement.count("]") and index < len(lines):
            statement += "\n" + lines[index]  # an array over several lines
            index += 1
        key, value = _parse_statement(statement, path)
        if key in table:  # type: ignore[operator]
            raise ConfigError(f"{path}: invalid TOML: duplicate key {key!r}")
        table[key] = value  # type: ignore[index]
    return table


def _parse_statement(statement: str, path: str) -> tuple[str, Any]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(statement.rstrip()):
        match = _TOKEN.match(statement, position)
        if match is None:
            raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
        position = match.end()
        kind = match.lastgroup
        if kind not in ("comment", "newline"):
            tokens.append((kind, match.group(kind)))  # type: ignore[arg-type]
    if len(tokens) < 3 or tokens[1] != ("punct", "="):
        raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
    key_kind, key = tokens[0]
    key = _string(key_kind, key) if key_kind != "bare" else key
    value, rest = _value(tokens[2:], statement, path)
    if rest:
        raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
    return key, value


def _value(tokens: list[tuple[str, str]], statement: str, path: str) -> tuple[Any, list]:
    if not tokens:
        raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
    kind, text = tokens[0]
    if kind in ("basic", "literal"):
        return _string(kind, text), tokens[1:]
    if kind == "bare":
        if text in ("true", "false"):
            return text == "true", tokens[1:]
        if re.fullmatch(r"[+-]?[0-9]+", text):
            return int(text), tokens[1:]
    if (kind, text) == ("punct", "["):
        items: list[Any] = []
        rest = tokens[1:]
        while rest and rest[0] != ("punct", "]"):
            item, rest = _value(rest, statement, path)
            items.append(item)
            if rest and rest[0] == ("punct", ","):
                rest = rest[1:]
            elif not rest or rest[0] != ("punct", "]"):
                raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
        if not rest:
            raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")
        return items, rest[1:]
    raise ConfigError(f"{path}: invalid TOML in [tool.boundcache]: {statement!r}")


def _string(kind: str, text: str) -> str:
    body = text[1:-1]
    if kind == "literal":
        return body
    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) > 1
                  else _ESCAPES.get(m.group(1), m.group(0)), body)
