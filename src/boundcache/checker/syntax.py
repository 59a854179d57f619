"""Code written for a newer Python than the one running the checker.

Three steps, cheapest first:

1. ``parse``: ``ast.parse``; if that fails, the same text with the newer
   constructs *masked* in place, every other character where it was (so
   lines, columns and the fix's character ranges stay exact):
   PEP 695 type parameters (``def f[T](...)``, ``class C[T]:``) become
   blanks, a ``type X = ...`` statement becomes ``X = ...``, and the prefix
   of a 3.14 t-string (``t"..."``) becomes an f-string's.  The masked text is
   only used if it parses.
2. The files that still do not parse (3.12 f-strings with nested quotes, for
   example) are checked again, all in one child process, by the newest
   Python newer than this one found on ``PATH`` (``python3.N``) or under
   pyenv (``$PYENV_ROOT/versions/*/bin/python``), or named by
   ``$BOUNDCACHE_CHECK_PYTHON``.  The checker is pure Python and stdlib, so
   that interpreter needs nothing installed.
3. If none can parse the file, BC900 says which Python it needs, when the
   text shows a construct of a known version.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import warnings

# Prefixes of t-strings: t, T, and with r in either order.
_TSTRING = re.compile(r"(?<![\w])(?:[rR][tT]|[tT][rR]?)(?=['\"])")
_TYPE_PARAMS = re.compile(r"^[ \t]*(?:(?:async[ \t]+)?def|class|type)[ \t]+\w+[ \t]*\[", re.MULTILINE)
_TYPE_STATEMENT = re.compile(r"^([ \t]*)type([ \t]+)(\w+)(?=[ \t]*=)", re.MULTILINE)
_EXCEPT_STAR = re.compile(r"^[ \t]*except[ \t]*\*", re.MULTILINE)
_EXCEPT_BARE_TUPLE = re.compile(r"^[ \t]*except\*?[ \t]+[\w.]+[ \t]*,[^:]*:", re.MULTILINE)  # PEP 758
# Python 2's `except E, name:` binds the exception to a name; PEP 758's
# `except A, B:` lists classes.  A lower-case bare name last tells them apart
# (exception classes are CapWords; `except socket.error, e:` is Python 2).
_EXCEPT_PY2_BINDING = re.compile(r"^[ \t]*except[ \t]+[\w.]+[ \t]*,[ \t]*[a-z_]\w*[ \t]*:", re.MULTILINE)
# What CPython says of Python 2's print and exec statements.
_PY2_MESSAGES = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'")


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, falling back on the masked text; raises the original
    SyntaxError (or ValueError) if neither parses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source, filename=filename)
        except SyntaxError as error:
            masked = mask(source)
            if masked == source:
                raise
            try:
                return ast.parse(masked, filename=filename)
            except (SyntaxError, ValueError):
                raise error from None


def mask(source: str) -> str:
    text = source
    if "t'" in text or 't"' in text or "T'" in text or 'T"' in text:
        text = _TSTRING.sub(lambda m: m.group(0).replace("t", "f").replace("T", "F"), text)
    if "[" in text:
        text = _mask_type_params(text)
    if "type" in text:
        text = _TYPE_STATEMENT.sub(
            lambda m: m.group(1) + m.group(3) + " " * (len("type") + len(m.group(2))), text)
    return text


def _mask_type_params(text: str) -> str:
    chars = None
    for match in _TYPE_PARAMS.finditer(text):
        start = match.end() - 1  # the "["
        depth, index = 0, start
        while index < len(text):
            c = text[index]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        else:
            continue
        if chars is None:
            chars = list(text)
        for i in range(start, index + 1):
            if chars[i] not in "\r\n":
                chars[i] = " "
            elif i > start and chars[i - 1] not in "\r\n":
                # A list over several lines (black's style): a backslash at
                # each line end keeps `def f` and its `(` one logical line.
                chars[i - 1] = "\\"
    return text if chars is None else "".join(chars)


def looks_like_python2(source: str, error: BaseException | None = None) -> bool:
    message = str(getattr(error, "msg", "") or "")
    return message.startswith(_PY2_MESSAGES) or bool(_EXCEPT_PY2_BINDING.search(source))


def needed_version(source: str, error: BaseException | None = None) -> str | None:
    """The Python version whose syntax the file seems to use, if it is newer
    than the running one (None for what looks like Python 2 code)."""
    if looks_like_python2(source, error):
        return None
    message = str(getattr(error, "msg", "") or "")
    guesses = []
    if _TSTRING.search(source) or _EXCEPT_BARE_TUPLE.search(source):
        guesses.append("3.14")
    if _TYPE_PARAMS.search(source) or _TYPE_STATEMENT.search(source) or "f-string" in message:
        guesses.append("3.12")
    if _EXCEPT_STAR.search(source):
        guesses.append("3.11")
    running = sys.version_info[:2]
    for guess in guesses:
        if tuple(map(int, guess.split("."))) > running:
            return guess
    return None


# -- a newer interpreter ------------------------------------------------------

_VERSION_DIR = re.compile(r"(\d+)\.(\d+)\.\d+$")


def newer_pythons() -> list[tuple[tuple[int, int], str]]:
    """Interpreters newer than this one, newest first."""
    running = sys.version_info[:2]
    found: dict[tuple[int, int], str] = {}
    explicit = os.environ.get("BOUNDCACHE_CHECK_PYTHON")
    if explicit:
        return [((99, 0), explicit)]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.basename(directory) == "shims":
            continue  # pyenv's shims answer only for the selected versions: read versions/ below
        for minor in range(running[1] + 1, 40):
            candidate = os.path.join(directory, f"python3.{minor}")
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                found.setdefault((3, minor), candidate)
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    versions = os.path.join(root, "versions")
    try:
        names = os.listdir(versions)
    except OSError:
        names = []
    for name in names:
        match = _VERSION_DIR.match(name)
        if match is None:
            continue
        version = (int(match.group(1)), int(match.group(2)))
        candidate = os.path.join(versions, name, "bin", "python")
        if version > running and os.access(candidate, os.X_OK):
            found.setdefault(version, candidate)
    return sorted(found.items(), reverse=True)


_CHILD = """
import json, os, sys, types
root = sys.argv[1]
package = types.ModuleType("boundcache")
package.__path__ = [os.path.join(root, "boundcache")]
sys.modules["boundcache"] = package  # the checker alone: no C++ core needed
from boundcache.checker import cli, config
request = json.load(sys.stdin)
conf = config.Config(extend_decorators=tuple(request["extend"]))
out = {"version": "%d.%d" % sys.version_info[:2], "results": {}}
for path in request["paths"]:
    out["results"][path] = cli.result_to_json(cli.check_file(path, conf, fix=request["fix"]))
json.dump(out, sys.stdout)
"""


def check_elsewhere(python: str, paths: list[str], extend: tuple[str, ...], fix: bool) -> dict | None:
    """Run ``check_file`` on ``paths`` under ``python``; None if it could not run."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    request = json.dumps({"paths": paths, "extend": list(extend), "fix": fix})
    try:
        done = subprocess.run([python, "-I", "-c", _CHILD, root], input=request, capture_output=True,
                              text=True, encoding="utf-8", timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None
