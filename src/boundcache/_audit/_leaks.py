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
    ids: set[int]  # every instance reported, leaked or value
    message: str  # why the test fails; "" if nothing fails it
    values: str = ""  # the bounded caches of values, reported without failing


def find(before: dict[int, int], exclude: set[int], forget=(), *, phase: str = "test",
         strict: bool = False) -> Leaks | None:
    """Pins of instances made during the test. Values held by bounded caches
    (tuples, named tuples, frozen dataclasses...) fail it only if ``strict``;
    they are described in ``Leaks.values`` otherwise."""

    def made_during_test(obj: object) -> bool:
        oid = id(obj)
        return before.get(oid) != id(type(obj)) and oid not in exclude

    result = analyse(is_candidate=made_during_test, forget=forget)
    value_ids = result.value_ids or [set() for _ in result.rows]
    everything = set().union(*(ids for ids in result.pinned_ids if ids)) if any(result.pinned_ids) else set()
    if not everything:
        return None
    found, values = [], []
    for row, ids, vids in zip(result.rows, result.pinned_ids, value_ids):
        if not ids:
            continue
        if strict or ids - vids:
            found.append((row, ids))
        else:
            values.append(row)
    value_text = _values_message(values, phase)
    if not found:
        return Leaks(everything, "", value_text)
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
    return Leaks(everything, "\n".join(lines), value_text)


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
