"""Type stubs for boundcache.audit() (see docs/audit.md)."""

from dataclasses import dataclass

@dataclass(frozen=True)
class CacheRow:
    qualname: str
    kind: str
    entries: int
    pinned: int
    bytes: int
    held: int = 0
    module: str | None = None
    maxsize: int | None = None
    classes: tuple[tuple[str, int], ...] = ()
    values: int = 0
    patched: bool = False
    @property
    def leaks(self) -> int: ...
    @property
    def name(self) -> str: ...

class Report(list[CacheRow]):
    total_bytes: int
    total_pinned: int
    def __init__(self, rows: tuple[CacheRow, ...] | list[CacheRow] = (), *, total_bytes: int = 0, total_pinned: int = 0) -> None: ...
    @property
    def pinning(self) -> list[CacheRow]: ...
    @property
    def leaking(self) -> list[CacheRow]: ...
    @property
    def value_caches(self) -> list[CacheRow]: ...
    @property
    def patched(self) -> list[CacheRow]: ...

def audit(*, min_bytes: int = 0, include_stdlib: bool = True, collect: bool = True) -> Report: ...
