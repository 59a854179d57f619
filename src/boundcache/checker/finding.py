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
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator

from .names import Ref, Resolver, Scope, module_name_for
from .syntax import looks_like_python2, needed_version, parse

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

# The single switch for pydantic models: boundcache's decorators define on a
# pydantic BaseModel (pydantic takes objects whose class's __module__ is
# "functools" as decorators, docs/methods.md), so their methods are rewritten
# like any other class's; tests/checker/test_class_kinds.py checks the switch
# against what the installed pydantic accepts.
FIX_PYDANTIC_MODELS = True

_NAMEDTUPLE_CLASSES = frozenset({"typing.NamedTuple", "typing_extensions.NamedTuple"})
_NAMEDTUPLE_FACTORIES = frozenset({
    "collections.namedtuple", "typing.NamedTuple", "typing_extensions.NamedTuple",
})
_PYDANTIC_BASES = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel", "pydantic.v1.BaseModel"})
_DATACLASS = frozenset({"dataclasses.dataclass"})
# Bases that add no __dict__ and no __weakref__ to a class with __slots__
# (they declare `__slots__ = ()` themselves, or are object).
_SLOTTED_BASES = frozenset({
    "builtins.object", "typing.Generic", "typing.Protocol", "abc.ABC",
    "collections.abc.Hashable", "collections.abc.Iterable", "collections.abc.Sized",
    "collections.abc.Container", "collections.abc.Sequence", "collections.abc.Mapping",
})
# Slots that give boundcache somewhere to keep a per-instance cache (contract 3.5).
_STORAGE_SLOTS = frozenset({"__dict__", "__weakref__", "__boundcache__"})


@dataclass(frozen=True)
class ClassKind:
    """What the class body says about where a per-instance cache could live.

    ``storage`` is True when boundcache can keep its caches on the instances
    (a ``__dict__``, or a ``__weakref__``/``__boundcache__`` slot), False when
    it certainly cannot, None when this file does not say (a ``__slots__``
    without those names over a base defined elsewhere).
    """

    storage: bool | None = True
    tuple_based: bool = False  # a NamedTuple/namedtuple/tuple subclass
    value: bool = False  # equality and hash come from the value
    pydantic: bool = False
    slots_from: str = ""  # the class whose __slots__ leaves no room
    dataclass_slots: bool = False  # that room comes from @dataclass(slots=True)
    what: str = ""  # "a NamedTuple", "a frozen dataclass"...


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


def needles(memoizers: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """Groups of words, one group a memoizer: a file that spells every word of
    no group (each as a whole word) cannot hold a finding.

    Reaching ``functools.lru_cache`` takes an import that spells "functools"
    and a reference that spells "lru_cache" (or an alias defined from it); a
    configured ``pkg.memo`` takes some statement that spells "memo" (a
    relative import may not spell "pkg").
    """
    groups = set()
    for qualname in memoizers:
        module, _, name = qualname.rpartition(".")
        groups.add(("functools", name) if module == "functools" else (name,))
    return frozenset(groups)


def could_hold_finding(source: str, memoizers: Iterable[str] = DEFAULT_MEMOIZERS) -> bool:
    """A text test, far cheaper than parsing: False when the file cannot hold
    a finding (no class, or no memoizer's words), so that it is not parsed."""
    if not source.isascii():
        # Identifiers may be spelled in other Unicode forms that normalize
        # to "functools" (PEP 3131): search the normalized text.
        import unicodedata

        source = unicodedata.normalize("NFKC", source)
    return "class" in source and any(all(_spells(source, word) for word in group) for group in needles(memoizers))


def _spells(source: str, word: str) -> bool:
    # The substring test is the fast one; most files fail it.
    return word in source and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", source) is not None


def check_source(
    source: str,
    path: str,
    memoizers: frozenset[str] = DEFAULT_MEMOIZERS,
) -> list[Finding]:
    """All findings in ``source`` (noqa comments are not applied here). A file
    that cannot hold one is not parsed, so its syntax errors are not reported."""
    if not could_hold_finding(source, memoizers):
        return []
    with warnings.catch_warnings():
        # Invalid escapes and the like warn while parsing (3.12+): not ours to say.
        warnings.simplefilter("ignore")
        try:
            tree = parse(source, path)  # newer syntax masked, if need be
        except (SyntaxError, ValueError) as error:
            return [syntax_finding(path, error, source)]
    return analyze(tree, source_lines(source), path, memoizers, walrus=":=" in source)


def syntax_finding(path: str, error: Exception, source: str = "") -> Finding:
    line = getattr(error, "lineno", None) or 1
    col = getattr(error, "offset", None) or 1
    message = getattr(error, "msg", None) or str(error)
    running = "%d.%d" % sys.version_info[:2]
    needed = needed_version(source, error) if source else None
    if needed:
        hint = f" (Python {running}; it needs Python {needed} or newer)"
    elif looks_like_python2(source, error):
        hint = f" (Python {running}; it looks like Python 2 code)"
    else:
        hint = f" (Python {running})"
    return Finding(path, line, max(col, 1), SYNTAX_CODE, f"{SYNTAX_CODE} cannot parse: {message}{hint}")


def analyze(
    tree: ast.Module,
    lines: list[str],
    path: str,
    memoizers: frozenset[str] = DEFAULT_MEMOIZERS,
    walrus: bool = True,
) -> list[Finding]:
    module = module_name_for(path)
    is_package = path.endswith("__init__.py")
    resolver = Resolver(tree, module, is_package, prefer=memoizers, walrus=walrus, lines=lines)
    finder = _Finder(resolver, lines, path, memoizers, tree)
    return sorted(finder.run(), key=lambda f: (f.line, f.col))


@dataclass
class _Match:
    node: ast.expr  # where the finding is reported (`functools.lru_cache`, `memo`)
    qualname: str
    fix_node: ast.expr | None  # the reference to rewrite: node, or an alias's definition
    fixable: bool
    note: str = ""  # why there is no automatic fix, when it is not obvious
    call: ast.Call | None = None  # the memoizer's call, `lru_cache(maxsize=None)`, if any


class _Finder:
    def __init__(self, resolver: Resolver, lines: list[str], path: str, memoizers: frozenset[str],
                 tree: ast.Module | None = None):
        self.resolver = resolver
        self.lines = lines
        self.path = path
        self.memoizers = memoizers
        self.tree = tree
        self._kinds: dict[int, ClassKind] = {}
        self._calls: dict[int, ast.Call] | None = None

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
                yield self._finding(match, f"{cls.name}.{fn.name}", cls, scope)

    def _decorator_match(self, expr: ast.expr, scope: Scope) -> _Match | None:
        ref = self.resolver.resolve(expr, scope)
        if ref is not None and ref.qualname in self.memoizers:
            # `@lru_cache`, or `@memo` where `memo = lru_cache(maxsize=None)`.
            return self._match(expr, ref)
        if isinstance(expr, ast.Call):
            ref = self.resolver.resolve(expr.func, scope)
            if ref is not None and not ref.called and ref.qualname in self.memoizers:
                return self._match(expr.func, ref, expr)  # `@lru_cache(maxsize=32)`
        return None

    def _match(self, node: ast.expr, ref: Ref, call: ast.Call | None = None) -> _Match:
        # `@memo` with `memo = lru_cache(maxsize=None)` is fixed where memo is
        # defined: on plain functions boundcache behaves exactly as functools.
        fix_node = ref.origin if ref.called else node
        if ref.called and ref.origin is not None:
            call = self._call_of(ref.origin)
        return _Match(node, ref.qualname, fix_node, fixable=fix_node is not None and ref.qualname in FIXABLE,
                      call=call)

    def _call_of(self, func: ast.expr) -> ast.Call | None:
        if self._calls is None:
            self._calls = {}
            if self.tree is not None:
                for node in ast.walk(self.tree):
                    if isinstance(node, ast.Call):
                        self._calls[id(node.func)] = node
        return self._calls.get(id(func))

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
                    match = self._match(func, ref, None if ref.called else value)
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
                yield self._finding(match, f"{cls.name}.{name}", cls, scope)
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

    def _finding(self, match: _Match, method: str, cls: ast.ClassDef, scope: Scope) -> Finding:
        node = match.node
        line, col = node.lineno, self._char_col(node.lineno, node.col_offset)
        replacement = span = None
        kind = self._class_kind(cls, scope)
        bounded = _bounded(match)
        note = match.note
        if kind.pydantic and not FIX_PYDANTIC_MODELS:
            note = (f"; not rewritten: {cls.name} is a pydantic model, on which boundcache's decorators "
                    "are not supported yet")
        elif match.fixable and match.fix_node is not None:
            candidate = self._span(match.fix_node)
            if "#" in self._text(candidate):
                note = "; a comment inside the reference keeps it from being rewritten"
            else:
                replacement, span = f"boundcache.{FIXABLE[match.qualname]}", candidate
        advice = (f"; use {replacement}" if replacement else note) + _storage_note(kind, cls.name, bounded)
        if kind.value and bounded:
            # Equal values share entries on purpose and maxsize bounds them:
            # not the leak of the identity-keyed case (contract 6, docs/audit.md).
            what = f"{cls.name} ({kind.what})" if kind.what else cls.name
            message = (f"{CODE} {match.qualname} on method {method} keys its bounded cache on self, "
                       f"a value of {what} hashed by value: equal values share entries and up to "
                       f"maxsize of them stay alive after their use{advice}")
        elif kind.value and bounded is False:
            what = f"{cls.name} ({kind.what})" if kind.what else cls.name
            message = (f"{CODE} {match.qualname} on method {method} keeps every distinct value of "
                       f"{what} it is called on alive (an unbounded cache keyed on self){advice}")
        else:
            message = (f"{CODE} {match.qualname} on method {method} keeps every instance it is "
                       f"called on alive (its cache is keyed on self){advice}")
        return Finding(self.path, line, col + 1, CODE, message, span=span, replacement=replacement)

    # -- what the class allows ----------------------------------------------

    def _class_kind(self, cls: ast.ClassDef, scope: Scope) -> ClassKind:
        key = id(cls)
        got = self._kinds.get(key)
        if got is None:
            self._kinds[key] = ClassKind(storage=None)  # a cycle of bases: unknown
            got = self._kinds[key] = self._compute_kind(cls, scope)
        return got

    def _compute_kind(self, cls: ast.ClassDef, scope: Scope) -> ClassKind:
        outer = scope.parent or scope
        pos = (cls.lineno, cls.col_offset)
        value = pydantic = tuple_based = False
        what = ""
        base_storage: list[bool | None] = []
        for base in cls.bases:
            target = base.value if isinstance(base, ast.Subscript) else base  # Generic[T]
            if isinstance(base, ast.Call):
                if self._qualname(base.func, outer, pos) in _NAMEDTUPLE_FACTORIES:
                    # namedtuple("P", "x y"): a tuple with `__slots__ = ()`.
                    tuple_based = value = True
                    what = what or "a namedtuple subclass"
                    base_storage.append(False)
                    continue
                base_storage.append(None)
                continue
            qualname = self._qualname(target, outer, pos)
            if qualname in _NAMEDTUPLE_CLASSES:
                # The class body *is* the named tuple: `__slots__ = ()` is
                # forced on it, and a tuple subclass takes no other slot.
                return ClassKind(storage=False, tuple_based=True, value=True,
                                 slots_from=cls.name, what="a NamedTuple")
            if qualname in _PYDANTIC_BASES:
                pydantic = True
                base_storage.append(True)
                continue
            if qualname == "builtins.tuple":
                tuple_based = value = True
                what = what or "a tuple subclass"
                base_storage.append(False)
                continue
            if qualname in _SLOTTED_BASES:
                base_storage.append(False)
                continue
            node = None
            if isinstance(target, ast.Name):
                binding = self.resolver.lookup(target.id, outer, pos)
                node = getattr(binding, "node", None)
            if isinstance(node, ast.ClassDef):
                inner = self._class_kind(node, self.resolver.scope_of(node))
                pydantic = pydantic or inner.pydantic
                tuple_based = tuple_based or inner.tuple_based
                value = value or inner.value
                what = what or inner.what.replace("a NamedTuple", "a NamedTuple subclass")
                base_storage.append(inner.storage)
                continue
            base_storage.append(None)  # defined elsewhere: it may give a __dict__ or not
        if not cls.bases:
            base_storage.append(False)

        slots = _own_slots(cls)
        dataclass_slots = False
        for decorator in cls.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = decorator.func if call is not None else decorator
            if self._qualname(target, outer, pos) not in _DATACLASS or call is None:
                continue
            options = {k.arg: k.value for k in call.keywords if k.arg}
            if _true(options.get("frozen")):
                value = True
                what = what or "a frozen dataclass"
            if _true(options.get("slots")):
                slots = ["__weakref__"] if _true(options.get("weakref_slot")) else []
                dataclass_slots = True
            elif "slots" in options and not _false(options.get("slots")):
                slots = None  # slots=<expression>: unknown
        methods = {s.name for s in cls.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if not value and {"__eq__", "__hash__"} <= methods:
            value = True  # its own __eq__ and __hash__: by value, as a rule

        if slots is _NO_SLOTS:
            storage: bool | None = True  # no __slots__ of its own: a __dict__
        elif slots is None:
            storage = None
        elif _STORAGE_SLOTS.intersection(slots):
            storage = True
        elif any(b is True for b in base_storage):
            storage = True
        elif any(b is None for b in base_storage):
            storage = None
        else:
            storage = False
        slots_from = cls.name if storage is not True else ""
        return ClassKind(storage=storage, tuple_based=tuple_based, value=value, pydantic=pydantic,
                         slots_from=slots_from, what=what, dataclass_slots=dataclass_slots)

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


_NO_SLOTS: list[str] = []  # sentinel: the class body has no __slots__


def _own_slots(cls: ast.ClassDef) -> list[str] | None:
    """The names in the class body's ``__slots__``; ``_NO_SLOTS`` if it has
    none, None if it is not a literal this checker can read."""
    found: list[str] | None = _NO_SLOTS
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found = [value.value]
        elif isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            items = value.elts
            found = [e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(found) != len(items):
                found = None
        elif isinstance(value, ast.Dict):
            keys = value.keys
            found = [k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(found) != len(keys):
                found = None
        else:
            found = None
    return found


def _true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _bounded(match: _Match) -> bool | None:
    """Is the cache bounded? None when this checker cannot tell."""
    if match.qualname == "functools.cache":
        return False
    if match.qualname != "functools.lru_cache":
        return None
    call = match.call
    if call is None:
        return True  # `@lru_cache`: maxsize=128
    for keyword in call.keywords:
        if keyword.arg == "maxsize":
            return _maxsize_bounded(keyword.value)
    if call.args:
        return _maxsize_bounded(call.args[0], callable_ok=True)
    return True


def _maxsize_bounded(node: ast.expr, callable_ok: bool = False) -> bool | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return False
    if _int_value(node) is not None:
        return True
    # `lru_cache(helper)` wraps a function with maxsize=128.
    return True if callable_ok and isinstance(node, (ast.Name, ast.Attribute, ast.Lambda)) else None


_INT_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a, ast.Invert: lambda a: ~a}
_INT_OPERATORS = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a ** b if 0 <= b <= 64 else None,
    ast.LShift: lambda a, b: a << b if 0 <= b <= 64 else None,
    ast.RShift: lambda a, b: a >> b if b >= 0 else None,
    ast.BitOr: lambda a, b: a | b, ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b,
}


def _int_value(node: ast.expr) -> int | None:
    """The value of an int literal or of simple arithmetic on int literals
    (`1024 * 4`, `2 ** 12`, `-1`); None for anything else."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, int) else None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _INT_UNARY:
        operand = _int_value(node.operand)
        return None if operand is None else _INT_UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPERATORS:
        left, right = _int_value(node.left), _int_value(node.right)
        if left is None or right is None:
            return None
        try:
            return _INT_OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
    return None


_KEYED_BY_VALUE = "@boundcache.lru_cache(maxsize=N, key=lambda self, *args: (tuple(self), *args))"


def _storage_note(kind: ClassKind, name: str, bounded: bool | None) -> str:
    """What boundcache does with an owner that has nowhere to keep a cache of
    its own (contract 3.5: served as functools serves it, the same behaviour),
    and how to give it one; "" for the owners that have one."""
    if kind.tuple_based and kind.storage is True:
        # A __dict__ without weak references: per instance where a dict
        # watcher tells boundcache when the owner dies (3.12+).
        return (f"; {name} has a __dict__ but no weak references: boundcache gives each instance "
                "its own cache on Python 3.12+, and before serves it as functools does")
    if kind.tuple_based:
        bound = "" if bounded else "bound it (maxsize=N), or "
        return (f"; a tuple has nowhere to keep a cache per instance (CPython takes no '__weakref__' "
                f"or other slot in a tuple subclass's __slots__), so boundcache serves {name} as "
                f"functools does, one cache keyed by value: {bound}share entries between equal "
                f"values without pinning them, {_KEYED_BY_VALUE}")
    warns = "" if kind.value else ", with a PinningWarning"
    if kind.storage is False:
        where = (f"pass weakref_slot=True to the @dataclass(slots=True) of {kind.slots_from}"
                 if kind.dataclass_slots and kind.slots_from == name else
                 f"add '__boundcache__' to {kind.slots_from}.__slots__")
        return (f"; for a cache per instance {where}: without it boundcache serves {name} as "
                f"functools does{warns}")
    if kind.storage is None:
        return (f"; if the bases of {name}, not in this file, give it no __dict__, add '__boundcache__' "
                f"to {name}.__slots__ for a cache per instance: without it boundcache serves {name} "
                f"as functools does{warns}")
    return ""


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
