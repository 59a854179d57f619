"""What a name in a decorator refers to, by Python's own scoping rules.

The checker must tell ``functools.lru_cache`` reached through any import form
(``import functools as ft``, ``from functools import lru_cache as memo``, an
import inside an enclosing function) from a local function that happens to be
called ``lru_cache``.  Like ruff's semantic model, we resolve a name to a
*qualified name* ("functools.lru_cache") by looking it up where it is used:
the latest binding before the use in the same scope, then the enclosing
function scopes and the module (class scopes do not enclose nested scopes),
then star imports, then builtins.

This is a static approximation (no control flow, no cross-module inference),
chosen to be right for the shapes real code uses.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Iterable

_BUILTIN_NAMES = frozenset(dir(builtins))

Pos = tuple  # (line, col) of a binding or use, comparable in source order


@dataclass(frozen=True)
class Ref:
    """A resolved reference: ``qualname`` or, if ``called``, the result of calling it.

    ``called`` is how ``memo = functools.lru_cache(maxsize=None)`` is told
    from ``memo = functools.lru_cache``: both make ``@memo`` a memoizer, only
    the second can be rewritten at the use site.
    """

    qualname: str
    called: bool = False
    # For a called alias, the memoizer reference inside its definition
    # (`functools.lru_cache` in `memo = functools.lru_cache(maxsize=None)`):
    # --fix rewrites it there.
    origin: ast.expr | None = field(default=None, compare=False)


@dataclass
class Binding:
    pos: Pos
    # Exactly one of these says what was bound; all None means "some value we
    # do not track" (a parameter, a loop variable, a tuple unpacking...).
    qualname: str | None = None
    alias_of: ast.expr | None = None  # `x = <expr>`: resolved lazily, on demand
    node: ast.AST | None = None  # the ClassDef/FunctionDef bound, for enum bases


@dataclass
class Scope:
    kind: str  # "module", "class" or "function"
    parent: Scope | None
    origin: Pos  # where this scope's def/class statement sits in the parent
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    star_imports: list[tuple[Pos, str]] = field(default_factory=list)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)


def _pos(node: ast.AST) -> Pos:
    return (node.lineno, node.col_offset)


def module_name_for(path: str | None) -> str:
    """Dotted module name of ``path``, climbing packages (``__init__.py``)."""
    import os

    if not path:
        return ""
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
        if not package:
            break
    return ".".join(parts)


class ScopeBuilder:
    """One pass over the module's *statements*, recording every binding.

    Expressions are not walked: no class can be defined inside one, and the
    names bound in a lambda or comprehension are invisible from class bodies.
    The one expression that binds outside itself, the walrus, is looked for
    only when the source contains ``:=``.  Walking statements alone is what
    keeps the checker fast on large trees (the stdlib has ~10x more
    expression nodes than statements).
    """

    def __init__(self, module: str, is_package: bool, walrus: bool = True,
                 lines: list[str] | None = None) -> None:
        self.module = module  # dotted name of the file, for relative imports
        self.is_package = is_package
        self.walrus = walrus
        self.lines = lines  # the source, to skip functions that hold no class
        self.scopes: dict[ast.AST, Scope] = {}
        self.scope: Scope = Scope("module", None, (0, 0))

    def build(self, tree: ast.Module) -> dict[ast.AST, Scope]:
        self.scopes[tree] = self.scope
        self._body(tree.body)
        return self.scopes

    def _body(self, statements: list[ast.stmt]) -> None:
        for stmt in statements:
            handler = getattr(self, f"_stmt_{type(stmt).__name__}", None)
            if handler is not None:
                handler(stmt)
            else:
                self._walrus(stmt)

    # -- helpers -------------------------------------------------------------

    def _target_scope(self, name: str) -> Scope:
        # `global x` / `nonlocal x` send the binding to another scope.
        scope = self.scope
        if name in scope.declared_global:
            while scope.parent is not None:
                scope = scope.parent
        elif name in scope.declared_nonlocal and scope.parent is not None:
            scope = scope.parent
            while scope.kind == "class" and scope.parent is not None:
                scope = scope.parent
        return scope

    def _bind(self, name: str, binding: Binding) -> None:
        self._target_scope(name).bind(name, binding)

    def _bind_targets(self, target: ast.expr, value: ast.expr | None, pos: Pos) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, Binding(pos, alias_of=value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._bind_targets(element, None, pos)
        elif isinstance(target, ast.Starred):
            self._bind_targets(target.value, None, pos)
        # Attribute and Subscript targets bind no name.

    def _walrus(self, *nodes: ast.AST | None) -> None:
        # `(x := ...)` binds x in the enclosing function (also from inside a
        # comprehension).  Lambdas are their own scope: skip what is in them.
        if not self.walrus:
            return
        for node in nodes:
            if node is None:
                continue
            stack = [node]
            while stack:
                current = stack.pop()
                if isinstance(current, ast.NamedExpr) and isinstance(current.target, ast.Name):
                    self._bind(current.target.id, Binding(_pos(current), alias_of=current.value))
                if isinstance(current, ast.Lambda) or (
                    isinstance(current, ast.stmt) and current is not node
                ):
                    continue
                stack.extend(ast.iter_child_nodes(current))

    def _may_matter(self, node: ast.AST) -> bool:
        # Names are resolved for class bodies only: a function whose text
        # spells no class, and binds nothing outside itself (global,
        # nonlocal), need not be walked (most of a file's statements).
        if self.lines is None:
            return True
        text = "".join(self.lines[node.lineno - 1:node.end_lineno])  # type: ignore[attr-defined]
        return "class" in text or "global" in text or "nonlocal" in text

    def _local_qualname(self, name: str) -> str | None:
        # A module-level def is importable as `<module>.<name>`; configured
        # decorators defined in the checked file itself are found that way.
        if self.scope.kind != "module":
            return None
        return f"{self.module}.{name}" if self.module else name

    def _enter(self, node: ast.AST, kind: str, visit_body) -> None:
        outer = self.scope
        self.scope = Scope(kind, outer, _pos(node))
        self.scopes[node] = self.scope
        try:
            visit_body()
        finally:
            self.scope = outer

    def _absolute(self, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        parts = self.module.split(".") if self.module else []
        # In a package's __init__, `.` is the package itself.
        drop = level - 1 if self.is_package else level
        base = parts[: len(parts) - drop] if drop <= len(parts) else []
        if not base:
            return "." * level + (module or "")  # unknown package: keep it relative
        return ".".join(base + ([module] if module else []))

    # -- statements that bind ------------------------------------------------

    def _stmt_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, Binding(_pos(node), qualname=alias.name))
            else:
                top = alias.name.split(".", 1)[0]
                self._bind(top, Binding(_pos(node), qualname=top))

    def _stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = self._absolute(node.module, node.level)
        for alias in node.names:
            if alias.name == "*":
                self.scope.star_imports.append((_pos(node), module))
            else:
                qualname = f"{module}.{alias.name}" if module else alias.name
                self._bind(alias.asname or alias.name, Binding(_pos(node), qualname=qualname))

    def _stmt_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Decorators and defaults run in the enclosing scope.
        self._walrus(*node.decorator_list, *node.args.defaults, *node.args.kw_defaults)
        self._bind(node.name, Binding(_pos(node), qualname=self._local_qualname(node.name), node=node))

        def body() -> None:
            if not self._may_matter(node):
                return
            for arg in _all_args(node.args):
                self.scope.bind(arg.arg, Binding(_pos(node)))
            for type_param in getattr(node, "type_params", ()):
                self.scope.bind(type_param.name, Binding(_pos(node)))
            self._body(node.body)

        self._enter(node, "function", body)

    _stmt_AsyncFunctionDef = _stmt_FunctionDef

    def _stmt_ClassDef(self, node: ast.ClassDef) -> None:
        self._walrus(*node.decorator_list, *node.bases, *(k.value for k in node.keywords))
        qualname = self._local_qualname(node.name)

        def body() -> None:
            for type_param in getattr(node, "type_params", ()):
                self.scope.bind(type_param.name, Binding(_pos(node)))
            self._body(node.body)

        self._enter(node, "class", body)
        # The name is bound after the body ran: visible to later statements only.
        self._bind(node.name, Binding(_pos(node), qualname=qualname, node=node))

    def _stmt_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)

    def _stmt_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.declared_nonlocal.update(node.names)

    def _stmt_Assign(self, node: ast.Assign) -> None:
        self._walrus(node.value)
        for target in node.targets:
            self._bind_targets(target, node.value, _pos(node))

    def _stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._walrus(node.value)
            self._bind_targets(node.target, node.value, _pos(node))

    def _stmt_AugAssign(self, node: ast.AugAssign) -> None:
        self._walrus(node.value)
        self._bind_targets(node.target, None, _pos(node))

    def _stmt_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._walrus(node.iter)
        self._bind_targets(node.target, None, _pos(node))
        self._body(node.body)
        self._body(node.orelse)

    _stmt_AsyncFor = _stmt_For

    def _stmt_While(self, node: ast.While) -> None:
        self._walrus(node.test)
        self._body(node.body)
        self._body(node.orelse)

    def _stmt_If(self, node: ast.If) -> None:
        self._walrus(node.test)
        self._body(node.body)
        self._body(node.orelse)

    def _stmt_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self._walrus(item.context_expr)
            if item.optional_vars is not None:
                self._bind_targets(item.optional_vars, None, _pos(node))
        self._body(node.body)

    _stmt_AsyncWith = _stmt_With

    def _stmt_Try(self, node: ast.Try) -> None:
        self._body(node.body)
        for handler in node.handlers:
            self._walrus(handler.type)
            if handler.name:
                self._bind(handler.name, Binding(_pos(handler)))
            self._body(handler.body)
        self._body(node.orelse)
        self._body(node.finalbody)

    _stmt_TryStar = _stmt_Try

    def _stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._bind_targets(target, None, _pos(node))

    def _stmt_Match(self, node: ast.AST) -> None:
        self._walrus(node.subject)  # type: ignore[attr-defined]
        for case in node.cases:  # type: ignore[attr-defined]
            for pattern in ast.walk(case.pattern):
                # MatchAs/MatchStar bind `name`, MatchMapping binds `rest`.
                for attribute in ("name", "rest"):
                    captured = getattr(pattern, attribute, None)
                    if isinstance(captured, str):
                        self._bind(captured, Binding(_pos(pattern)))
            self._walrus(case.guard)
            self._body(case.body)

    def _stmt_TypeAlias(self, node: ast.AST) -> None:
        # `type X = ...` (3.12+) binds X; its value is lazily evaluated.
        self._bind(node.name.id, Binding(_pos(node)))  # type: ignore[attr-defined]


def _all_args(args: ast.arguments) -> Iterable[ast.arg]:
    yield from args.posonlyargs
    yield from args.args
    if args.vararg:
        yield args.vararg
    yield from args.kwonlyargs
    if args.kwarg:
        yield args.kwarg


class Resolver:
    """Answers "what does this expression, evaluated in this scope, refer to"."""

    def __init__(self, tree: ast.Module, module: str = "", is_package: bool = False,
                 prefer: frozenset[str] = frozenset(), walrus: bool = True,
                 lines: list[str] | None = None) -> None:
        self.scopes = ScopeBuilder(module, is_package, walrus, lines).build(tree)
        # Star imports cannot be resolved statically; among several, prefer a
        # module from which the name is one we look for (`prefer`).
        self.prefer = prefer
        self._resolving: set[int] = set()

    def scope_of(self, node: ast.AST) -> Scope:
        return self.scopes[node]

    def lookup(self, name: str, scope: Scope, pos: Pos) -> Binding | str | None:
        """The binding of ``name`` used at ``pos`` in ``scope``.

        Returns a Binding, or a qualified name for star imports and builtins,
        or None when the name is unbound.
        """
        use_scope, use_pos = scope, pos
        while scope is not None:
            candidates = scope.bindings.get(name)
            if candidates:
                before = [b for b in candidates if b.pos < pos]
                if before:
                    return before[-1]
                if scope is not use_scope and scope.kind == "function":
                    return candidates[-1]  # closures read the cell at call time
                if scope is use_scope and scope.kind == "function":
                    return None  # a local used before assignment
                if scope.kind == "module" and scope is not use_scope:
                    return candidates[-1]  # the nested code usually runs later
            pos = scope.origin
            scope = scope.parent
            while scope is not None and scope.kind == "class":
                # Class bodies do not enclose the scopes nested in them.
                pos = scope.origin
                scope = scope.parent
        return self._star_or_builtin(name, use_scope, use_pos)

    def _star_or_builtin(self, name: str, scope: Scope | None, pos: Pos) -> str | None:
        if name in _BUILTIN_NAMES:
            return f"builtins.{name}"
        found: list[str] = []
        while scope is not None:
            found += [module for star_pos, module in scope.star_imports if star_pos < pos]
            pos, scope = scope.origin, scope.parent
        for module in found:
            if f"{module}.{name}" in self.prefer:
                return f"{module}.{name}"
        return f"{found[-1]}.{name}" if found else None

    def resolve(self, expr: ast.expr, scope: Scope, pos: Pos | None = None) -> Ref | None:
        """The qualified name ``expr`` stands for, if it is an import path."""
        if pos is None:
            pos = _pos(expr)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value, scope, pos)
            if base is None or base.called:
                return None
            return Ref(f"{base.qualname}.{expr.attr}")
        if not isinstance(expr, ast.Name):
            return None
        found = self.lookup(expr.id, scope, pos)
        if found is None:
            return None
        if isinstance(found, str):
            return Ref(found)
        if found.qualname is not None:
            return Ref(found.qualname)
        if found.alias_of is not None:
            return self._resolve_alias(found, scope)
        return None

    def _resolve_alias(self, binding: Binding, scope: Scope) -> Ref | None:
        # `memo = functools.lru_cache` or `memo = functools.lru_cache(maxsize=None)`.
        key = id(binding)
        if key in self._resolving:  # `x = x` and friends
            return None
        self._resolving.add(key)
        try:
            value = binding.alias_of
            owner = self._owner_scope(binding, scope)
            if isinstance(value, ast.Call):
                ref = self.resolve(value.func, owner, binding.pos)
                if ref is None or ref.called:
                    return None
                return Ref(ref.qualname, called=True, origin=value.func)
            return self.resolve(value, owner, binding.pos)  # type: ignore[arg-type]
        finally:
            self._resolving.discard(key)

    def _owner_scope(self, binding: Binding, scope: Scope) -> Scope:
        current: Scope | None = scope
        while current is not None:
            if any(b is binding for bs in current.bindings.values() for b in bs):
                return current
            current = current.parent
        return scope
