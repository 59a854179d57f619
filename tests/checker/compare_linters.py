"""Compare ``boundcache check`` with ruff B019 and flake8-bugbear B019.

    python tests/checker/compare_linters.py [--exclude PATTERN ...] PATH...

Every finding of theirs must be one of ours, unless it is a deliberate skip;
each of their findings we do not report is printed with the reason we skip
it, and the script exits 1 if any has no reason.  Our findings are taken
before ``# noqa`` (B019 noqa comments are theirs to honour, BC001 ours).

Used by ``test_linter_comparison.py`` on the corpus, and by hand on the
standard library:

    python tests/checker/compare_linters.py --exclude site-packages \\
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import subprocess
import sys
import tokenize
from typing import Iterable

from boundcache.checker.config import Config
from boundcache.checker.files import iter_files
from boundcache.checker.finding import (
    DEFAULT_MEMOIZERS,
    _NOT_INSTANCE_DECORATORS,
    _NOT_INSTANCE_METHODS,
    _Finder,
    check_source,
    source_lines,
)
from boundcache.checker.names import Resolver, module_name_for

Site = tuple  # (absolute path, line)


def ours(files: Iterable[str]) -> set[Site]:
    found = set()
    for path in files:
        try:
            with open(path, "rb") as stream:
                data = stream.read()
            source = data.decode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
            continue
        found |= {(os.path.abspath(path), f.line) for f in check_source(source, path) if f.code == "BC001"}
    return found


def ruff(files: list[str]) -> set[Site]:
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "B019",
               "--output-format", "json", "--exit-zero", *files]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {(os.path.abspath(d["filename"]), d["location"]["row"])
            for d in json.loads(output) if d["code"] == "B019"}


def bugbear(files: list[str]) -> set[Site]:
    command = [sys.executable, "-m", "flake8", "--isolated", "--jobs", "1", "--select", "B019",
               "--exit-zero", "--format", "%(path)s\t%(row)d", *files]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {(os.path.abspath(path), int(row))
            for path, row in (line.rsplit("\t", 1) for line in output.splitlines())}


def skip_reason(path: str, line: int) -> str | None:
    """Why ``boundcache check`` does not report the decorator at ``line``."""
    with open(path, "rb") as stream:
        tree = ast.parse(stream.read())
    with open(path, "rb") as stream:
        lines = source_lines(stream.read().decode("utf-8", "replace"))
    resolver = Resolver(tree, module_name_for(path), path.endswith("__init__.py"), DEFAULT_MEMOIZERS)
    finder = _Finder(resolver, lines, path, DEFAULT_MEMOIZERS)
    for node, scope in resolver.scopes.items():
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            decorators = [d for d in stmt.decorator_list if d.lineno == line]
            if not decorators:
                continue
            if finder._is_enum(node, scope.parent, set()):
                return "Enum class"
            if stmt.name in _NOT_INSTANCE_METHODS:
                return f"{stmt.name} never receives an instance"
            for other in stmt.decorator_list:
                target = other.func if isinstance(other, ast.Call) else other
                if finder._qualname(target, scope) in _NOT_INSTANCE_DECORATORS:
                    return "static or class method"
            target = decorators[0].func if isinstance(decorators[0], ast.Call) else decorators[0]
            qualname = finder._qualname(target, scope)
            if qualname not in DEFAULT_MEMOIZERS:
                return f"not functools' memoizer (resolves to {qualname or 'an unknown value'})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args(argv)
    config = Config(exclude=tuple(args.exclude), root=os.path.commonpath([os.path.abspath(p) for p in args.paths]))
    files = list(iter_files(args.paths, config))
    mine, theirs_ruff, theirs_bugbear = ours(files), ruff(files), bugbear(files)
    lines = sum(open(f, "rb").read().count(b"\n") for f in files)
    print(f"{len(files)} files, {lines} lines")
    print(f"boundcache BC001: {len(mine)}   ruff B019: {len(theirs_ruff)}   bugbear B019: {len(theirs_bugbear)}")
    print(f"ours not theirs: {len(mine - theirs_ruff - theirs_bugbear)}")
    unexplained = 0
    for name, theirs in (("ruff", theirs_ruff), ("bugbear", theirs_bugbear)):
        missed = sorted(theirs - mine)
        print(f"{name} not ours: {len(missed)}")
        for path, line in missed:
            reason = skip_reason(path, line)
            unexplained += reason is None
            print(f"  {path}:{line}: {reason or 'UNEXPLAINED'}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
