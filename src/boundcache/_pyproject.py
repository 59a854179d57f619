"""``[tool.boundcache]`` of a ``pyproject.toml``, read as a dict.

Shared by the checker (its keys) and ``boundcache.patch()`` (``patch-exclude``).
Imports nothing but ``os`` and ``re`` (and a TOML parser when one is asked
for), so that the patch can read it before the switch at interpreter start.
"""

from __future__ import annotations

import re

# The TOML parser, imported on first use (it imports typing, whose caches
# the patch must still see coming); None where there is none (3.10 without tomli).
_UNSET = object()
_toml: object = _UNSET


def _parser():
    global _toml
    if _toml is _UNSET:
        try:  # Python 3.11+
            import tomllib as _toml
        except ImportError:  # pragma: no cover - 3.10
            try:
                import tomli as _toml  # type: ignore[no-redef]
            except ImportError:
                _toml = None
    return _toml


class ConfigError(Exception):
    """A configuration the user must fix; the CLI exits 2 with this message."""


def read_table(path: str, required: bool, small: bool = False) -> dict | None:
    """The ``[tool.boundcache]`` table of ``path``; None if it has none.
    ``small``: with the reader below, whatever parser is installed (it
    imports only ``re``). ``required=False`` skips files that never mention
    boundcache without parsing them."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    if not required and "boundcache" not in text:
        return None  # not ours: do not even parse someone else's file
    toml = None if small else _parser()
    if toml is not None:
        try:
            document = toml.loads(text)
        except toml.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        table = document.get("tool", {}).get("boundcache")
    else:
        table = _mini_table(text, path)
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.boundcache] must be a table")
    return table


# -- a reader for [tool.boundcache] alone, for Python 3.10 without tomli ------
#
# No new runtime dependency is allowed, and the stdlib gained a TOML parser only
# in 3.11.  Our table holds lists of strings, so reading that much TOML is
# small: headers, `key = value` with strings, arrays (over several lines),
# booleans, integers and comments.  objectthing else inside our table is an error.

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


def _mini_table(text: str, path: str, name: str = "tool.boundcache") -> dict[str, object] | None:
    header_pattern = r"\[\s*" + r"\s*\.\s*".join(map(re.escape, name.split("."))) + r"\s*\]"
    lines = text.splitlines()
    table: dict[str, object] | None = None
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


def _parse_statement(statement: str, path: str) -> tuple[str, object]:
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


def _value(tokens: list[tuple[str, str]], statement: str, path: str) -> tuple[object, list]:
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
        items: list[object] = []
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
