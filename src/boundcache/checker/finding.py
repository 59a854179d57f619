"""Finding the trap: a memoizer keyed on ``self`` applied to a method.

What counts (section 5 of the contract):

* a function defined directly in a class body (including under ``if``/``try``
  /``with`` blocks there) and decorated with a memoizer, at any position in
  the decorator stack (``@property`` above it is still a method);
* a class-body assignment that wraps a callable in a memoizer,
  ``m = functools.lru_cache(maxsize=None)(helper)``, also inside another call
  (``m = property(functools.cache(helper))``).

What does not: static and class methods (they never see ``self``), functions
outside class bodies, names that do not resolve to a memoizer, and Enum
classes (their members live as long as the class anyway, so nothing is
pinned that was not already immortal; ruff skips them too).
"""

from __future__ import annotations

import ast
import io
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator

from .names import Ref, Resolver, Scope, module_name_for

CODE = "BC001"
SYNTAX_CODE = "BC900"

# functools' memoizers and the boundcache name --fix rewrites them to.  Other
# memoizers (from configuration) are reported but never rewritten: their
# arguments need not mean what boundcache's mean.
FIXABLE = {"functools.lru_cache": "lru_cache", "functools.cache": "cache"}
# Known without configuration.  async_lru's alru_cache keys on self the same
# way (flake8-bugbear knows it too); boundcache has no async memoizer yet, so
# it is reported only.
DEFAULT_MEMOIZERS = frozenset(FIXABLE) | {"async_lru.alru_cache"}

_NOT_INSTANCE_DECORATORS = frozenset({
    "builtins.staticmethod",
    "builtins.classmethod",
    "abc.abstractstaticmethod",
    "abc.abstractclassmethod",
})
# Called with the class (or nothing) in place of an instance, implicitly.
_NOT_INSTANCE_METHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})

_ENUM_BASES = frozenset({
    "enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag", "enum.ReprEnum",
})
_ENUM_METACLASSES = frozenset({"enum.EnumMeta", "enum.EnumType"})


@dataclass(frozen=True)
class Finding:
    path: str
    line: int  # 1-based
    col: int  # 1-based, in characters (as ruff and pycodestyle count)
    code: str
    message: str
    # For --fix: the memoizer reference as 0-based character positions
    # (line, col, end_line, end_col), and the text that replaces it.
    span: tuple[int, int, int, int] | None = None
    replacement: str | None = None

    @property
    def fixable(self) -> bool:
        return self.replacement is not None


def source_lines(source: str) -> list[str]:
    # Python's tokenizer ends lines at \n, \r\n and \r, and nowhere else
    # (str.splitlines would also split at \x0c, \x1c, \u2028...).
    return io.StringIO(source, newline="").readlines()


def needles(memoizers: Iterable[str]) -> frozenset[str]:
    """Words without which a file cannot hold a finding.

    Reaching ``functools.lru_cache`` takes an import that spells "functools";
    a configured ``pkg.memo`` takes some statement that spells "memo" (a
    relative import may not spell "pkg").  Checking these substrings first
    lets the checker skip the analysis of almost every file.
    """
    words = set()
    for qualname in memoizers:
        module, _, name = qualname.rpartition(".")
        words.add("functools" if module == "functools" else name)
    return frozenset(words)


def check_source(
    source: str,
    path: str,
    memoizers: frozenset[str] = DEFAULT_MEMOIZERS,
) -> list[Finding]:
    """All findings in ``source`` (noqa comments are not applied here)."""
    # Non-ASCII source may spell identifiers in other Unicode forms that
    # normalize to "functools" (PEP 3131): no shortcut for it.
    relevant = not source.isascii() or any(word in source for word in needles(memoizers))
    with warnings.catch_warnings():
        # Invalid escapes and the like warn while parsing (3.12+): not ours to say.
        warnings.simplefilter("ignore")
        if not relevant and _compiles(source, path):
            return []
        try:
            tree = ast.parse(source, filename=path)
        except (SyntaxError, ValueError) as error:
            return [syntax_finding(path, error)]
    if not relevant:
        return []
    return analyze(tree, source_lines(source), path, memoizers, walrus=":=" in source)


def _compiles(source: str, path: str) -> bool:
    # A file that cannot hold a finding needs only a yes/no on "does it parse".
    # The bytecode compiler answers it faster than ast.parse, which builds a
    # Python object per node (~25% of the stdlib's time).  It also refuses
    # some files that parse (`return` outside a function...): those go on to
    # ast.parse, so BC900 means exactly "ast.parse failed".
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def syntax_finding(path: str, error: Exception) -> Finding:
    line = getattr(error, "lineno", None) or 1
    col = getattr(error, "offset", None) or 1
    message = getattr(error, "msg", None) or str(error)
    return Finding(path, line, max(col, 1), SYNTAX_CODE, f"{SYNTAX_CODE} cannot parse: {message}")


def analyze(
    tree: ast.Module,
    lines: list[str],
    path: str,
    memoizers: frozenset[str] = DEFAULT_MEMOIZERS,
    walrus: bool = True,
) -> list[Finding]:
    module = module_name_for(path)
    is_package = path.endswith("__init__.py")
    resolver = Resolver(tree, module, is_package, prefer=memoizers, walrus=walrus)
    finder = _Finder(resolver, lines, path, memoizers)
    return sorted(finder.run(), key=lambda f: (f.line, f.col))


@dataclass
class _Match:
    node: ast.expr  # where the finding is reported (`functools.lru_cache`, `memo`)
    qualname: str
    fix_node: ast.expr | None  # the reference to rewrite: node, or an alias's definition
    fixable: bool
    note: str = ""  # why there is no automatic fix, when it is not obvious


class _Finder:
    def __init__(self, resolver: Resolver, lines: list[str], path: str, memoizers: frozenset[str]):
        self.resolver = resolver
        self.lines = lines
        self.path = path
        self.memoizers = memoizers

    def run(self) -> Iterator[Finding]:
        for node, scope in list(self.resolver.scopes.items()):
            if isinstance(node, ast.ClassDef) and not self._is_enum(node, scope.parent, set()):
                yield from self._check_class(node, scope)

    # -- classes -------------------------------------------------------------

    def _check_class(self, cls: ast.ClassDef, scope: Scope) -> Iterator[Finding]:
        for stmt in _class_body(cls.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from self._check_method(cls, stmt, scope)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names:
                    yield from self._check_wrapped(cls, names[0], stmt.value, scope)

    def _is_enum(self, cls: ast.ClassDef, scope: Scope | None, seen: set[int]) -> bool:
        if scope is None or id(cls) in seen:
            return False
        seen.add(id(cls))
        pos = (cls.lineno, cls.col_offset)
        for keyword in cls.keywords:
            if keyword.arg == "metaclass" and self._qualname(keyword.value, scope, pos) in _ENUM_METACLASSES:
                return True
        for base in cls.bases:
            if self._qualname(base, scope, pos) in _ENUM_BASES:
                return True
            if isinstance(base, ast.Name):
                # A subclass of an Enum defined in this file is an Enum too.
                binding = self.resolver.lookup(base.id, scope, pos)
                node = getattr(binding, "node", None)
                if isinstance(node, ast.ClassDef):
                    if self._is_enum(node, self.resolver.scope_of(node).parent, seen):
                        return True
        return False

    # -- methods -------------------------------------------------------------

    def _check_method(self, cls: ast.ClassDef, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                      scope: Scope) -> Iterator[Finding]:
        if fn.name in _NOT_INSTANCE_METHODS:
            return
        for decorator in fn.decorator_list:
            # `@staticmethod` / `@classmethod`, above or below the memoizer.
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if self._qualname(target, scope) in _NOT_INSTANCE_DECORATORS:
                return
        for decorator in fn.decorator_list:
            match = self._decorator_match(decorator, scope)
            if match is not None:
                yield self._finding(match, f"{cls.name}.{fn.name}")

    def _decorator_match(self, expr: ast.expr, scope: Scope) -> _Match | None:
        ref = self.resolver.resolve(expr, scope)
        if ref is not None and ref.qualname in self.memoizers:
            # `@lru_cache`, or `@memo` where `memo = lru_cache(maxsize=None)`.
            return self._match(expr, ref)
        if isinstance(expr, ast.Call):
            ref = self.resolver.resolve(expr.func, scope)
            if ref is not None and not ref.called and ref.qualname in self.memoizers:
                return self._match(expr.func, ref)  # `@lru_cache(maxsize=32)`
        return None

    def _match(self, node: ast.expr, ref: Ref) -> _Match:
        # `@memo` with `memo = lru_cache(maxsize=None)` is fixed where memo is
        # defined: on plain functions boundcache behaves exactly as functools.
        fix_node = ref.origin if ref.called else node
        return _Match(node, ref.qualname, fix_node, fixable=fix_node is not None and ref.qualname in FIXABLE)

    # -- class-body assignments ----------------------------------------------

    def _check_wrapped(self, cls: ast.ClassDef, name: str, value: ast.expr,
                       scope: Scope, direct: bool = True) -> Iterator[Finding]:
        if not isinstance(value, ast.Call):
            return
        func = value.func
        ref = self.resolver.resolve(func, scope)
        if ref is not None and not ref.called and ref.qualname in _NOT_INSTANCE_DECORATORS:
            return  # `m = staticmethod(lru_cache(f))` never sees self
        if len(value.args) == 1 and not isinstance(value.args[0], ast.Starred):
            wrapped = value.args[0]
            match = None
            if ref is not None and ref.qualname in self.memoizers:
                # `lru_cache(f)` wraps f; `lru_cache(128)` only makes a decorator.
                if ref.called or not isinstance(wrapped, ast.Constant):
                    match = self._match(func, ref)
            elif isinstance(func, ast.Call):
                match = self._decorator_match(func, scope)  # `lru_cache(maxsize=None)(f)`
            if match is not None:
                if not direct and not isinstance(wrapped, ast.Lambda):
                    # `property(lru_cache(helper))` with helper defined outside
                    # the class: the wrapper gets no __set_name__ and helper's
                    # __qualname__ names no class, so boundcache cannot know it
                    # is a method (contract 3).  Rewriting would not help.
                    match.fixable = False
                    match.note = "; move the function into the class body to let boundcache see a method"
                yield self._finding(match, f"{cls.name}.{name}")
                return
        for arg in value.args:  # `property(lru_cache(f))`
            yield from self._check_wrapped(cls, name, arg, scope, direct=False)

    # -- helpers -------------------------------------------------------------

    def _qualname(self, expr: ast.expr, scope: Scope, pos: tuple | None = None) -> str | None:
        ref = self.resolver.resolve(expr, scope, pos)
        return None if ref is None or ref.called else ref.qualname

    def _char_col(self, line: int, byte_col: int) -> int:
        # ast counts columns in UTF-8 bytes; editors and ruff count characters.
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def _finding(self, match: _Match, method: str) -> Finding:
        node = match.node
        line, col = node.lineno, self._char_col(node.lineno, node.col_offset)
        replacement = span = None
        note = match.note
        if match.fixable and match.fix_node is not None:
            candidate = self._span(match.fix_node)
            if "#" in self._text(candidate):
                note = "; a comment inside the reference keeps it from being rewritten"
            else:
                replacement, span = f"boundcache.{FIXABLE[match.qualname]}", candidate
        advice = f"; use {replacement}" if replacement else note
        message = (f"{CODE} {match.qualname} on method {method} keeps every instance it is "
                   f"called on alive (its cache is keyed on self){advice}")
        return Finding(self.path, line, col + 1, CODE, message, span=span, replacement=replacement)

    def _text(self, span: tuple[int, int, int, int]) -> str:
        line, col, end_line, end_col = span
        if line == end_line:
            return self.lines[line - 1][col:end_col]
        parts = [self.lines[line - 1][col:], *self.lines[line:end_line - 1], self.lines[end_line - 1][:end_col]]
        return "".join(parts)

    def _span(self, node: ast.expr) -> tuple[int, int, int, int]:
        end_line = node.end_lineno or node.lineno
        return (node.lineno, self._char_col(node.lineno, node.col_offset),
                end_line, self._char_col(end_line, node.end_col_offset or 0))


def _class_body(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run in the class body, through compound statements."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # their bodies are other scopes
        for field_name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field_name, None)
            if isinstance(inner, list):
                yield from _class_body(inner)
        for handler in getattr(stmt, "handlers", ()):
            yield from _class_body(handler.body)
        for case in getattr(stmt, "cases", ()):
            yield from _class_body(case.body)
