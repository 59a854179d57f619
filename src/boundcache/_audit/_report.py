"""The audit's result: one row a cache, and the table that printing shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: binary units, one decimal above 1 KiB."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024.0
        if value < 1024.0 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMGTP]?)(?:I?B)?", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """``'10M'``, ``'1.5GiB'``, ``'64kb'``, ``'4096'`` -> bytes (binary multiples)."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 4096, 64K, 10MiB, 1.5G)")
    unit = m.group(2).upper()
    scale = 1024 ** ("KMGTP".index(unit) + 1) if unit else 1
    return int(float(m.group(1)) * scale)


@dataclass(frozen=True)
class CacheRow:
    """One live cache.

    ``pinned`` counts the distinct instances that the cache holds as ``self``
    and that nothing but caches keeps alive; ``held`` counts every instance it
    holds as ``self``, pinned or still referenced from elsewhere. ``bytes``
    estimates what the pinned instances (with their cache entries) keep
    reachable that nothing else references: see docs/audit.md.
    """

    qualname: str
    kind: str  # "functools" or "boundcache"
    entries: int
    pinned: int
    bytes: int
    held: int = 0
    module: str | None = None
    maxsize: int | None = None
    # (class qualname, how many pinned instances), most first.
    classes: tuple[tuple[str, int], ...] = ()
    # Of the pinned instances, how many are values (hashed and compared by
    # value: tuples, named tuples, frozen dataclasses...) held by a bounded
    # cache: equal values share its entries on purpose and maxsize bounds
    # them, so they are their own kind of pin, not a leak of objects.
    values: int = 0
    # Made by a functools decorator that boundcache.patch() served: code
    # written for functools, cached by boundcache.
    patched: bool = False

    @property
    def leaks(self) -> int:
        """Pinned instances that are not bounded values: the leak proper."""
        return self.pinned - self.values

    @property
    def name(self) -> str:
        """``module.qualname``, as a user would spell the cached function."""
        return f"{self.module}.{self.qualname}" if self.module else self.qualname


def _sort_key(row: CacheRow):
    return (-row.bytes, -row.pinned, -row.entries, row.name, row.kind)


class Report(list):
    """The rows of :func:`boundcache.audit`, sorted by ``bytes``, largest first.

    A list of :class:`CacheRow`; ``str(report)`` (and ``print(report)``) is a
    table with human units. ``total_bytes`` counts each object once even when
    several caches pin it, so it can be less than the sum of the rows.
    """

    def __init__(self, rows=(), *, total_bytes: int = 0, total_pinned: int = 0):
        super().__init__(sorted(rows, key=_sort_key))
        self.total_bytes = total_bytes
        self.total_pinned = total_pinned

    @property
    def pinning(self) -> list[CacheRow]:
        """The rows that pin at least one instance."""
        return [row for row in self if row.pinned]

    @property
    def leaking(self) -> list[CacheRow]:
        """The rows that pin an object: an unbounded cache, or an owner hashed by identity."""
        return [row for row in self if row.leaks]

    @property
    def patched(self) -> list[CacheRow]:
        """The caches that functools' decorators made while boundcache.patch() served them."""
        return [row for row in self if row.patched]

    @property
    def value_caches(self) -> list[CacheRow]:
        """The bounded caches that keep values alive (``values`` > 0)."""
        return [row for row in self if row.values]

    def __str__(self) -> str:
        return format_table(self)

    # list's repr would be a wall of dataclasses; the table reads better.
    __repr__ = __str__


_HEADERS = ("bytes", "pinned", "held", "entries", "kind", "cache")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_table(report: Report) -> str:
    if not report:
        return "boundcache.audit(): no live caches\n"
    pinning = report.pinning
    head = f"boundcache.audit(): {_n(len(report), 'live cache')}, "
    if pinning:
        head += f"{len(pinning)} pinning {_n(report.total_pinned, 'instance')} ({format_bytes(report.total_bytes)})"
        values = sum(row.values for row in report)
        if values:
            head += f", of which {_n(values, 'value')} in bounded caches"
    else:
        head += "none pins an instance"
    patched = len(report.patched)
    if patched:
        head += f"; {patched} made by functools' decorators under boundcache.patch()"
    cells = [_HEADERS]
    for row in report:
        name = row.name
        if row.classes:
            name += "  [" + ", ".join(f"{n} {cls}" for cls, n in row.classes) + "]"
        if row.values:
            name += f"  (values: {row.values} of {row.pinned} pinned, bounded by maxsize={row.maxsize})"
        if row.patched:
            name += "  (patched)"
        cells.append((format_bytes(row.bytes), str(row.pinned), str(row.held), str(row.entries), row.kind, name))
    widths = [max(len(line[i]) for line in cells) for i in range(len(_HEADERS) - 1)]
    lines = [head]
    for line in cells:
        numbers = "  ".join(cell.rjust(w) for cell, w in zip(line[:4], widths))
        lines.append(f"{numbers}  {line[4].ljust(widths[4])}  {line[5]}".rstrip())
    return "\n".join(lines) + "\n"
