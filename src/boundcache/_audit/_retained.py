"""What would be freed if the caches let go: a trial deletion over a subgraph.

The caches' entries are *released* in simulation: the references that the
cache structures hold to them are taken as gone. From the released objects
the graph is explored with :func:`gc.get_referents` (the references that the
garbage collector itself sees), stopping at classes, modules, module
namespaces and the caches themselves, which are shared by construction.

Then, as CPython's collector does for a generation: every explored object's
reference count is compared with the references that the explored objects
(and the released cache structures) account for. An object with more is
referenced from outside, and so is everything it reaches; the rest would be
freed. This is exact for reference counting and for cycles alike, as far as
the objects report their references (see docs/audit.md for the limits).

The audit itself must not disturb the counts it reads, so this module keeps
exactly one strong reference to each explored object (``objs``) and reads
the counts in a function of its own after everything else has let go, with
a probe object of known count to calibrate the interpreter's own temporary
references (which differ between Python versions).
"""

from __future__ import annotations

import gc
import sys
from types import ModuleType

# Never entered: shared by construction, and their referents lead everywhere.
_STOP_TYPES = (type, ModuleType)


class Graph:
    def __init__(self, stop_ids: set[int], max_objects: int):
        self.objs: dict[int, object] = {}  # the audit's only strong references
        self.indeg: dict[int, int] = {}  # references accounted for
        self.children: dict[int, list[int]] = {}
        self.stop_ids = stop_ids
        self.max_objects = max_objects
        self.truncated = False
        self._pending: list[object] = []
        self.freed: set[int] = set()

    # -- building ---------------------------------------------------------

    def release(self, obj: object, refs: int = 1) -> int:
        """Counts `refs` references to `obj` as gone and explores from it."""
        oid = id(obj)
        if oid in self.stop_ids or isinstance(obj, _STOP_TYPES):
            return oid
        indeg = self.indeg
        indeg[oid] = indeg.get(oid, 0) + refs
        if oid not in self.objs:
            self.objs[oid] = obj
            self._pending.append(obj)
        return oid

    def forget_referrer(self, container: object) -> None:
        """Counts `container`'s references to explored objects as gone,
        without exploring it (pytest's funcargs after teardown)."""
        objs, indeg = self.objs, self.indeg
        for r in gc.get_referents(container):
            rid = id(r)
            if rid in objs:
                indeg[rid] += 1

    def explore(self) -> None:
        objs, indeg, children, stop = self.objs, self.indeg, self.children, self.stop_ids
        pending = self._pending
        get_referents = gc.get_referents
        stop_types = _STOP_TYPES
        budget = self.max_objects
        while pending:
            o = pending.pop()
            kids = []
            for r in get_referents(o):
                rid = id(r)
                if rid in stop:
                    continue
                if rid in objs:
                    indeg[rid] += 1
                    kids.append(rid)
                elif isinstance(r, stop_types):
                    stop.add(rid)
                else:
                    objs[rid] = r
                    indeg[rid] = 1
                    kids.append(rid)
                    if len(objs) < budget:
                        pending.append(r)
                    else:
                        self.truncated = True
            if kids:
                children[id(o)] = kids

    # -- solving ----------------------------------------------------------

    def solve(self) -> None:
        """Computes ``freed``: the explored objects nothing outside reaches."""
        outside = _referenced_from_outside(self.objs, self.indeg)
        children = self.children
        alive = set(outside)
        stack = list(outside)
        while stack:
            for kid in children.get(stack.pop(), ()):
                if kid not in alive:
                    alive.add(kid)
                    stack.append(kid)
        self.freed = self.objs.keys() - alive

    def reach(self, roots) -> set[int]:
        """The freed objects reachable from `roots` (ids) through freed objects."""
        freed, children = self.freed, self.children
        seen = {r for r in roots if r in freed}
        stack = list(seen)
        while stack:
            for kid in children.get(stack.pop(), ()):
                if kid in freed and kid not in seen:
                    seen.add(kid)
                    stack.append(kid)
        return seen

    def size(self, ids) -> int:
        objs = self.objs
        getsizeof = sys.getsizeof
        total = 0
        for oid in ids:
            try:
                total += getsizeof(objs[oid])
            except Exception:  # a user __sizeof__ that fails: count nothing
                pass
        return total

    def obj(self, oid: int) -> object:
        return self.objs[oid]

    def close(self) -> None:
        self.objs.clear()
        self.children.clear()
        self.indeg.clear()
        self._pending.clear()


def _referenced_from_outside(objs: dict[int, object], indeg: dict[int, int]) -> list[int]:
    # Kept free of any other reference to the objects: every object is held by
    # `objs` once, plus the interpreter's temporaries of the loop below, which
    # the probe (held by `objs` alone) measures.
    probe = object()
    probe_id = id(probe)
    objs[probe_id] = probe
    del probe
    getrefcount = sys.getrefcount
    counts = [getrefcount(o) for o in objs.values()]
    baseline = counts.pop()
    del objs[probe_id]
    # More references than accounted for: something outside holds it. Fewer
    # means a reference was counted that the object does not own; be safe and
    # call it outside too, so that nothing is reported freed on a bad count.
    return [oid for oid, n in zip(objs, counts) if n - baseline != indeg[oid]]
