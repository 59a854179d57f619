"""Finding the live caches and the entries through which they hold instances.

Three kinds of table can hold an instance:

- a ``functools`` lru_cache wrapper, whose keys are ``(self, *args, ...)``
  for a method; bounded caches map each key to an internal link object that
  holds the key and the result, and that the wrapper (not the link) reports
  to the garbage collector;
- the function-semantics table of a boundcache wrapper (``Cls.m(obj, x)`` on
  a wrapper with function semantics), in the same key layout;
- boundcache's weak table, for instances with neither a ``__dict__`` nor a
  ``__boundcache__`` slot (and pydantic models with ``extra`` set to
  ``"forbid"`` or ``"allow"``): an instance whose cached results, of a method
  or a ``cached_property``, refer back to it is kept alive by its own
  container (contract 3.5).

An object in the first key position counts as ``self`` only when its class
(or a base) has the wrapper as an attribute, directly or under ``property``,
``staticmethod``, ``classmethod`` or a ``functools.wraps`` decorator; a
function cache that happens to take an instance first does not hold it "as
self". Per-instance boundcache caches kept in ``__dict__`` or a slot never pin:
they hold no reference to their instance.
"""

from __future__ import annotations

import functools
import gc
import sys
from types import FunctionType, ModuleType

from .._backend import core as _core

_LRU_TYPE = getattr(functools, "_lru_cache_wrapper", None)
if not isinstance(_LRU_TYPE, type):  # the pure-Python fallback: nothing to find
    _LRU_TYPE = None
_BC_TYPES = (_core.CachedFunction, _core.CachedMethod)


class Cache:
    """One live wrapper and the entries through which it holds instances."""

    __slots__ = ("wrapper", "kind", "holds")

    def __init__(self, wrapper: object, kind: str):
        self.wrapper = wrapper  # never explored: a stop object of the graph
        self.kind = kind
        # (id of the held instance, [ids the release starts from]) per entry
        self.holds: list[tuple[int, list[int]]] = []


def find_wrappers() -> list[object]:
    wrappers = []
    lru_type = _LRU_TYPE
    bc_types = _BC_TYPES
    for o in gc.get_objects():
        t = type(o)
        if t is lru_type or t in bc_types:
            wrappers.append(o)
    return wrappers


def stop_ids(wrappers: list[object]) -> set[int]:
    """Objects the exploration never enters: shared by construction."""
    stop = {id(sys.modules), id(wrappers)}
    stop.update(map(id, wrappers))
    for m in list(sys.modules.values()):
        if isinstance(m, ModuleType):
            stop.add(id(m.__dict__))
    return stop


def _add_wrapped(value: object, out: set[int], depth: int = 0) -> None:
    if depth > 8:
        return
    t = type(value)
    if t is _LRU_TYPE or t in _BC_TYPES:
        out.add(id(value))
    elif isinstance(value, property):
        for f in (value.fget, value.fset, value.fdel):  # type: ignore[attr-defined]
            if f is not None:
                _add_wrapped(f, out, depth + 1)
    elif isinstance(value, (staticmethod, classmethod)):
        _add_wrapped(value.__func__, out, depth + 1)  # type: ignore[attr-defined]
    elif t is FunctionType:
        # functools.wraps puts __wrapped__ in the function's __dict__; read it
        # there, so that no user __getattr__ runs.
        inner = value.__dict__.get("__wrapped__")
        if inner is not None:
            _add_wrapped(inner, out, depth + 1)


class SelfTest:
    """Is an object held "as self" by a given wrapper? Memoized per class."""

    def __init__(self) -> None:
        self._memo: dict[type, set[int]] = {}

    def wrappers_of(self, cls: type) -> set[int]:
        got = self._memo.get(cls)
        if got is None:
            got = set()
            for base in getattr(cls, "__mro__", ()):
                try:
                    values = list(vars(base).values())
                except TypeError:
                    continue
                for value in values:
                    _add_wrapped(value, got)
            self._memo[cls] = got
        return got

    def clear(self) -> None:
        self._memo.clear()


def functools_cache_dict(w: object) -> dict | None:
    """The cache dict of a functools wrapper (one of its referents)."""
    info = w.cache_info()  # type: ignore[attr-defined]
    own = getattr(w, "__dict__", None)
    for r in gc.get_referents(w):
        if type(r) is dict and r is not own and len(r) == info.currsize:
            return r
    return None


def collect_functools(w: object, cache: Cache, graph, selftest: SelfTest, is_candidate) -> None:
    """Releases the entries of `w` that hold an instance as self."""
    table = functools_cache_dict(w)
    if not table:
        return
    graph.stop_ids.add(id(table))
    wid = id(w)
    wrappers_of = selftest.wrappers_of
    # items(), not table[key]: a lookup would run the instances' __hash__/__eq__.
    held = [
        (k, v)
        for k, v in table.items()
        if type(k) is tuple and k and wid in wrappers_of(type(k[0])) and (is_candidate is None or is_candidate(k[0]))
    ]
    if not held:
        return
    if w.cache_info().maxsize is None:  # type: ignore[attr-defined]
        # key -> result: the dict holds one reference to each.
        for k, result in held:
            cache.holds.append((id(k[0]), [graph.release(k, 1), graph.release(result, 1)]))
        return
    # Bounded: key -> link. In CPython 3.10 to 3.13 the link is not tracked by
    # the GC; it holds the key and the result, and the wrapper reports both.
    links_visible = bool(gc.get_referents(held[0][1]))
    results = {} if links_visible else _bounded_results(w, table)
    for k, link in held:
        roots = [graph.release(k, 1 if links_visible else 2), graph.release(link, 1)]
        result = results.get(id(k), results)
        if result is not results:
            roots.append(graph.release(result, 1))
        cache.holds.append((id(k[0]), roots))


def _bounded_results(w: object, table: dict) -> dict[int, object]:
    """{id(key): result} read from the wrapper's referents, which list each
    link's key then its result; empty if they do not read that way."""
    refs = gc.get_referents(w)
    key_ids = {id(k) for k in table}
    start = next((i for i, r in enumerate(refs) if id(r) in key_ids), None)
    if start is None:
        return {}
    pairs = refs[start : start + 2 * len(table)]
    keys, values = pairs[0::2], pairs[1::2]
    if len(values) != len(table) or any(id(k) not in key_ids for k in keys):
        return {}
    return {id(k): v for k, v in zip(keys, values)}


def collect_boundcache(w: object, cache: Cache, graph, selftest: SelfTest, is_candidate) -> None:
    """Releases the entries of `w`'s function-semantics table that hold an
    instance as self (``Cls.m(obj, ...)`` on a function wrapper)."""
    # The key objects the table holds: the pure core's differ from the
    # tuples its _entries() shows (they are hashed once, in a list).
    entries = getattr(w, "_stored_entries", w._entries)()  # type: ignore[attr-defined]
    if not entries:
        return
    wid = id(w)
    wrappers_of = selftest.wrappers_of
    for k, v in entries:
        # A tuple in the C++ core, a list (hashed once) in the pure one.
        if isinstance(k, (tuple, list)) and k and wid in wrappers_of(type(k[0])):
            if is_candidate is None or is_candidate(k[0]):
                # The table holds one reference to the key and one to the value.
                cache.holds.append((id(k[0]), [graph.release(k, 1), graph.release(v, 1)]))


def collect_weak_table(by_wrapper: dict[int, Cache], graph, is_candidate) -> dict[int, tuple[Cache, int]]:
    """Releases the weak table's containers; their owners are pinned if
    nothing but their own cached results (methods' entries or
    ``cached_property`` values) refers to them.

    Returns ``{id(descriptor): (Cache, values)}`` for the ``cached_property``
    descriptors whose values the table holds: they have no wrapper, so no
    row yet."""
    properties: dict[int, tuple[Cache, int]] = {}
    for container in _core._weak_table_containers():
        owner = container._weak_owner
        if owner is None or (is_candidate is not None and not is_candidate(owner)):
            continue
        contents = container._contents()
        values = container._properties()
        if not values and not any(items for _, items in contents):
            continue
        graph.release(container, 1)  # the table's reference
        for w, items in contents:
            cache = by_wrapper.get(id(w))
            if cache is None or not items:
                continue
            # Only this method's entries: an owner pinned by another method's
            # results is that method's, not this one's.
            roots = []
            for k, v in items:
                roots.append(id(k))
                roots.append(id(v))
            cache.holds.append((id(owner), roots))
        for name, value in values:
            descriptor = find_property(type(owner), name)
            if descriptor is None:
                continue
            cache, n = properties.get(id(descriptor)) or (Cache(descriptor, "boundcache"), 0)
            cache.holds.append((id(owner), [id(value)]))
            properties[id(descriptor)] = (cache, n + 1)
    return properties


def find_property(cls: type, name: str):
    """The boundcache ``cached_property`` named `name` on `cls`, read from
    the classes' namespaces (no descriptor or metaclass code runs)."""
    for klass in getattr(cls, "__mro__", ()):
        found = klass.__dict__.get(name)
        if found is not None:
            return found if isinstance(found, _core.cached_property) else None
    return None
