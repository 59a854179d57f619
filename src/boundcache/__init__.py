"""functools' memoizers, with caches that never outlive their owner.

On plain functions, ``lru_cache``, ``cache`` and ``cached_property`` behave
exactly as in :mod:`functools`. On methods, each instance owns its cache (kept
in its ``__dict__`` under ``__boundcache__``, or in a ``__boundcache__`` slot),
so the cache is freed by reference counting the moment the instance goes.

The hot paths live in the C++ extension ``boundcache._core``, or, where that
cannot be loaded, in the pure-Python ``boundcache._pure`` (``_backend``
chooses); this module only decides, once per decorated function, which
wrapper to build.

PYTEST_DONT_REWRITE: with BOUNDCACHE_PATCH=1 this package is imported before
pytest looks at its plugin (boundcache.pytest_plugin), and pytest would warn
that it cannot rewrite it, an error under ``filterwarnings = error``.
"""

from __future__ import annotations

import os as _os
from functools import update_wrapper as _update_wrapper
from numbers import Real as _Real
from time import monotonic as _monotonic
from types import FunctionType as _FunctionType

from ._backend import core as _core_module
from ._storage_hint import PinningWarning

BoundCachedMethod = _core_module.BoundCachedMethod
CachedFunction = _core_module.CachedFunction
CachedMethod = _core_module.CachedMethod
CacheInfo = _core_module.CacheInfo
cached_property = _core_module.cached_property
_after_fork_child = _core_module._after_fork_child

# A fork keeps only the forking thread: computations that other threads had
# in progress (lock=True misses, cached_property first reads) are dropped in
# the child, which would otherwise wait for them forever.
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_child)

__all__ = [
    "BoundCachedMethod",
    "CacheInfo",
    "CachedFunction",
    "CachedMethod",
    "PinningWarning",
    "audit",
    "cache",
    "cached_property",
    "lru_cache",
    "patch",
    "unpatch",
]


def __getattr__(name):
    # audit() is imported on first use, so that `import boundcache` stays cheap.
    if name == "audit":
        from ._audit import audit

        globals()["audit"] = audit
        return audit
    if name in ("patch", "unpatch"):
        # functools' decorators served by boundcache's (docs/patch.md).
        from . import _patch

        globals()[name] = value = getattr(_patch, name)
        return value
    if name in ("RedisTier", "TierInfo"):
        # The Redis tier needs redis-py (the "redis" extra): imported on first use only.
        from . import _shared

        globals()[name] = value = getattr(_shared, name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# First parameter names that mean "the owner comes first".
_OWNER_PARAMETERS = ("self", "cls")
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE


def lru_cache(
    maxsize=128,
    typed=False,
    *,
    ttl=None,
    timer=None,
    key=None,
    max_total=None,
    lock=False,
    shared=None,
    name=None,
    stale=None,
):
    """Least-recently-used cache decorator, as :func:`functools.lru_cache`.

    On a function, identical to functools. On a method (defined in a class
    body, or reached through an instance), each instance gets its own cache of
    up to *maxsize* entries, keyed on the arguments after ``self`` and freed
    with the instance.

    Keyword-only options (docs/options.md): *ttl* seconds after which an
    entry expires, read on *timer* (default :func:`time.monotonic`); *key*, a
    function of the call's arguments that gives the entry's key (on a method,
    one cache for the whole class); *max_total*, a bound on one method's
    entries across all live instances; *lock*, so that concurrent misses on
    one key compute once; *shared*, a :class:`RedisTier` that processes
    share entries through, under *name* (default: the function's module and
    qualified name; docs/shared.md); *stale*, seconds past *ttl* during which
    an entry is still served while one caller refreshes it.
    """
    options = _check_options(typed, ttl, timer, key, max_total, lock)
    if shared is not None:
        _check_shared(shared)
        options["shared"] = shared
        options["name"] = name
    elif name is not None:
        raise TypeError("name= names a cache in a shared tier; give shared=RedisTier(...) as well")
    if stale is not None:
        options["stale"] = _check_stale(stale, ttl, timer)
    # Argument handling exactly as functools.lru_cache.
    if isinstance(maxsize, int):
        if maxsize < 0:
            maxsize = 0
    elif (callable(maxsize) or isinstance(maxsize, (staticmethod, classmethod))) and isinstance(typed, bool):
        # classmethod objects are not callable, yet @lru_cache may sit above one.
        user_function, maxsize = maxsize, 128
        return _wrap(user_function, maxsize, typed, options)
    elif maxsize is not None:
        raise TypeError("Expected first argument to be an integer, a callable, or None")

    def decorating_function(user_function):
        return _wrap(user_function, maxsize, typed, options)

    return decorating_function


def cache(user_function, /):
    """Unbounded cache, as :func:`functools.cache`: ``lru_cache(maxsize=None)``."""
    return lru_cache(maxsize=None)(user_function)


def _check_options(typed, ttl, timer, key, max_total, lock):
    # Checked when lru_cache(...) is called, so that a mistake shows at
    # decoration time, with what to do about it.
    options = {}
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, _Real):
            raise TypeError(f"ttl= must be a number of seconds (int or float), not {type(ttl).__name__}")
        if not ttl > 0:  # also rejects NaN
            raise ValueError(
                f"ttl= must be a positive number of seconds, got {ttl!r}; to cache nothing use maxsize=0, "
                "to keep entries until evicted leave ttl= out"
            )
        try:
            options["ttl"] = float(ttl)
        except OverflowError:  # an int beyond any float: it never expires
            options["ttl"] = float("inf")
    if timer is not None:
        if ttl is None:
            raise TypeError("timer= is the clock that ttl= is measured on; give ttl= as well")
        if not callable(timer):
            raise TypeError(
                f"timer= must be a callable returning seconds, such as time.monotonic, not {type(timer).__name__}"
            )
        if timer is not _monotonic:  # the default clock is read in C
            options["timer"] = timer
    if key is not None:
        if not callable(key):
            raise TypeError(
                f"key= must be a callable, key(*args, **kwargs) -> a hashable key, not {type(key).__name__}"
            )
        if typed:
            raise TypeError(
                "typed=True has no effect with key=: the key function decides which calls share an entry "
                "(put type(x) into the key if the type matters)"
            )
        options["key"] = key
    if max_total is not None:
        if isinstance(max_total, bool) or not isinstance(max_total, int):
            raise TypeError(f"max_total= must be an int, not {type(max_total).__name__}")
        if max_total < 1:
            raise ValueError(
                f"max_total= must be at least 1, got {max_total}; leave it out for no bound across instances"
            )
        options["max_total"] = max_total
    if not isinstance(lock, bool):
        raise TypeError(f"lock= must be True or False, not {type(lock).__name__}")
    if lock:
        options["lock"] = True
    return options


def _check_stale(stale, ttl, timer):
    if isinstance(stale, bool) or not isinstance(stale, _Real):
        raise TypeError(f"stale= must be a number of seconds (int or float), not {type(stale).__name__}")
    if not stale > 0:
        raise ValueError(
            f"stale= must be a positive number of seconds, got {stale!r}; leave it out to serve no stale value"
        )
    if ttl is None:
        raise TypeError("stale= is how long an entry is served past its ttl=; give ttl= as well")
    if timer is not None:
        raise TypeError("stale= measures freshness on the wall clock (time.time), shared by every process; drop timer=")
    return float(stale)


def _check_shared(shared):
    from ._shared import RedisTier  # raises ImportError naming the extra

    if not isinstance(shared, RedisTier):
        raise TypeError(f"shared= must be a boundcache.RedisTier, not {type(shared).__name__}")


def _refuse_per_instance(func, what):
    raise TypeError(
        f"shared= cannot apply to {what} {getattr(func, '__qualname__', func)!r}: without key= each instance owns "
        "its cache, and a cache owned by one instance cannot be shared with other processes. Give a key= "
        "that identifies the result by value (never by self), e.g. key=lambda self, path: path, or make it a "
        "staticmethod or a module-level function"
    )


def _wrap(func, maxsize, typed, options):
    # Only a plain function can be a method by what it says of itself (its
    # qualified name, its first parameter). Anything else (a bound method, a
    # partial, a builtin, a callable object) is a function, as functools
    # keys it: importlib.metadata caches lru_cache()(bound_method), whose
    # __qualname__ and first parameter still read "Cls.m" and "self".
    plain = type(func) is _FunctionType
    takes_owner = plain and _first_parameter(func) in _OWNER_PARAMETERS
    if "shared" in options and "key" not in options:
        # Per-instance (or per-class) caches are owned by their owner: refused now, not at the first call.
        if isinstance(func, classmethod):
            _refuse_per_instance(func.__func__, "the classmethod")
        # A function whose first parameter is self or cls becomes a method (the
        # core promotes it); one without cannot cache per owner.
        if takes_owner:
            _refuse_per_instance(func, "the method")
    if "stale" in options and (takes_owner or isinstance(func, classmethod)):
        raise TypeError(
            f"stale= applies to functions and static methods; {getattr(func, '__qualname__', func)!r} is a method. "
            "Cache a module-level function or a staticmethod that takes what the result depends on"
        )
    # Stacked over staticmethod/classmethod: cache the underlying function and
    # give the same descriptor back, so that both decorator orders behave alike.
    if isinstance(func, staticmethod):
        return staticmethod(_wrapper(CachedFunction, func.__func__, maxsize, typed, options, promote=False))
    if isinstance(func, classmethod):
        return classmethod(_wrapper(CachedMethod, func.__func__, maxsize, typed, options, promote=False))
    in_class_body = plain and _defined_in_class_body(func)
    # A method defined in a class body gets method semantics now, so that it
    # works under property or another decorator that never calls __set_name__.
    # Otherwise __set_name__ decides: `m = lru_cache(helper)` in a class body
    # becomes a method, while aliasing a module-level cached function into a
    # class (`parse = parse`) keeps it a function.
    kind = CachedMethod if in_class_body and takes_owner else CachedFunction
    return _wrapper(kind, func, maxsize, typed, options, promote=in_class_body or takes_owner)


def _wrapper(kind, func, maxsize, typed, options, *, promote):
    if "shared" in options:
        from ._shared import shared_wrapper

        options = dict(options)
        tier, name, stale = options.pop("shared"), options.pop("name"), options.pop("stale", None)
        return shared_wrapper(kind, func, maxsize, typed, options, promote, tier, name, stale)
    if "stale" in options:
        from ._stale import stale_wrapper

        options = dict(options)
        return stale_wrapper(kind, func, maxsize, typed, options, promote, options.pop("stale"))
    if _is_coroutine_function(func):
        # async def: the awaited result is cached (docs/async.md).
        from ._async import async_wrapper

        return async_wrapper(kind, func, maxsize, typed, options, promote=promote)
    wrapper = kind(func, maxsize, typed, promote, **options)
    return _update_wrapper(wrapper, func)


def _is_coroutine_function(func) -> bool:
    # inspect.iscoroutinefunction(func), without importing inspect for a plain function.
    if (
        type(func) is _FunctionType
        and not func.__code__.co_flags & _CO_COROUTINE
        and not hasattr(func, "_is_coroutine_marker")  # inspect.markcoroutinefunction, 3.12+
    ):
        return False
    import inspect

    return inspect.iscoroutinefunction(func)


def _defined_in_class_body(func) -> bool:
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(qualname, str):
        return False
    parts = qualname.split(".")
    return len(parts) >= 2 and parts[-2] != "<locals>"


def _first_parameter(func) -> str | None:
    # Follow functools.wraps chains down to the code object, if there is one.
    for _ in range(100):
        code = getattr(func, "__code__", None)
        if code is not None:
            return code.co_varnames[0] if code.co_argcount else None
        func = getattr(func, "__wrapped__", None)
        if func is None:
            return None
    return None
