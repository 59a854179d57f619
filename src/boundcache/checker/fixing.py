"""``--fix``: rewrite each finding to boundcache, touching nothing else.

Only two kinds of edit are made, both on exact character ranges of the
decoded source (no reformatting, no newline translation, no re-printing of
the AST):

1. the memoizer *reference* is replaced (``functools.lru_cache``, ``ft.cache``,
   ``lru_cache``, ``memo`` -> ``boundcache.lru_cache`` / ``boundcache.cache``);
   the call and its arguments after it stay as they were;
2. one line ``import boundcache`` is added, unless the module already imports
   it before the first fixed class: after the docstring, ``__future__``
   imports and the existing top-level import block, with the file's own
   line ending.

A reference with a comment inside (``(functools  # why\\n .cache)``) is left
alone rather than lose the comment; so is everything in a file that binds
the name ``boundcache`` to something else.  After a fix there is nothing left
to find, so a second run changes nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Sequence

from . import noqa
from .finding import Finding, source_lines

# The codes of the finding a fix resolves: a noqa naming them on a rewritten
# line would be left silencing nothing (ruff's RUF100 reports that).
_RESOLVED_CODES = frozenset({"BC001", *noqa.SYNONYMS["BC001"]})


@dataclass(frozen=True)
class FixResult:
    source: str
    fixed: tuple[Finding, ...]  # the findings this fix resolves
    skipped: tuple[Finding, ...]  # fixable in principle, left as they were


def fix_source(source: str, findings: Sequence[Finding], tree: ast.Module | None = None) -> FixResult:
    candidates = [f for f in findings if f.fixable and f.span is not None]
    if not candidates:
        return FixResult(source, (), ())
    if tree is None:
        tree = ast.parse(source)
    if _binds_boundcache_otherwise(tree):
        return FixResult(source, (), tuple(candidates))

    lines = source_lines(source)
    starts = _line_starts(lines)
    edits: list[tuple[int, int, str]] = []
    fixed: list[Finding] = []
    skipped: list[Finding] = []
    for finding in candidates:
        line, col, end_line, end_col = finding.span  # type: ignore[misc]
        start, end = starts[line - 1] + col, starts[end_line - 1] + end_col
        if any(edit[:2] == (start, end) for edit in edits):
            fixed.append(finding)  # two uses of one alias: one edit
            continue
        if "#" in source[start:end]:
            skipped.append(finding)  # a comment inside the reference: keep it
            continue
        edits.append((start, end, finding.replacement))  # type: ignore[arg-type]
        fixed.append(finding)
    if not edits:
        return FixResult(source, (), tuple(skipped))

    edits.extend(_stale_noqa_edits(source, starts, {f.span for f in fixed}))

    first_line = min(f.span[0] for f in fixed)  # type: ignore[index]
    insertion = _import_insertion(tree, lines, starts, first_line)
    if insertion is not None:
        edits.append(insertion)

    new = source
    for start, end, text in sorted(edits, reverse=True):
        new = new[:start] + text + new[end:]
    return FixResult(new, tuple(fixed), tuple(skipped))


def _stale_noqa_edits(source: str, starts: list[int], spans) -> list[tuple[int, int, str]]:
    if "noqa" not in source.lower():
        return []
    lines = {line for span in spans for line in range(span[0], span[2] + 1)}
    edits = []
    for line, col, end_col, text in noqa.comments(source, lines):
        new = noqa.without_codes(text, _RESOLVED_CODES)
        if new is None:
            continue
        start, end = starts[line - 1] + col, starts[line - 1] + end_col
        if not new:
            # The whole comment goes, with the blanks before it.
            while start > starts[line - 1] and source[start - 1] in " \t":
                start -= 1
        edits.append((start, end, new))
    return edits


def _line_starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts  # one more than lines: the offset of the end of the file


def _binds_boundcache_otherwise(tree: ast.Module) -> bool:
    # `boundcache = ...`, `def boundcache`, `import x as boundcache`: our
    # `boundcache.lru_cache` would then mean something else.
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id == "boundcache" and not isinstance(node.ctx, ast.Load):
                return True
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "boundcache":
                return True
        elif isinstance(node, ast.arg):
            if node.arg == "boundcache":
                return True
        elif isinstance(node, ast.ExceptHandler):
            if node.name == "boundcache":
                return True
        elif isinstance(node, ast.Import):
            if any(a.asname == "boundcache" and a.name != "boundcache" for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if any((a.asname or a.name) == "boundcache" for a in node.names):
                return True
    return False


def _start_line(stmt: ast.stmt) -> int:
    # A decorated def/class starts at its first decorator, not at `def`.
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _imports_boundcache(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Import) and any(
        alias.asname is None and alias.name.split(".", 1)[0] == "boundcache" for alias in stmt.names
    )


def _import_insertion(
    tree: ast.Module, lines: list[str], starts: list[int], first_fixed_line: int
) -> tuple[int, int, str] | None:
    body = tree.body
    # The top-level statement holding the first fix: `boundcache` must be
    # imported before it runs.
    limit = next(
        (s for s in body if _start_line(s) <= first_fixed_line <= (s.end_lineno or s.lineno)),
        body[-1],
    )
    before = body[: body.index(limit)]
    if any(_imports_boundcache(s) for s in before):
        return None

    index = 0
    header_end = 0  # last line of the docstring and __future__ imports
    if before and _is_docstring(before[0]):
        header_end = before[0].end_lineno or before[0].lineno
        index = 1
    while index < len(before) and isinstance(before[index], ast.ImportFrom) \
            and before[index].module == "__future__":
        header_end = before[index].end_lineno or before[index].lineno
        index += 1
    # The existing import block: the first run of top-level imports.
    block_start = next(
        (i for i in range(index, len(before)) if isinstance(before[i], (ast.Import, ast.ImportFrom))), None
    )
    after_line = header_end
    if block_start is not None:
        block_end = block_start
        while block_end + 1 < len(before) and isinstance(before[block_end + 1], (ast.Import, ast.ImportFrom)):
            block_end += 1
        after_line = before[block_end].end_lineno or before[block_end].lineno

    newline = _newline(lines)
    if after_line == 0:
        # Nothing to follow: go right before the first statement, below any
        # shebang, encoding cookie or header comments.
        offset = starts[_start_line(body[0]) - 1]
        return (offset, offset, "import boundcache" + newline)
    offset = starts[after_line]
    previous = lines[after_line - 1]
    prefix = "" if previous.endswith(("\n", "\r")) else newline
    return (offset, offset, prefix + "import boundcache" + newline)


def _newline(lines: list[str]) -> str:
    for line in lines:
        for ending in ("\r\n", "\n", "\r"):
            if line.endswith(ending):
                return ending
    return "\n"
