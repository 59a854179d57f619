"""``# noqa`` and ``# noqa: BC001`` comments, with flake8's semantics.

Comments are read with ``tokenize`` (a ``#`` inside a string is not a
comment), and a noqa comment covers every physical line of its logical line,
as in flake8: a decorator split over several lines is silenced by a comment
on any of them.  Codes match by prefix (``# noqa: BC`` silences BC001).
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Iterable

# flake8's own pattern (flake8/defaults.py), so both tools agree on a comment.
_NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]*", re.IGNORECASE)

ALL = frozenset({"*"})  # a bare `# noqa`

# Other tools' codes for the same finding: ruff's and flake8-bugbear's B019
# silences BC001 too (projects that know the trap already wrote it).
SYNONYMS = {"BC001": ("B019",)}


def noqa_lines(source: str) -> dict[int, frozenset[str]]:
    """Map line number to the codes silenced there (``ALL`` for a bare noqa)."""
    if "noqa" not in source.lower():
        return {}  # tokenizing is the slow part: skip it when it cannot matter
    result: dict[int, frozenset[str]] = {}
    logical_start: int | None = None
    pending: list[tuple[int, frozenset[str]]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source, newline="").readline):
            kind = token.type
            if kind == tokenize.COMMENT:
                codes = _parse(token.string)
                if codes is not None:
                    pending.append((token.start[0], codes))
            elif kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
                if kind == tokenize.NL and logical_start is not None:
                    continue  # a line break inside brackets: same logical line
                first = logical_start if logical_start is not None else token.start[0]
                for _, codes in pending:
                    for line in range(first, token.end[0] + 1):
                        result[line] = _merge(result.get(line), codes)
                pending.clear()
                logical_start = None
            elif kind not in (tokenize.INDENT, tokenize.DEDENT) and logical_start is None:
                logical_start = token.start[0]
    except (tokenize.TokenError, SyntaxError):
        pass  # the file parsed, so this is a tokenize quirk: keep what we have
    for line, codes in pending:
        result[line] = _merge(result.get(line), codes)
    return result


def _parse(comment: str) -> frozenset[str] | None:
    match = _NOQA.search(comment)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return ALL
    return frozenset(code.upper() for code in _CODE.findall(codes))


def _may_silence(match: re.Match, codes: set[str]) -> bool:
    # Read from the raw text: a match inside a string only costs the tokenizing.
    found = match.group("codes")
    silenced = frozenset(c.upper() for c in _CODE.findall(found)) if found else ALL
    return any(is_silenced(code, 1, {1: silenced}) for code in codes)


def _merge(old: frozenset[str] | None, new: frozenset[str]) -> frozenset[str]:
    return new if old is None else old | new


def is_silenced(code: str, line: int, noqa: dict[int, frozenset[str]]) -> bool:
    codes = noqa.get(line)
    if not codes:
        return False
    if codes is ALL or "*" in codes:
        return True
    names = (code, *SYNONYMS.get(code, ()))
    return any(name.startswith(c) for c in codes for name in names)


def comments(source: str, lines: set[int]) -> list[tuple[int, int, int, str]]:
    """The comments on ``lines``: (line, start col, end col, text), columns in characters."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source, newline="").readline):
            if token.type == tokenize.COMMENT and token.start[0] in lines:
                found.append((token.start[0], token.start[1], token.end[1], token.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def without_codes(comment: str, drop: frozenset[str]) -> str | None:
    """``comment`` with the codes in ``drop`` taken out of its noqa, or None
    if it names none of them.  An emptied noqa goes with its codes."""
    match = _NOQA.search(comment)
    if match is None or not match.group("codes"):
        return None
    codes = _CODE.findall(match.group("codes"))
    kept = [c for c in codes if c.upper() not in drop]
    if len(kept) == len(codes):
        return None
    # What followed the codes (`  # why`), without the separator we consumed.
    rest = comment[match.end():]
    if kept:
        return comment[:match.start()] + "# noqa: " + ", ".join(kept) + ("  " + rest.lstrip() if rest.strip() else "")
    head = comment[:match.start()].rstrip()
    tail = rest.strip()
    if tail and not tail.startswith("#"):
        tail = "# " + tail  # what followed the codes stays a comment
    if head in ("", "#"):
        return tail
    return head + ("  " + tail if tail else "")


def apply(findings: Iterable, source: str) -> list:
    """The findings that no noqa comment silences."""
    findings = list(findings)
    if not findings:
        return findings
    codes = {f.code for f in findings}
    if not any(_may_silence(match, codes) for match in _NOQA.finditer(source)):
        return findings  # no comment names them (`# noqa: E501` elsewhere): no tokenizing
    noqa = noqa_lines(source)
    return [f for f in findings if not is_silenced(f.code, f.line, noqa)]
