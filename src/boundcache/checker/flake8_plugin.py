"""The flake8 plugin: the same BC001 findings, inside a flake8 run.

Registered as ``flake8.extension`` entry point ``BC``.  flake8 parses the file
and applies ``# noqa`` itself; we reuse its tree and its lines.  Extra
memoizers come from the same ``[tool.boundcache]`` table the command reads,
found from the checked file's directory.  ``exclude`` is the command's
business: under flake8, use flake8's own ``exclude``/``per-file-ignores``.

flake8 knows nothing of our synonym ``# noqa: B019`` (bugbear's code for the
same trap): the plugin drops those findings itself, unless ``--disable-noqa``.
"""

from __future__ import annotations

import ast
import functools
import os
from typing import Iterator

from .config import Config, discover
from . import noqa
from .finding import analyze, could_hold_finding

try:
    from importlib.metadata import PackageNotFoundError, version

    _VERSION = version("boundcache")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0"


@functools.lru_cache(maxsize=None)
def _config_for(directory: str) -> Config:
    # One lookup per directory per run; a ConfigError stops flake8 with its message.
    return discover([directory])


class Flake8Plugin:
    name = "boundcache"
    version = _VERSION
    disable_noqa = False

    @classmethod
    def parse_options(cls, options) -> None:
        cls.disable_noqa = bool(getattr(options, "disable_noqa", False))

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        real_file = self.filename not in ("stdin", "-", None) and os.path.exists(self.filename)
        directory = os.path.dirname(os.path.abspath(self.filename)) if real_file else os.getcwd()
        memoizers = _config_for(directory).memoizers
        source = "".join(self.lines)
        if not could_hold_finding(source, memoizers):
            return
        path = self.filename if real_file else ""
        findings = analyze(self.tree, self.lines, path, memoizers)
        if findings and not self.disable_noqa:
            silenced = {line for line, codes in noqa.noqa_lines(source).items()
                        if any(s.startswith(c) for c in codes for s in noqa.SYNONYMS["BC001"])}
            findings = [f for f in findings if f.line not in silenced]
        for finding in findings:
            # flake8 wants a 0-based column and adds 1 when printing.
            yield finding.line, finding.col - 1, finding.message, type(self)
