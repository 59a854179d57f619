"""The pytest plugin's check: instances made during a test, still pinned after it.

Its cost follows what the test did, not the size of the process:

- a :class:`Window` opens before the test with :func:`gc.freeze`, which moves
  every object that exists into the collector's permanent generation: until
  it closes, :func:`gc.get_objects` and :func:`gc.collect` see only the
  objects made since, those of the test;
- only the caches that can hold those objects as ``self`` are read: the
  wrappers found on their classes, the wrappers made during the test, and
  the weak-table containers made during the test.

While a window is open, garbage cycles of objects older than the test are
not collected (they are at the first collection after it closes). Where
objects were frozen before the test (by the program itself), a window
remembers every object's identity instead, at a cost that follows the size
of the process.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass

from .._backend import core as _core
from . import analyse
from ._caches import _BC_TYPES, _HEAPTYPE, _LRU_TYPE, KEYED_ON_SELF, SERVED_AS_FUNCTOOLS, WEAK_TABLE, SelfTest
from ._report import format_bytes

# Which attributes of each class hold wrappers, kept from test to test.
_BASES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def snapshot() -> dict[int, int]:
    """``{id(obj): id(type(obj))}`` for every object the GC tracks (every
    instance of a Python class is tracked). The class identity makes it
    unlikely that a new object at a recycled address passes for an old one."""
    objects = gc.get_objects()
    try:
        return dict(zip(map(id, objects), map(id, map(type, objects))))
    finally:
        del objects


class _Marker:
    """Made right after the freeze: the collector sees it while the window is
    intact, and no longer once the test froze objects itself."""

    __slots__ = ()


class Window:
    """What a test makes, from its setup to the end of its teardown."""

    __slots__ = ("frozen", "marker", "before", "disturbed")
    # Whether the program freezes objects itself: asked once (it costs a walk
    # of every frozen object), then windows remember identities instead.
    program_freezes: bool | None = None

    def __init__(self) -> None:
        self.before: dict[int, int] | None = None
        self.frozen = self.disturbed = False
        if Window.program_freezes is None:
            Window.program_freezes = gc.get_freeze_count() > 0
        if Window.program_freezes:  # unfreezing ours would unfreeze the program's too
            self.before = snapshot()
        else:
            gc.freeze()  # this window itself is frozen with the rest
            self.frozen = True
        self.marker = _Marker()

    def new_objects(self) -> list:
        """The objects made since the window opened that are still alive."""
        gc.collect()
        before = self.before
        if before is not None:
            return [o for o in gc.get_objects() if before.get(id(o)) != id(type(o))]
        return gc.get_objects()

    def intact(self, new_ids: set[int]) -> bool:
        """False when the test froze or unfroze objects itself: then which
        objects are new cannot be told (`new_ids` from new_objects())."""
        if self.before is None and (id(self) in new_ids or id(self.marker) not in new_ids):
            self.disturbed = True
        new_ids.discard(id(self.marker))
        return not self.disturbed

    def close(self) -> None:
        if self.disturbed and Window.program_freezes is False:
            Window.program_freezes = True  # the program freezes: leave its objects frozen
        elif self.frozen:
            gc.unfreeze()
        self.frozen = False


@dataclass
class Leaks:
    ids: set[int]  # every instance reported, leaked or value
    message: str  # why the test fails; "" if nothing fails it
    values: str = ""  # the bounded caches of values, reported without failing


def find(window: Window, exclude: set[int], forget=(), *, phase: str = "test",
         strict: bool = False) -> Leaks | None:
    """Pins of instances made during the test. Values held by bounded caches
    (tuples, named tuples, frozen dataclasses...) fail it only if ``strict``;
    they are described in ``Leaks.values`` otherwise."""
    new = window.new_objects()
    new_ids, wrappers, containers = _caches_of(new, exclude)
    del new  # the audit reads reference counts: no reference of ours may be left
    if not window.intact(new_ids) or not new_ids:
        return None
    result = analyse(collect=False, candidates=new_ids, forget=forget,
                     wrappers=wrappers, containers=containers)
    value_ids = result.value_ids or [set() for _ in result.rows]
    everything = set().union(*(ids for ids in result.pinned_ids if ids)) if any(result.pinned_ids) else set()
    if not everything:
        return None
    found, values = [], []
    for row, ids, vids, ways in zip(result.rows, result.pinned_ids, value_ids, result.ways):
        if not ids:
            continue
        if strict or ids - vids:
            found.append((row, ids, ways))
        else:
            values.append(row)
    value_text = _values_message(values, phase)
    if not found:
        return Leaks(everything, "", value_text)
    found.sort(key=lambda item: (-item[0].bytes, -item[0].pinned, item[0].name))
    return Leaks(everything, _pins_message(found, phase), value_text)


def _caches_of(new: list, exclude: set[int]) -> tuple[set[int], list, list]:
    """Of the objects made during the test: the ids of those that a cache can
    hold as self (instances of Python classes), the wrappers that can hold
    them (on their classes, or made during the test) and the weak-table
    containers made during the test."""
    lru_type, bc_types, container_type = _LRU_TYPE, _BC_TYPES, _core.InstanceCaches
    new_ids: set[int] = set()
    classes: set[type] = set()
    wrappers: dict[int, object] = {}
    containers = []
    for o in new:
        t = type(o)
        if t is lru_type or t in bc_types:
            wrappers[id(o)] = o
        elif t is container_type:
            containers.append(o)
        elif t.__flags__ & _HEAPTYPE:
            classes.add(t)
            new_ids.add(id(o))
    new_ids -= exclude
    selftest = SelfTest(_BASES)
    for cls in classes:
        wrappers.update(selftest.wrappers_of(cls))
    for container in containers:
        for w, _ in container._contents():
            wrappers[id(w)] = w
    return new_ids, list(wrappers.values()), containers


def _pins_message(found, phase: str) -> str:
    ids = set().union(*(ids for _, ids, _ in found))
    n = len(ids)
    lines = [
        f"boundcache: {n} instance{'s' if n != 1 else ''} created during this {phase} "
        f"{'are' if n != 1 else 'is'} still pinned by a cache:"
    ]
    evicting = False  # some pins go when newer entries evict them
    ways_seen: set[tuple[str, str]] = set()
    for row, _, ways in found:
        classes = ", ".join(f"{count} {name}" for name, count in row.classes)
        until = ""
        if ways - {WEAK_TABLE} and row.maxsize is not None:
            until = f", until newer entries evict {'them' if row.pinned != 1 else 'it'} (maxsize={row.maxsize})"
            evicting = True
        lines.append(
            f"  {row.kind} cache {row.name} pins {row.pinned} instance{'s' if row.pinned != 1 else ''} "
            f"({classes}) holding {format_bytes(row.bytes)}{until}"
        )
        ways_seen.update((row.kind, way) for way in ways)
    if {way for _, way in ways_seen} - {WEAK_TABLE}:
        evict = " or newer entries evict them" if evicting else ""
        lines.append(f"Nothing but the cache refers to them, so they stay alive until it is cleared{evict}.")
    if ("functools", KEYED_ON_SELF) in ways_seen:
        lines.append("functools keys its cache on self: use boundcache.lru_cache (one cache per "
                     "instance, freed with it), or clear the cache after use.")
    if ("boundcache", KEYED_ON_SELF) in ways_seen:
        lines.append("A boundcache function keys on its arguments, as functools does: define it in the "
                     "class body (a method gets one cache per instance), or clear the cache after use.")
    if ("boundcache", SERVED_AS_FUNCTOOLS) in ways_seen:
        lines.append("boundcache serves these classes as functools does, keyed on self, as they have "
                     "nowhere to keep a cache per instance: add '__boundcache__' to __slots__ "
                     "(weakref_slot=True for dataclasses and attrs), or clear the cache after use.")
    if ("boundcache", WEAK_TABLE) in ways_seen:
        lines.append("boundcache keeps the caches of these instances in its weak table (no __dict__, "
                     "no '__boundcache__' slot), and their own cached results refer back to them, so "
                     "they live as long as those results: add '__boundcache__' to __slots__, or cache "
                     "something that does not refer to the instance.")
    return "\n".join(lines)


def _values_message(rows, phase: str) -> str:
    if not rows:
        return ""
    lines = [f"boundcache: values created during this {phase} are kept by bounded caches "
             "(not a failure: equal values share entries, maxsize bounds them; "
             "--boundcache-strict fails on them):"]
    for row in sorted(rows, key=lambda r: (-r.bytes, r.name)):
        classes = ", ".join(f"{count} {name}" for name, count in row.classes)
        lines.append(f"  {row.kind} cache {row.name} (maxsize={row.maxsize}) keeps {row.pinned} "
                     f"value{'s' if row.pinned != 1 else ''} ({classes}) holding {format_bytes(row.bytes)}")
    return "\n".join(lines)
