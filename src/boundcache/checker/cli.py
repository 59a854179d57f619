"""``boundcache check``: the command line.

Exit status, as flake8 and ruff: 0 nothing found, 1 something found (a file
that does not parse counts), 2 a usage error (bad option, missing path, bad
configuration).  Usage errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import sys
import tokenize
from dataclasses import asdict, dataclass, field
from typing import Sequence

from . import noqa, syntax
from .config import Config, ConfigError, discover, load
from .files import iter_files
from .finding import SYNTAX_CODE, Finding, check_source, could_hold_finding
from .fixing import fix_source
from .imports import style_for
from .output import json_report, text_line, unified_diff

PROG = "boundcache check"
# From this many files to parse on, they are parsed by a pool of processes (one per core).
PARALLEL_MIN_FILES = 16
PARALLEL_MAX_WORKERS = 8


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Find functools.lru_cache/cache on methods (the cache keeps every "
        "instance alive) and rewrite them to boundcache.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    parser.add_argument("--fix", action="store_true", help="rewrite the findings in place")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--config", metavar="FILE", help="pyproject.toml to read [tool.boundcache] from")
    return parser


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)  # what is left to report
    old: str | None = None
    new: str | None = None  # the fixed text, when a fix changes something
    encoding: str = "utf-8"
    fixed: list[Finding] = field(default_factory=list)
    unparsed: bool = False  # the findings are one BC900: the file did not parse


def result_to_json(result: FileResult) -> dict:
    return {
        "findings": [asdict(f) for f in result.findings],
        "fixed": [asdict(f) for f in result.fixed],
        "old": result.old, "new": result.new, "encoding": result.encoding, "unparsed": result.unparsed,
    }


def result_from_json(data: dict | None) -> FileResult | None:
    if not isinstance(data, dict):
        return None

    def finding(item: dict) -> Finding:
        span = item.get("span")
        return Finding(**{**item, "span": tuple(span) if span else None})

    return FileResult([finding(f) for f in data["findings"]], data["old"], data["new"], data["encoding"],
                      [finding(f) for f in data["fixed"]], data["unparsed"])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(args_list)
    except _UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)

    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"{PROG}: error: no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    try:
        config = load(args.config) if args.config else discover(paths)
    except ConfigError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2

    fixing = args.fix or args.diff
    paths_checked = list(iter_files(paths, config))
    results = _check_all(paths_checked, config, fixing)
    reported: list[Finding] = []
    found = fixed = changed_files = unparsed = 0
    for path in paths_checked:
        result = results[path]
        unparsed += result.unparsed
        found += sum(1 for f in result.findings if f.code != SYNTAX_CODE) + len(result.fixed)
        if result.new is not None:
            if args.diff:
                sys.stdout.write(unified_diff(path, result.old or "", result.new))
            else:
                try:
                    _write(path, result)
                except OSError as error:
                    print(f"{PROG}: cannot write {path}: {error.strerror or error}", file=sys.stderr)
                    result.findings = sorted(result.findings + result.fixed, key=lambda f: (f.line, f.col))
                    result.fixed = []
            if result.fixed:
                changed_files += 1
        fixed += len(result.fixed)
        reported += result.findings

    if args.diff:
        # stdout holds the diff alone; the rest is said on stderr.
        for finding in reported:
            print(text_line(finding) + " (no automatic fix)", file=sys.stderr)
    elif args.format == "json":
        print(json_report(reported))
    else:
        for finding in reported:
            print(text_line(finding))
    if fixing:
        verb = "would be fixed" if args.diff else "fixed"
        # A file that does not parse is no finding: said apart.
        tail = f" {unparsed} file{'s' if unparsed != 1 else ''} could not be parsed." if unparsed else ""
        print(f"{fixed} of {found} findings {verb} in {changed_files} files.{tail}", file=sys.stderr)
        return 1 if reported or (args.diff and fixed) else 0
    return 1 if reported else 0


def _check_all(paths: list[str], config: Config, fix: bool) -> dict[str, FileResult]:
    # Most files cannot hold a finding, which a text test tells at a fraction
    # of the cost of parsing them: only the others are parsed, in a pool of
    # processes when there are enough of them.
    results: dict[str, FileResult] = {}
    tasks = []
    for path in paths:
        read = read_source(path)
        if isinstance(read, FileResult):
            results[path] = read
        elif could_hold_finding(read[0], config.memoizers):
            tasks.append((path, *read, config, fix))
        else:
            results[path] = FileResult()
    if len(tasks) < PARALLEL_MIN_FILES:
        results.update((task[0], _check_one(task)) for task in tasks)
    else:
        results.update(_check_parallel(tasks))
    # What this Python cannot parse, a newer one may: one child process for all.
    pending = [p for p, r in results.items() if r.unparsed]
    if pending:
        for _, python in syntax.newer_pythons():
            answer = syntax.check_elsewhere(python, pending, config.extend_decorators, fix)
            if answer is None:
                continue
            for path in pending:
                other = result_from_json(answer["results"].get(path))
                if other is not None:
                    results[path] = other  # parsed, or its BC900 from the newest Python
            break
    return results


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_one(task: tuple[str, str, str, Config, bool]) -> FileResult:
    path, source, encoding, config, fix = task
    return check_text(path, source, encoding, config, fix=fix)


def _check_parallel(tasks: list[tuple]) -> list[tuple[str, FileResult]]:
    """One process per core, the largest files first."""
    workers = min(_workers(), PARALLEL_MAX_WORKERS)
    if workers < 2:
        return [(task[0], _check_one(task)) for task in tasks]
    import multiprocessing
    import threading

    # fork starts in milliseconds; with other threads running it is unsafe, so spawn.
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    tasks = sorted(tasks, key=lambda task: -len(task[1]))  # parsing time follows size
    try:
        with context.Pool(workers) as pool:
            checked = pool.map(_check_one, tasks, chunksize=1)
    except (OSError, ImportError):  # no processes here (sandbox, no /dev/shm): one at a time
        checked = [_check_one(task) for task in tasks]
    return [(task[0], result) for task, result in zip(tasks, checked)]


def read_source(path: str) -> tuple[str, str] | FileResult:
    """(text, encoding) of a file, or its BC900 when it cannot be read or decoded."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as error:
        message = getattr(error, "strerror", None) or str(error)
        return FileResult([Finding(path, 1, 1, SYNTAX_CODE, f"{SYNTAX_CODE} cannot read: {message}")])


def check_file(path: str, config: Config, fix: bool = False) -> FileResult:
    read = read_source(path)
    return read if isinstance(read, FileResult) else check_text(path, *read, config, fix=fix)


def check_text(path: str, source: str, encoding: str, config: Config, fix: bool = False) -> FileResult:
    findings = check_source(source, path, config.memoizers)
    if findings and findings[0].code == SYNTAX_CODE:
        return FileResult(findings, unparsed=True)
    findings = noqa.apply(findings, source)
    result = FileResult(findings, old=source, encoding=encoding)
    if fix and any(f.fixable for f in findings):
        outcome = fix_source(source, findings, style=style_for(path))
        if outcome.fixed:
            try:
                syntax.parse(outcome.source)
            except (SyntaxError, ValueError):  # a bug of ours: never write a broken file
                print(f"{PROG}: internal error: the fix of {path} does not parse; "
                      "file left unchanged", file=sys.stderr)
                return result
            fixed_ids = {id(f) for f in outcome.fixed}
            result.findings = [f for f in findings if id(f) not in fixed_ids]
            result.fixed = list(outcome.fixed)
            result.new = outcome.source
    return result


def _write(path: str, result: FileResult) -> None:
    # Same encoding (a BOM is kept by utf-8-sig), and no newline translation:
    # the text was decoded from bytes, so its line endings are the file's own.
    with open(path, "wb") as stream:
        stream.write((result.new or "").encode(result.encoding))
