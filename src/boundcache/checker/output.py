"""Reporting: flake8/ruff-style text lines, JSON, unified diffs."""

from __future__ import annotations

import difflib
import json
from typing import Iterable

from .finding import Finding, source_lines


def text_line(finding: Finding) -> str:
    # `path:line:col: CODE message`: what editors and CI annotators parse.
    return f"{finding.path}:{finding.line}:{finding.col}: {finding.message}"


def json_report(findings: Iterable[Finding]) -> str:
    return json.dumps(
        [
            {
                "path": f.path,
                "line": f.line,
                "col": f.col,
                "code": f.code,
                "message": f.message.removeprefix(f"{f.code} "),
                "fixable": f.fixable,
            }
            for f in findings
        ],
        indent=2,
    )


def unified_diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        source_lines(old), source_lines(new), fromfile=path, tofile=path
    )
    out = []
    for line in lines:
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"  # as GNU diff says it
        out.append(line)
    return "".join(out)
