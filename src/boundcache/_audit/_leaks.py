"""The pytest plugin's check: instances made during a test, still pinned after it.

Before a test, :func:`snapshot` records which objects exist (identity and
class identity, no references). After it, :func:`find` runs the audit over
the instances that were not in the snapshot, and names the caches that pin
any of them.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from . import analyse
from ._report import format_bytes


def snapshot() -> dict[int, int]:
    """``{id(obj): id(type(obj))}`` for every object the GC tracks (every
    instance of a Python class is tracked). The class identity makes it
    unlikely that a new object at a recycled address passes for an old one."""
    objects = gc.get_objects()
    try:
        return dict(zip(map(id, objects), map(id, map(type, objects))))
    finally:
        del objects


@dataclass
class Leaks:
    ids: set[int]
    message: str


def find(before: dict[int, int], exclude: set[int], forget=(), *, phase: str = "test") -> Leaks | None:
    def made_during_test(obj: object) -> bool:
        oid = id(obj)
        return before.get(oid) != id(type(obj)) and oid not in exclude

    result = analyse(is_candidate=made_during_test, forget=forget)
    found = [(row, ids) for row, ids in zip(result.rows, result.pinned_ids) if ids]
    if not found:
        return None
    found.sort(key=lambda pair: (-pair[0].bytes, -pair[0].pinned, pair[0].name))
    ids = set().union(*(ids for _, ids in found))
    n = len(ids)
    lines = [
        f"boundcache: {n} instance{'s' if n != 1 else ''} created during this {phase} "
        f"{'are' if n != 1 else 'is'} still pinned by a cache:"
    ]
    for row, _ in found:
        classes = ", ".join(f"{count} {name}" for name, count in row.classes)
        lines.append(
            f"  {row.kind} cache {row.name} pins {row.pinned} instance{'s' if row.pinned != 1 else ''} "
            f"({classes}) holding {format_bytes(row.bytes)}"
        )
    lines.append(
        "Nothing but the cache refers to them, so they are never freed. Use boundcache.lru_cache "
        "(one cache per instance, freed with it), or clear the cache after use."
    )
    return Leaks(ids, "\n".join(lines))
