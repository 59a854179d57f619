"""``--fix``: rewrite each finding to boundcache, touching nothing else.

The edits are made on exact character ranges of the decoded source (no
reformatting, no newline translation, no re-printing of the AST), in three
passes, each on the text the previous one left:

1. the memoizer *reference* is replaced (``functools.lru_cache``, ``ft.cache``,
   ``lru_cache``, ``memo`` -> ``boundcache.lru_cache`` / ``boundcache.cache``);
   the call and its arguments after it stay as they were; a noqa naming
   BC001 or B019 on a rewritten line loses those codes;
2. the top-level functools imports that the rewrite left unused go (the
   names used before and not after, nothing else);
3. ``import boundcache`` is added where isort would put it (``imports.py``),
   unless the module already imports it before its first use, with the
   file's own line ending.

A reference with a comment inside (``(functools  # why\\n .cache)``) is left
alone rather than lose the comment; so is everything in a file that binds
the name ``boundcache`` to something else.  After a fix there is nothing left
to find, so a second run changes nothing.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from . import noqa
from .finding import Finding, source_lines
from .imports import DEFAULT_STYLE, ImportStyle
from .syntax import parse

# The codes of the finding a fix resolves: a noqa naming them on a rewritten
# line would be left silencing nothing (ruff's RUF100 reports that).
_RESOLVED_CODES = frozenset({"BC001", *noqa.SYNONYMS["BC001"]})


@dataclass(frozen=True)
class FixResult:
    source: str
    fixed: tuple[Finding, ...]  # the findings this fix resolves
    skipped: tuple[Finding, ...]  # fixable in principle, left as they were


def fix_source(
    source: str,
    findings: Sequence[Finding],
    tree: ast.Module | None = None,
    style: ImportStyle = DEFAULT_STYLE,
) -> FixResult:
    candidates = [f for f in findings if f.fixable and f.span is not None]
    if not candidates:
        return FixResult(source, (), ())
    if tree is None:
        tree = parse(source)
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
    new = _apply(source, edits)

    # Pass 2: the functools names the rewrite left unused go (F401), and only those.
    new_tree = parse(new)
    removals = _unused_functools_edits(tree, new_tree, new)
    if removals:
        new = _apply(new, removals)
        new_tree = parse(new)

    # Pass 3: `import boundcache` where isort would put it.
    insertion = _import_insertion(new_tree, new, style)
    if insertion is not None:
        new = _apply(new, [insertion])
    return FixResult(new, tuple(fixed), tuple(skipped))


def _apply(source: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


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


def _uses_boundcache(stmt: ast.stmt) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "boundcache" for n in ast.walk(stmt))


def _is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Import, ast.ImportFrom))


def _module_of(stmt: ast.stmt) -> tuple[str, int]:
    if isinstance(stmt, ast.Import):
        return stmt.names[0].name, 0
    return stmt.module or "", stmt.level  # type: ignore[attr-defined]


def _import_insertion(tree: ast.Module, source: str, style: ImportStyle) -> tuple[int, int, str] | None:
    body = tree.body
    lines = source_lines(source)
    starts = _line_starts(lines)
    newline = _newline(lines)
    # The top-level statement that first uses boundcache: the import must run before it.
    limit = next((i for i, s in enumerate(body) if _uses_boundcache(s)), len(body) - 1)
    before = body[:limit]
    if any(_imports_boundcache(s) for s in before):
        return None

    index = 1 if before and _is_docstring(before[0]) else 0
    block_start = next((i for i in range(index, len(before)) if _is_import(before[i])), None)
    if block_start is None:
        return _new_block(body, index, lines, starts, newline)
    block_end = block_start
    while block_end + 1 < len(before) and _is_import(before[block_end + 1]):
        block_end += 1
    block = before[block_start:block_end + 1]

    ours = style.section("boundcache")
    ours_key = _sort_key(style, "boundcache", straight=True)
    same = [s for s in block if style.section(*_module_of(s)) == ours]
    if same:
        for stmt in same:
            if _sort_key(style, _module_of(stmt)[0], isinstance(stmt, ast.Import)) > ours_key:
                offset = starts[_above_comments(lines, stmt.lineno) - 1]
                return (offset, offset, "import boundcache" + newline)
        return _after_line(lines, starts, same[-1].end_lineno or same[-1].lineno, "import boundcache" + newline,
                           newline)
    earlier = [s for s in block if style.section(*_module_of(s)) < ours]
    if earlier:
        last = earlier[-1].end_lineno or earlier[-1].lineno
        text = newline + "import boundcache" + newline
        if last < len(lines) and lines[last].strip():
            text += newline  # a section follows without a blank line: keep one after ours
        return _after_line(lines, starts, last, text, newline)
    # Every import of the block belongs to a later section: a new first section.
    offset = starts[_above_comments(lines, block[0].lineno) - 1]
    return (offset, offset, "import boundcache" + newline + newline)


def _sort_key(style: ImportStyle, module: str, straight: bool) -> tuple:
    kind = 0 if straight else 1
    name = module.lower()
    return (name, kind) if style.force_sort_within_sections else (kind, name)


def _above_comments(lines: list[str], line: int) -> int:
    # Comment lines right above an import belong to it: go above them.
    while line > 1 and lines[line - 2].lstrip().startswith("#"):
        line -= 1
    return line


def _after_line(lines: list[str], starts: list[int], line: int, text: str, newline: str) -> tuple[int, int, str]:
    offset = starts[line]
    if not lines[line - 1].endswith(("\n", "\r")):
        text = newline + text
    return (offset, offset, text)


def _new_block(body: list[ast.stmt], index: int, lines: list[str], starts: list[int],
               newline: str) -> tuple[int, int, str]:
    # No import block before the first use: a block of one, after the
    # docstring (or before the first statement, below any shebang, encoding
    # cookie or header comments), followed by the blank lines isort wants:
    # two before a def or class, one before anything else.
    if index:
        line = body[0].end_lineno or body[0].lineno
        nxt = body[1] if len(body) > 1 else None
        offset = starts[line]
        prefix = "" if lines[line - 1].endswith(("\n", "\r")) else newline
    else:
        line = _start_line(body[0]) - 1
        nxt = body[0]
        offset = starts[line]
        prefix = ""
    wanted = 2 if isinstance(nxt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) else 1
    if nxt is None:
        wanted = 0
    blank = 0
    probe = line
    while probe < len(lines) and not lines[probe].strip():
        blank += 1
        probe += 1
    return (offset, offset, prefix + "import boundcache" + newline + newline * max(0, wanted - blank))


# -- unused functools names -------------------------------------------------------


def _uses(tree: ast.Module) -> Counter:
    counts: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            counts[node.id] += 1
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                for item in ast.walk(node.value):
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        counts[item.value] += 1  # exported: a use
    return counts


def _unused_functools_edits(old: ast.Module, new: ast.Module, source: str) -> list[tuple[int, int, str]]:
    """Delete the top-level functools imports that were used before the fix
    and are not after it (ruff and pyflakes would report them, F401)."""
    before, after = _uses(old), _uses(new)

    def made_unused(name: str) -> bool:
        return before[name] > 0 and after[name] == 0

    lines = source_lines(source)
    starts = _line_starts(lines)
    edits: list[tuple[int, int, str]] = []
    for stmt in new.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "functools" and not stmt.level:
            drop = [a for a in stmt.names if a.name != "*" and made_unused(a.asname or a.name)]
        elif isinstance(stmt, ast.Import):
            drop = [a for a in stmt.names if a.name == "functools" and made_unused(a.asname or "functools")]
        else:
            continue
        if not drop:
            continue
        if len(drop) == len(stmt.names):
            edit = _delete_statement(stmt, lines, starts)
        else:
            edit = _delete_names(stmt, drop, lines, starts)
        if edit is not None:
            edits.extend(edit)
    return edits


def _whole_lines(stmt: ast.stmt, lines: list[str]) -> bool:
    first, last = lines[stmt.lineno - 1], lines[(stmt.end_lineno or stmt.lineno) - 1]
    head = first.encode("utf-8")[: stmt.col_offset].decode("utf-8", "replace")
    tail = last.encode("utf-8")[stmt.end_col_offset or 0:].decode("utf-8", "replace").strip()
    return not head.strip() and (not tail or tail.startswith("#"))


def _delete_statement(stmt: ast.stmt, lines: list[str], starts: list[int]) -> list[tuple[int, int, str]] | None:
    if not _whole_lines(stmt, lines):
        return None  # `import functools; x = 1`: leave it
    first, last = stmt.lineno, stmt.end_lineno or stmt.lineno
    above_blank = first == 1 or not lines[first - 2].strip()
    below_blank = last >= len(lines) or not lines[last].strip()
    if above_blank and below_blank and last < len(lines):
        last += 1  # do not leave two blank lines where one separated sections
    return [(starts[first - 1], starts[last], "")]


def _delete_names(stmt: ast.stmt, drop: list[ast.alias], lines: list[str],
                  starts: list[int]) -> list[tuple[int, int, str]] | None:
    kept = [a for a in stmt.names if a not in drop]  # type: ignore[attr-defined]
    if stmt.lineno == stmt.end_lineno and _whole_lines(stmt, lines):
        # One line: write it again with the names kept, as isort would.
        line = lines[stmt.lineno - 1]
        head = line.encode("utf-8")[: stmt.col_offset].decode("utf-8")
        start = starts[stmt.lineno - 1] + len(head)
        end = starts[stmt.lineno - 1] + len(line.encode("utf-8")[: stmt.end_col_offset].decode("utf-8"))
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in kept)
        keyword = "from functools import " if isinstance(stmt, ast.ImportFrom) else "import "
        return [(start, end, keyword + names)]
    # Over several lines (parenthesized): delete the lines that hold a dropped name alone.
    edits = []
    for alias in drop:
        if alias.lineno != alias.end_lineno:
            return None
        text = lines[alias.lineno - 1].strip().rstrip(",").strip()
        spelled = alias.name + (f" as {alias.asname}" if alias.asname else "")
        if " ".join(text.split()) != spelled:
            return None  # shares its line with another name: leave the statement
        edits.append((starts[alias.lineno - 1], starts[alias.lineno], ""))
    return edits


def _newline(lines: list[str]) -> str:
    for line in lines:
        for ending in ("\r\n", "\n", "\r"):
            if line.endswith(ending):
                return ending
    return "\n"
