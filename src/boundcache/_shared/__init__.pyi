"""Stubs for boundcache's Redis tier (docs/shared.md)."""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

class TierInfo(NamedTuple):
    hits: int
    misses: int
    errors: int
    bytes_sent: int
    bytes_received: int
    invalid: int
    unshared: int

class RedisTier:
    url: str | None
    namespace: str
    channel: str
    timeout: float
    retry_interval: float
    lease: float
    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,  # a redis-py client (sync or asyncio, server, cluster or Sentinel); redis-py is optional
        namespace: str | None = None,
        secret: bytes | str | None = None,
        timeout: float = 0.25,
        retry_interval: float = 5.0,
        lease: float = 30.0,
        serializer: Literal["pickle", "plain", "json"] | tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None = None,
        compress_above: int | None = 16384,
    ) -> None: ...
    def info(self) -> TierInfo: ...
    def close(self) -> None: ...

__all__ = ["RedisTier", "TierInfo"]
