"""``boundcache.audit()``: which caches of this process pin instances, and how
much memory those instances keep. Contract section 6; method in docs/audit.md.

- ``_caches``: finding the live caches and the entries that hold instances;
- ``_retained``: what would be freed if the caches let go (trial deletion);
- ``_report``: rows and the printed table;
- ``_cli``: ``python -m boundcache audit -- script.py``.
"""

from __future__ import annotations

import gc
import sys
from collections import Counter
from dataclasses import dataclass, field, replace

from ._caches import (
    _BC_TYPES,
    Cache,
    SelfTest,
    collect_boundcache,
    collect_functools,
    collect_weak_table,
    find_wrappers,
    stop_ids,
)
from ._report import CacheRow, Report, format_bytes, parse_bytes
from ._retained import Graph

__all__ = ["CacheRow", "Report", "audit", "format_bytes", "parse_bytes"]

# Bound on the objects explored from the held instances (see docs/audit.md).
MAX_OBJECTS = 2_000_000


def audit(*, min_bytes: int = 0, include_stdlib: bool = True, collect: bool = True) -> Report:
    """Walks the live caches of this process, functools' and boundcache's.

    Returns a :class:`Report`: one :class:`CacheRow` a cache, with
    ``qualname``, ``kind`` (``"functools"`` or ``"boundcache"``), ``entries``,
    ``pinned`` (distinct instances the cache holds as ``self`` that nothing
    else keeps alive), ``held`` (all instances it holds as ``self``) and
    ``bytes`` (what the pinned instances keep reachable that nothing else
    references). Printing it gives a table sorted by bytes, largest first.

    *min_bytes* drops the rows below that many bytes; ``include_stdlib=False``
    drops the caches of standard-library functions. *collect* runs
    :func:`gc.collect` first, so that unreachable garbage is not mistaken for
    a live reference.
    """
    result = analyse(collect=collect)
    keep = [
        i
        for i, row in enumerate(result.rows)
        if (include_stdlib or not _is_stdlib(row.module)) and row.bytes >= min_bytes
    ]
    return result.report(keep)


@dataclass
class Analysis:
    """Rows plus what the totals and the pytest plugin need: for each row the
    ids of its pinned instances and of the objects it retains (the objects
    themselves are released before this is returned)."""

    rows: list[CacheRow]
    pinned_ids: list[set[int]]
    retained_ids: list[set[int]]
    sizes: dict[int, int] = field(default_factory=dict)
    truncated: bool = False
    # Per row, the pinned instances that are values in a bounded cache.
    value_ids: list[set[int]] = field(default_factory=list)
    # Per row, how the cache holds its instances (_caches.KEYED_ON_SELF, SERVED_AS_FUNCTOOLS, WEAK_TABLE).
    ways: list[frozenset[str]] = field(default_factory=list)

    def report(self, keep=None) -> Report:
        keep = range(len(self.rows)) if keep is None else keep
        pinned: set[int] = set()
        retained: set[int] = set()
        for i in keep:
            pinned |= self.pinned_ids[i]
            retained |= self.retained_ids[i]
        sizes = self.sizes
        return Report(
            [self.rows[i] for i in keep],
            total_bytes=sum(sizes[oid] for oid in retained),
            total_pinned=len(pinned),
        )


def unavailable() -> str | None:
    """Why this interpreter cannot audit (PyPy), or None."""
    if hasattr(sys, "getrefcount"):
        return None
    return (
        f"boundcache.audit() finds what caches pin by counting references, which "
        f"{sys.implementation.name} does not keep; run the audit on CPython"
    )


def analyse(*, collect: bool = True, candidates: set[int] | None = None, forget=(), wrappers=None,
            containers=None) -> Analysis:
    """The whole audit. `candidates`, a set of ids, restricts the instances
    considered (the pytest plugin: made during the test); `forget` lists containers
    whose references are about to go (the plugin: pytest's funcargs).
    `wrappers` and `containers` (weak-table containers) restrict the caches
    looked at; by default, every one in the process (`containers` is emptied)."""
    why = unavailable()
    if why:
        raise RuntimeError(why)
    if collect:
        gc.collect()
    graph = Graph(set(), MAX_OBJECTS)
    try:
        caches = _release_entries(graph, candidates, wrappers, containers)
        graph.explore()
        for container in forget:
            graph.forget_referrer(container)
        graph.solve()
        return _rows(caches, graph)
    finally:
        graph.close()


def _release_entries(graph: Graph, candidates, wrappers, containers) -> list[tuple[Cache, CacheRow]]:
    # Every reference to a cached object taken here is dropped on return,
    # before the graph reads reference counts.
    if wrappers is None:
        wrappers = find_wrappers()
    graph.stop_ids = stop_ids(wrappers)
    selftest = SelfTest()
    caches: list[tuple[Cache, CacheRow]] = []
    by_wrapper: dict[int, Cache] = {}
    for w in wrappers:
        is_functools = not isinstance(w, _BC_TYPES)
        cache = Cache(w, "functools" if is_functools else "boundcache")
        if is_functools:
            collect_functools(w, cache, graph, selftest, candidates)
        else:
            collect_boundcache(w, cache, graph, selftest, candidates)
        by_wrapper[id(w)] = cache
        caches.append((cache, _row_template(w, cache.kind)))
    for cache, values, qualname, module in collect_weak_table(by_wrapper, graph, candidates, containers):
        # A cached_property has no cache_info(): its entries are the values
        # that the weak table holds (values kept in a __dict__ or a slot never pin).
        row = CacheRow(
            qualname=qualname,
            kind="boundcache",
            entries=values,
            pinned=0,
            bytes=0,
            module=module,
            patched=cache.wrapper is not None and _replaced_by_patch(cache.wrapper),
        )
        caches.append((cache, row))
    selftest.clear()
    return caches


def _replaced_by_patch(cache) -> bool:
    # Only a process that called boundcache.patch() has the module loaded.
    patch = sys.modules.get("boundcache._patch")
    return patch is not None and patch.is_replaced(cache)


def _row_template(w, kind: str) -> CacheRow:
    info = w.cache_info()
    qualname = getattr(w, "__qualname__", None)
    if not isinstance(qualname, str):
        qualname = getattr(getattr(w, "__wrapped__", None), "__qualname__", None) or repr(w)
    module = getattr(w, "__module__", None)
    return CacheRow(
        qualname=qualname,
        kind=kind,
        entries=info.currsize,
        pinned=0,
        bytes=0,
        module=module if isinstance(module, str) else None,
        maxsize=info.maxsize,
        patched=_replaced_by_patch(w),
    )


def _rows(caches, graph: Graph) -> Analysis:
    freed = graph.freed
    rows, pinned_ids, retained_ids, value_ids, ways = [], [], [], [], []
    sizes: dict[int, int] = {}
    for cache, row in caches:
        held = {owner for owner, _ in cache.holds}
        pinned = {owner for owner in held if owner in freed}
        retained: set[int] = set()
        if pinned:
            retained = _retained_by(graph, cache, pinned)
            # A pinned instance not reached from its entries (weak table: the
            # results that pin it belong to another method) is not this row's,
            # nor is what its entries hold.
            if not pinned <= retained:
                pinned &= retained
                retained = _retained_by(graph, cache, pinned)
        missing = [oid for oid in retained if oid not in sizes]
        for oid in missing:
            sizes[oid] = graph.size((oid,))
        classes = Counter(type(graph.obj(oid)).__name__ for oid in pinned)
        values = set()
        if row.maxsize is not None:
            values = {oid for oid in pinned if is_value_type(type(graph.obj(oid)))}
        rows.append(
            replace(
                row,
                pinned=len(pinned),
                held=len(held),
                bytes=sum(sizes[oid] for oid in retained),
                classes=tuple(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))),
                values=len(values),
            )
        )
        pinned_ids.append(pinned)
        retained_ids.append(retained)
        value_ids.append(values)
        ways.append(frozenset(cache.ways))
    return Analysis(rows, pinned_ids, retained_ids, sizes, graph.truncated, value_ids, ways)


_VALUE_BUILTINS = (tuple, int, float, complex, str, bytes, frozenset)


def _defining_class(cls: type, name: str) -> type | None:
    # Read the class dictionaries along the MRO: no user __getattr__ runs.
    for base in getattr(cls, "__mro__", ()):
        try:
            if name in vars(base):
                return base
        except TypeError:
            continue
    return None


def is_value_type(cls: type) -> bool:
    """Do instances of ``cls`` compare and hash by value?

    Tuples and named tuples (and subclasses of the other immutable builtins)
    that keep the builtin's ``__eq__``/``__hash__``; frozen dataclasses with
    generated equality; any class that defines both ``__eq__`` and a
    ``__hash__`` of its own (value semantics, as a rule).
    """
    eq, hash_ = _defining_class(cls, "__eq__"), _defining_class(cls, "__hash__")
    if eq is None or hash_ is None or eq is object or hash_ is object:
        return False
    own_hash = vars(hash_).get("__hash__")
    if own_hash is None or own_hash is object.__hash__:
        return False  # unhashable, or `__hash__ = object.__hash__`: identity
    if eq in _VALUE_BUILTINS and hash_ in _VALUE_BUILTINS:
        return True
    params = getattr(cls, "__dataclass_params__", None)
    if params is not None and getattr(params, "frozen", False) and getattr(params, "eq", False):
        return True
    return eq is not None and hash_ is not None


def _retained_by(graph: Graph, cache: Cache, owners: set[int]) -> set[int]:
    if not owners:
        return set()
    return graph.reach(oid for owner, roots in cache.holds if owner in owners for oid in roots)


def _is_stdlib(module: str | None) -> bool:
    if not module:
        return False
    top = module.partition(".")[0]
    return top in sys.stdlib_module_names or top == "__future__"
