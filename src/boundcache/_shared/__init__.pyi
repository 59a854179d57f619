"""Stubs for boundcache's Redis tier (docs/shared.md)."""

from typing import Any, NamedTuple

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
        client: Any = None,  # redis.Redis | redis.asyncio.Redis; redis-py is optional, so not named here
        namespace: str | None = None,
        secret: bytes | str | None = None,
        timeout: float = 0.25,
        retry_interval: float = 5.0,
        lease: float = 30.0,
    ) -> None: ...
    def info(self) -> TierInfo: ...
    def close(self) -> None: ...

__all__ = ["RedisTier", "TierInfo"]
