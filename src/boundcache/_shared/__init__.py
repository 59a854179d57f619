"""A Redis tier behind boundcache's local cache (docs/shared.md, contract section 8).

The parts, one a module:

- ``_keys``: call keys encoded the same in every process, function namespaces
  (refusing names that do not tell one function from another), Redis key names;
- ``_codec``: serializers (pickle, plain, JSON, a user's pair), compression,
  and the HMAC signature of each record;
- ``_endpoint``: where the server is (URL or client; single server, Cluster,
  Sentinel) and the bounded clients the tier makes for it;
- ``_tier``: ``RedisTier``: configuration, circuit breaker, statistics,
  generations (cache_clear() on any topology), fork safety;
- ``_sync`` / ``_async``: a function's miss paths through the sync and the
  asyncio client;
- ``_listener``: the thread that applies other processes' clears and deletes;
- ``_lease``: one computation of a key across processes (lock=True, stale=);
- ``_binding``: one function's place in a tier, and the wrapper lru_cache returns.
"""

try:
    import redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'boundcache.RedisTier needs redis-py: pip install "boundcache[redis]" (or pip install redis)'
    ) from exc

from ._binding import shared_wrapper
from ._tier import RedisTier, TierInfo

__all__ = ["RedisTier", "TierInfo", "shared_wrapper"]
