"""Finding the live caches and the entries through which they hold instances.

Three kinds of table can hold an instance:

- a ``functools`` lru_cache wrapper, whose keys are ``(self, *args, ...)``
  for a method; bounded caches map each key to an internal link object that
  holds the key and the result, and that the wrapper (not the link) reports
  to the garbage collector;
- the own table of a boundcache wrapper, in the same key layout: a function
  wrapper called as ``Cls.f(obj, x)``, or a method wrapper serving owners
  that have nowhere to keep a cache as functools serves them (contract 3.5);
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
import weakref
from types import FunctionType, ModuleType

from .._backend import core as _core

_LRU_TYPE = getattr(functools, "_lru_cache_wrapper", None)
if not isinstance(_LRU_TYPE, type):  # the pure-Python fallback: nothing to find
    _LRU_TYPE = None
_BC_TYPES = (_core.CachedFunction, _core.CachedMethod)


# How a cache holds an instance: keyed on it as first argument (functools'
# wrappers, and boundcache's function wrappers called as `Cls.f(obj)`), in a
# boundcache method wrapper's own table (owners served as functools serves
# them, contract 3.5), or through results that refer back to an owner in the
# weak table.
KEYED_ON_SELF = "keyed on self"
SERVED_AS_FUNCTOOLS = "served as functools"
WEAK_TABLE = "weak table"


class Cache:
    """One live wrapper and the entries through which it holds instances."""

    __slots__ = ("wrapper", "kind", "holds", "ways")

    def __init__(self, wrapper: object, kind: str):
        self.wrapper = wrapper  # never explored: a stop object of the graph
        self.kind = kind
        # (id of the held instance, [ids the release starts from]) per entry
        self.holds: list[tuple[int, list[int]]] = []
        self.ways: set[str] = set()  # how it holds them: KEYED_ON_SELF...

    def hold(self, owner: int, roots: list[int], way: str = KEYED_ON_SELF) -> None:
        self.holds.append((owner, roots))
        self.ways.add(way)


def find_wrappers() -> list[object]:
    wrappers = []
    lru_type = _LRU_TYPE
    bc_types = _BC_TYPES
    for o in gc.get_objects():
        t = type(o)
        if t is lru_type or t in bc_types:
            wrappers.append(o)
    return wrappers


_module_dicts: tuple[int, frozenset[int]] = (-1, frozenset())


def stop_ids(wrappers: list[object]) -> set[int]:
    """Objects the exploration never enters: shared by construction."""
    global _module_dicts
    stop = {id(sys.modules), id(wrappers)}
    stop.update(map(id, wrappers))
    count, dicts = _module_dicts
    if count != len(sys.modules):  # read again only when modules come or go
        dicts = frozenset(id(m.__dict__) for m in list(sys.modules.values()) if isinstance(m, ModuleType))
        _module_dicts = (len(sys.modules), dicts)
    stop.update(dicts)
    return stop


def _add_wrapped(value: object, out: dict[int, object], depth: int = 0) -> bool:
    """Adds the wrappers that `value` is or wraps; True if there were any."""
    if depth > 8:
        return False
    t = type(value)
    if t is _LRU_TYPE or t in _BC_TYPES:
        out[id(value)] = value
        return True
    found = False
    if isinstance(value, property):
        for f in (value.fget, value.fset, value.fdel):  # type: ignore[attr-defined]
            if f is not None:
                found = _add_wrapped(f, out, depth + 1) or found
    elif isinstance(value, (staticmethod, classmethod)):
        found = _add_wrapped(value.__func__, out, depth + 1)  # type: ignore[attr-defined]
    elif t is FunctionType:
        # functools.wraps puts __wrapped__ in the function's __dict__; read it
        # there, so that no user __getattr__ runs.
        inner = value.__dict__.get("__wrapped__")
        if inner is not None:
            found = _add_wrapped(inner, out, depth + 1)
    return found


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class that can take a wrapper as attribute


class SelfTest:
    """Is an object held "as self" by a given wrapper? Memoized per class.

    `bases`, a WeakKeyDictionary kept between audits (the pytest plugin's),
    remembers which attributes of each class hold wrappers for as long as the
    class's namespace holds the same objects."""

    def __init__(self, bases: weakref.WeakKeyDictionary | None = None) -> None:
        self._memo: dict[type, dict[int, object]] = {}
        self._bases = bases

    def wrappers_of(self, cls: type) -> dict[int, object]:
        """The wrappers that hold instances of `cls` as self, by id."""
        got = self._memo.get(cls)
        if got is None:
            got = {}
            for base in getattr(cls, "__mro__", ()):
                if base.__flags__ & _HEAPTYPE:  # builtins hold no wrapper
                    for value in self._wrapping_values(base):
                        _add_wrapped(value, got)
            self._memo[cls] = got
        return got

    def _wrapping_values(self, base: type) -> list:
        namespace = vars(base)
        if self._bases is None:
            return list(namespace.values())
        fingerprint = tuple(map(id, namespace.values()))
        known = self._bases.get(base)
        if known is None or known[0] != fingerprint:
            names = [name for name, value in list(namespace.items()) if _add_wrapped(value, {})]
            known = self._bases[base] = (fingerprint, names)
        return [namespace[name] for name in known[1] if name in namespace]

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


def _candidate_keys(items, candidates: set[int] | None):
    """The entries whose key could hold an instance as self: a tuple whose
    first element is one of `candidates` (ids) if given."""
    return [(k, v) for k, v in items if type(k) is tuple and k and (candidates is None or id(k[0]) in candidates)]


def collect_functools(w: object, cache: Cache, graph, selftest: SelfTest, candidates: set[int] | None) -> None:
    """Releases the entries of `w` that hold an instance as self."""
    table = functools_cache_dict(w)
    if not table:
        return
    graph.stop_ids.add(id(table))
    wid = id(w)
    wrappers_of = selftest.wrappers_of
    # items(), not table[key]: a lookup would run the instances' __hash__/__eq__.
    held = [(k, v) for k, v in _candidate_keys(table.items(), candidates) if wid in wrappers_of(type(k[0]))]
    if not held:
        return
    if w.cache_info().maxsize is None:  # type: ignore[attr-defined]
        # key -> result: the dict holds one reference to each.
        for k, result in held:
            cache.hold(id(k[0]), [graph.release(k, 1), graph.release(result, 1)])
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
        cache.hold(id(k[0]), roots)


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


def collect_boundcache(w: object, cache: Cache, graph, selftest: SelfTest, candidates: set[int] | None) -> None:
    """Releases the entries of `w`'s own table, keyed as functools keys, that
    hold an instance as self: ``Cls.f(obj, ...)`` on a function wrapper, or
    an owner that a method wrapper serves as functools serves it. The same
    rules as for functools' caches."""
    # The key objects the table holds, and how many references it holds to
    # each: the pure core's keys differ from the tuples its _entries() shows
    # (they are hashed once, in a list), and its OrderedDict holds two.
    stored = getattr(w, "_stored_entries", None)
    entries = stored() if stored else [(k, v, 1) for k, v in w._entries()]  # type: ignore[attr-defined]
    if not entries:
        return
    wid = id(w)
    wrappers_of = selftest.wrappers_of
    way = SERVED_AS_FUNCTOOLS if type(w) is _core.CachedMethod else KEYED_ON_SELF
    for k, v, key_refs in entries:
        # A tuple in the C++ core, a list subclass (hashed once) in the pure one.
        if isinstance(k, (tuple, list)) and k and (candidates is None or id(k[0]) in candidates):
            if wid in wrappers_of(type(k[0])):
                cache.hold(id(k[0]), [graph.release(k, key_refs), graph.release(v, 1)], way)


def collect_weak_table(by_wrapper: dict[int, Cache], graph, candidates: set[int] | None,
                       containers: list | None = None) -> list[tuple[Cache, int, str, str | None]]:
    """Releases the weak table's containers (all of them, or `containers`);
    their owners are pinned if nothing but their own cached results (methods'
    entries or ``cached_property`` values) refers to them.

    Returns ``(Cache, values, qualname, module)`` for each ``cached_property``
    whose values the table holds: they have no wrapper, so no row yet."""
    properties: dict[object, list] = {}
    if containers is None:
        containers = _core._weak_table_containers()
    while containers:
        # Popped, so that no reference of ours is left when the counts are read.
        container = containers.pop()
        owner = container._weak_owner
        if owner is None or (candidates is not None and id(owner) not in candidates):
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
            cache.hold(id(owner), roots, WEAK_TABLE)
        for name, value in values:
            cls = type(owner)
            descriptor = find_property(cls, name)
            # A value whose property the class no longer shows still gets a
            # row, named after the class and the name it is kept under.
            key = id(descriptor) if descriptor is not None else (id(cls), name)
            entry = properties.get(key)
            if entry is None:
                entry = properties[key] = [Cache(descriptor, "boundcache"), 0, *_property_name(descriptor, cls, name)]
            entry[0].hold(id(owner), [id(value)], WEAK_TABLE)
            entry[1] += 1
    return [tuple(entry) for entry in properties.values()]


def find_property(cls: type, name: str):
    """The boundcache ``cached_property`` that keeps its values under `name`
    for instances of `cls`: the first along the MRO whose ``attrname`` is
    `name` (a subclass may give the name to another descriptor and reach the
    base's through ``super()``). Read from the classes' namespaces: no
    descriptor or metaclass code runs."""
    for klass in getattr(cls, "__mro__", ()):
        found = vars(klass).get(name)
        if isinstance(found, _core.cached_property) and found.attrname == name:
            return found
    return None


def _property_name(descriptor, cls: type, name: str) -> tuple[str, str | None]:
    func = getattr(descriptor, "func", None)
    qualname = getattr(func, "__qualname__", None)
    module = getattr(func, "__module__", None)
    if not isinstance(qualname, str):
        qualname, module = f"{cls.__qualname__}.{name}", cls.__module__
    return qualname, module if isinstance(module, str) else None
