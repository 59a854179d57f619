"""BoundCachedMethod: what ``obj.m`` returns (the C++ core's
bound_method.cpp). It holds the instance only for as long as it lives
itself, like a bound method; the cache it reaches is the instance's own, so
``obj.m.cache_info()`` and ``obj.m.cache_clear()`` see that one instance."""

from __future__ import annotations

from ._instance_storage import find_caches, served_as_functools
from ._lru_store import MISS, CacheInfo
from ._options import read_clock


def signature_after_first(func):
    """func's signature without its first parameter, as for a bound method."""
    import inspect

    sig = inspect.signature(func)
    return sig.replace(parameters=list(sig.parameters.values())[1:])


class BoundCachedMethod:
    """A cached method bound to an instance: obj.m."""

    __slots__ = ("__self__", "_wrapper")

    def __init__(self, wrapper, instance) -> None:
        self._wrapper = wrapper
        self.__self__ = instance

    def __call__(self, /, *args, **kwargs):
        return self._wrapper._method_call(self.__self__, args, kwargs)

    def _own_table(self):
        """The instance's table for this method (None if it has none yet), or
        the wrapper's own table for an owner served as functools serves it."""
        w = self._wrapper
        owner = self.__self__
        caches = find_caches(owner)
        if caches is not None:
            return caches.caches.get(w._tally)
        return w._table if served_as_functools(owner) else None

    def cache_info(self):
        """Report this instance's cache statistics."""
        w = self._wrapper
        if w._options is not None and w._options.key is not None:  # the class's cache
            return w.cache_info()
        o = w._options
        now = read_clock(o) if o is not None and o.ttl is not None else None
        table = self._own_table()  # the clock may have cleared or replaced it
        if table is None:
            return CacheInfo(0, 0, w._maxsize, 0)
        with w._lock:
            held = table.purge_expired(now) if now is not None else []  # noqa: F841 - live entries only
            return CacheInfo(table.hits, table.misses, w._maxsize, table.size())

    def cache_clear(self):
        """Clear this instance's cache and statistics."""
        w = self._wrapper
        if w._options is not None and w._options.key is not None:  # the class's cache
            return w.cache_clear()
        table = self._own_table()
        if table is None:
            return None
        with w._lock:
            if table is not w._table:
                w._tally.retire(table)  # the per-class sums keep counting them
            else:
                table.reset_stats()
            held = table.take_all()  # noqa: F841 - released on return
        return None

    def cache_delete(self, /, *args, **kwargs) -> bool:
        """Remove the entry obj.m(*args, **kwargs) would use; True if a live one was there."""
        w = self._wrapper
        if w._options is not None and w._options.key is not None:  # the class's cache decides
            return w.cache_delete(self.__self__, *args, **kwargs)
        return w._remove(True, (self.__self__, *args), kwargs, MISS)

    def cache_parameters(self):
        """{'maxsize': ..., 'typed': ...}"""
        return self._wrapper.cache_parameters()

    def __reduce__(self):
        return getattr, (self.__self__, self._wrapper.__name__)

    @property
    def __wrapped__(self):
        return self._wrapper.__wrapped__

    @property
    def __doc__(self):  # type: ignore[override]
        return self._wrapper.__doc__

    @property
    def __signature__(self):
        return signature_after_first(self._wrapper)

    # Everything else (__name__, __qualname__, __module__, ...) comes from the
    # wrapper, as a bound method forwards to its function.
    def __getattr__(self, name):
        return getattr(self._wrapper, name)

    def __eq__(self, other):
        if type(other) is not BoundCachedMethod:
            return NotImplemented
        return self._wrapper is other._wrapper and self.__self__ is other.__self__

    def __hash__(self) -> int:
        return hash((id(self.__self__), id(self._wrapper)))

    def __repr__(self) -> str:
        qualname = getattr(self._wrapper, "__qualname__", "?")
        return f"<bound cached method {qualname} of {self.__self__!r}>"


BoundCachedMethod.__module__ = "boundcache"
