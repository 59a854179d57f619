"""The memoizers under comparison, each used the way its documentation shows.

Every adapter imports its library lazily, so that a benchmark worker process
loads only the library it measures (theine, for one, starts a thread on import).

The cached callables are trivial (they return their first argument, which
allocates nothing) so that what is measured is the memoizer, not the work.
Methods are written ``m = decorator(body)`` in the class body, which is what
``@decorator`` does, so the image-service workload can supply its own body.
"""

from __future__ import annotations

import importlib.metadata
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Decorator = Callable[[Callable[..., Any]], Any]
Method = Callable[..., Any]


def _m(self: Any, x: Any) -> Any:
    return x


async def _am(self: Any, x: Any) -> Any:
    return x


def _as_method(body: Method, owner: str) -> Method:
    """A copy of ``body`` as ``def m`` in class ``owner`` would make it.

    Some libraries (methodtools) tell methods from functions by ``__qualname__``.
    """
    method = types.FunctionType(body.__code__, body.__globals__, "m", body.__defaults__, body.__closure__)
    method.__qualname__ = f"{owner}.m"
    return method


@dataclass(frozen=True)
class Library:
    name: str
    #: What the rows call it: the decorator a user writes.
    label: str
    #: The distribution whose version is reported (None: the standard library).
    dist: str | None
    #: ``function(maxsize)`` returns a decorator for plain functions; None: not offered.
    function: Callable[[int | None], Decorator] | None = None
    #: ``method_class(maxsize, body)`` returns a class whose method ``m`` is ``body``, cached
    #: (by default ``m(self, x)`` returns x). Subclasses must call ``super().__init__()``.
    method_class: Callable[..., type] | None = None
    #: ``property_class()`` returns a class whose cached property ``p`` is computed once.
    property_class: Callable[[], type] | None = None
    #: ``async_function(maxsize)`` returns a decorator for ``async def`` functions (caching the
    #: awaited result); None: not offered (functools caches the coroutine object: not comparable).
    async_function: Callable[[int | None], Decorator] | None = None
    #: ``async_method_class(maxsize)`` returns a class whose ``async def m(self, x)`` is cached.
    async_method_class: Callable[..., type] | None = None
    #: Unbounded function caches: maxsize=None is not offered by every library.
    unbounded: bool = True
    #: A keyword option of boundcache, or a peer's equivalent: timed only by ``run.py --options``.
    variant: bool = False

    def version(self) -> str:
        if self.dist is None:
            import platform

            return f"Python {platform.python_version()}"
        return importlib.metadata.version(self.dist)


# -- functools: the baseline. On methods its one cache is on the class, keyed by (self, x).


def _functools_function(maxsize: int | None) -> Decorator:
    import functools

    return functools.lru_cache(maxsize=maxsize)


def _functools_method(maxsize: int | None, body: Method = _m) -> type:
    import functools

    class Functools:
        m = functools.lru_cache(maxsize=maxsize)(_as_method(body, "Functools"))  # noqa: B019 - the trap, measured on purpose

    return Functools


def _functools_property() -> type:
    import functools

    class FunctoolsProperty:
        @functools.cached_property
        def p(self):
            return 1

    return FunctoolsProperty


# -- boundcache


def _boundcache_function(maxsize: int | None) -> Decorator:
    import boundcache

    return boundcache.lru_cache(maxsize=maxsize)


def _boundcache_method(maxsize: int | None, body: Method = _m) -> type:
    import boundcache

    class Boundcache:
        m = boundcache.lru_cache(maxsize=maxsize)(_as_method(body, "Boundcache"))

    return Boundcache


def _boundcache_async_method(maxsize: int | None, body: Method = _am) -> type:
    import boundcache

    class BoundcacheAsync:
        m = boundcache.lru_cache(maxsize=maxsize)(_as_method(body, "BoundcacheAsync"))

    return BoundcacheAsync


def _boundcache_option(**options: Any) -> tuple[Callable[..., Any], Callable[..., type]]:
    """function and method_class adapters for boundcache.lru_cache with keyword options.

    Each option is set so that it never changes what is cached in the timed
    scenarios (a ttl far longer than a run, max_total above every total), so
    that the rows show the cost of the option's bookkeeping alone.
    """

    def function(maxsize: int | None) -> Decorator:
        import boundcache

        return boundcache.lru_cache(maxsize=maxsize, **options)

    def method_class(maxsize: int | None, body: Method = _m) -> type:
        import boundcache

        method_options = dict(options)
        if "key" in method_options:
            method_options["key"] = _method_key

        class BoundcacheOption:
            m = boundcache.lru_cache(maxsize=maxsize, **method_options)(_as_method(body, "BoundcacheOption"))

        return BoundcacheOption

    return function, method_class


def _function_key(x: Any) -> Any:
    return x


def _method_key(self: Any, x: Any) -> Any:
    return x


def _boundcache_property() -> type:
    import boundcache

    class BoundcacheProperty:
        @boundcache.cached_property
        def p(self):
            return 1

    return BoundcacheProperty


# -- boundcache's pure-Python core (boundcache._pure), whatever core the package chose:
# what lru_cache builds on that core for a plain function and for a method
# defined in a class body (bench/pure.py).


def _pure_function(maxsize: int | None) -> Decorator:
    import functools

    from boundcache import _pure

    def decorate(func: Callable[..., Any]) -> Any:
        return functools.update_wrapper(_pure.CachedFunction(func, maxsize, False, False), func)

    return decorate


def _pure_method(maxsize: int | None, body: Method = _m) -> type:
    import functools

    from boundcache import _pure

    method = _as_method(body, "BoundcachePure")

    class BoundcachePure:
        m = functools.update_wrapper(_pure.CachedMethod(method, maxsize, False, True), method)

    return BoundcachePure


def _pure_property() -> type:
    from boundcache import _pure

    class BoundcachePureProperty:
        @_pure.cached_property
        def p(self) -> int:
            return 1

    return BoundcachePureProperty


# -- cachetools: cached(LRUCache) on functions; cachedmethod with a per-instance LRUCache.


def _cachetools_cache(maxsize: int | None) -> Any:
    import cachetools

    # cachetools' documented unbounded cache is a plain dict.
    return {} if maxsize is None else cachetools.LRUCache(maxsize)


def _cachetools_function(maxsize: int | None) -> Decorator:
    import cachetools

    return cachetools.cached(_cachetools_cache(maxsize))


def _cachetools_method(maxsize: int | None, body: Method = _m) -> type:
    import cachetools

    class Cachetools:
        def __init__(self):
            self.cache = _cachetools_cache(maxsize)

        m = cachetools.cachedmethod(operator.attrgetter("cache"))(_as_method(body, "Cachetools"))

    return Cachetools


# -- methodtools: lru_cache on methods (functools.lru_cache per instance, via wirerope).


def _methodtools_method(maxsize: int | None, body: Method = _m) -> type:
    import methodtools

    class Methodtools:
        m = methodtools.lru_cache(maxsize=maxsize)(_as_method(body, "Methodtools"))

    return Methodtools


# -- cachebox: cached(LRUCache) on functions; cached with a per-instance cache accessor.


def _cachebox_cache(maxsize: int | None) -> Any:
    import cachebox

    # maxsize 0 means unbounded in cachebox; Cache is its policy-free unbounded store.
    return cachebox.Cache(0) if maxsize is None else cachebox.LRUCache(maxsize)


def _cachebox_function(maxsize: int | None) -> Decorator:
    import cachebox

    return cachebox.cached(_cachebox_cache(maxsize))


def _cachebox_method(maxsize: int | None, body: Method = _m) -> type:
    import cachebox

    class Cachebox:
        def __init__(self):
            self.cache = _cachebox_cache(maxsize)

        # A callable cache argument is cachebox's per-instance accessor: it gets self.
        m = cachebox.cached(operator.attrgetter("cache"))(_as_method(body, "Cachebox"))

    return Cachebox


def _cachetools_ttl_function(maxsize: int | None) -> Decorator:
    import cachetools.func

    return cachetools.func.ttl_cache(maxsize=maxsize, ttl=3600)


def _cachebox_ttl_function(maxsize: int | None) -> Decorator:
    import cachebox

    return cachebox.cached(cachebox.TTLCache(maxsize or 0, global_ttl=3600))


# -- theine: Memoize (W-TinyLFU, not LRU). On methods, like functools, it keys by (self, x).


def _theine_function(maxsize: int | None) -> Decorator:
    import theine

    if maxsize is None:
        raise ValueError("theine has no unbounded cache")
    return theine.Memoize(maxsize, None)


def _theine_method(maxsize: int | None, body: Method = _m) -> type:
    decorate = _theine_function(maxsize)

    class Theine:
        m = decorate(_as_method(body, "Theine"))

    return Theine


# -- wrapt (2.2+): lru_cache, a functools.lru_cache behind a wrapt FunctionWrapper; on methods one
# functools cache per instance, kept as an attribute of the instance (the cache refers back to the
# instance through its bound method, so an instance is freed only by the cycle collector).


def _wrapt_function(maxsize: int | None) -> Decorator:
    import wrapt

    return wrapt.lru_cache(maxsize=maxsize)


def _wrapt_method(maxsize: int | None, body: Method = _m) -> type:
    import wrapt

    class Wrapt:
        m = wrapt.lru_cache(maxsize=maxsize)(_as_method(body, "Wrapt"))

    return Wrapt


# -- async-lru: alru_cache, for async def only (functions, and methods keyed by (self, x)).


def _async_lru_function(maxsize: int | None) -> Decorator:
    from async_lru import alru_cache

    return alru_cache(maxsize=maxsize)


def _async_lru_method(maxsize: int | None, body: Method = _am) -> type:
    decorate = _async_lru_function(maxsize)

    class AsyncLru:
        m = decorate(_as_method(body, "AsyncLru"))

    return AsyncLru


LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library(
            "functools",
            "functools.lru_cache",
            None,
            function=_functools_function,
            method_class=_functools_method,
            property_class=_functools_property,
        ),
        Library(
            "boundcache",
            "boundcache.lru_cache",
            "boundcache",
            function=_boundcache_function,
            method_class=_boundcache_method,
            property_class=_boundcache_property,
            async_function=_boundcache_function,  # the same decorator: it sees async def
            async_method_class=_boundcache_async_method,
        ),
        Library(
            "cachetools",
            "cachetools.cached / cachedmethod",
            "cachetools",
            function=_cachetools_function,
            method_class=_cachetools_method,
        ),
        Library("methodtools", "methodtools.lru_cache", "methodtools", method_class=_methodtools_method),
        Library(
            "cachebox",
            "cachebox.cached",
            "cachebox",
            function=_cachebox_function,
            method_class=_cachebox_method,
        ),
        Library(
            "theine",
            "theine.Memoize",
            "theine",
            function=_theine_function,
            method_class=_theine_method,
            unbounded=False,
        ),
        Library("wrapt", "wrapt.lru_cache", "wrapt", function=_wrapt_function, method_class=_wrapt_method),
        Library(
            "async_lru",
            "async_lru.alru_cache",
            "async-lru",
            async_function=_async_lru_function,
            async_method_class=_async_lru_method,
        ),
        *(
            Library(name, label, "boundcache", *_boundcache_option(**options), variant=True)
            for name, label, options in (
                ("boundcache+ttl", "lru_cache(ttl=3600)", {"ttl": 3600}),
                ("boundcache+key", "lru_cache(key=...)", {"key": _function_key}),
                ("boundcache+max_total", "lru_cache(max_total=10**9)", {"max_total": 10**9}),
                ("boundcache+lock", "lru_cache(lock=True)", {"lock": True}),
            )
        ),
        Library("boundcache-pure", "boundcache (pure-Python core)", "boundcache", function=_pure_function,
                method_class=_pure_method, property_class=_pure_property, variant=True),
        Library("cachetools+ttl", "cachetools.func.ttl_cache", "cachetools", function=_cachetools_ttl_function,
                variant=True),
        Library("cachebox+ttl", "cachebox.cached(TTLCache)", "cachebox", function=_cachebox_ttl_function,
                variant=True),
    )
}  # fmt: skip


def select(names: str | None) -> list[Library]:
    """The libraries named in a comma-separated list (all when None), in canonical order."""
    if not names:
        return [lib for lib in LIBRARIES.values() if not lib.variant]
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - LIBRARIES.keys())
    if unknown:
        raise SystemExit(f"unknown libraries: {', '.join(unknown)} (known: {', '.join(LIBRARIES)})")
    return [lib for name, lib in LIBRARIES.items() if name in wanted]
