"""The pure-Python core of boundcache: the same types and contract as the C++
extension ``boundcache._core``, for interpreters where that cannot be loaded
(PyPy, GraalPy, a platform without a wheel and without a compiler), and on
CPython with ``BOUNDCACHE_PURE=1`` (``boundcache._backend`` chooses).

One module per concern, parallel to ``src/cpp/``:

- ``_key``: functools' key rules (key.hpp);
- ``_lru_store``: the tables and their statistics (lru_store.hpp);
- ``_wrapper``: ``CachedFunction``/``CachedMethod`` (wrapper.cpp);
- ``_bound_method``: ``obj.m`` (bound_method.cpp);
- ``_instance_storage``: where an owner's caches live (instance_storage.cpp);
- ``_options``: ``ttl=``, ``key=``, ``max_total=``, ``lock=`` (options.cpp);
- ``_flight_gate``: single-flight waits (flight_gate.hpp);
- ``_cached_property``: ``cached_property`` (cached_property.cpp).

Where an implementation has no reference counting (PyPy), an owner's entries
are freed at its next garbage collection instead of at once.
"""

from ._bound_method import BoundCachedMethod
from ._cached_property import SlottedCachedProperty, cached_property
from ._instance_storage import InstanceCaches
from ._instance_storage import weak_table_containers as _weak_table_containers
from ._wrapper import CachedFunction, CachedMethod, CacheInfo
from ._wrapper import after_fork_child as _after_fork_child

__all__ = [
    "BoundCachedMethod",
    "CacheInfo",
    "CachedFunction",
    "CachedMethod",
    "InstanceCaches",
    "SlottedCachedProperty",
    "_after_fork_child",
    "_weak_table_containers",
    "cached_property",
]
