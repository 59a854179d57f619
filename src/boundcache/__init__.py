"""functools' memoizers, with caches that never outlive their owner.

On plain functions, ``lru_cache``, ``cache`` and ``cached_property`` behave
exactly as in :mod:`functools`. On methods, each instance owns its cache (kept
in its ``__dict__`` under ``__boundcache__``, or in a ``__boundcache__`` slot),
so the cache is freed by reference counting the moment the instance goes.

The hot paths live in the C++ extension ``boundcache._core``; this module only
decides, once per decorated function, which wrapper to build.
"""

from __future__ import annotations

from functools import update_wrapper as _update_wrapper

from ._core import (
    BoundCachedMethod,
    CachedFunction,
    CachedMethod,
    CacheInfo,
    cached_property,
)

__all__ = [
    "BoundCachedMethod",
    "CacheInfo",
    "CachedFunction",
    "CachedMethod",
    "audit",
    "cache",
    "cached_property",
    "lru_cache",
]


def __getattr__(name):
    # audit() is imported on first use, so that `import boundcache` stays cheap.
    if name == "audit":
        from ._audit import audit

        globals()["audit"] = audit
        return audit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# First parameter names that mean "the owner comes first".
_OWNER_PARAMETERS = ("self", "cls")


def lru_cache(maxsize=128, typed=False):
    """Least-recently-used cache decorator, as :func:`functools.lru_cache`.

    On a function, identical to functools. On a method (defined in a class
    body, or reached through an instance), each instance gets its own cache of
    up to *maxsize* entries, keyed on the arguments after ``self`` and freed
    with the instance.
    """
    # Argument handling exactly as functools.lru_cache.
    if isinstance(maxsize, int):
        if maxsize < 0:
            maxsize = 0
    elif (callable(maxsize) or isinstance(maxsize, (staticmethod, classmethod))) and isinstance(typed, bool):
        # classmethod objects are not callable, yet @lru_cache may sit above one.
        user_function, maxsize = maxsize, 128
        return _wrap(user_function, maxsize, typed)
    elif maxsize is not None:
        raise TypeError("Expected first argument to be an integer, a callable, or None")

    def decorating_function(user_function):
        return _wrap(user_function, maxsize, typed)

    return decorating_function


def cache(user_function, /):
    """Unbounded cache, as :func:`functools.cache`: ``lru_cache(maxsize=None)``."""
    return lru_cache(maxsize=None)(user_function)


def _wrap(func, maxsize, typed):
    # Stacked over staticmethod/classmethod: cache the underlying function and
    # give the same descriptor back, so that both decorator orders behave alike.
    if isinstance(func, staticmethod):
        return staticmethod(_wrapper(CachedFunction, func.__func__, maxsize, typed, promote=False))
    if isinstance(func, classmethod):
        return classmethod(_wrapper(CachedMethod, func.__func__, maxsize, typed, promote=False))
    in_class_body = _defined_in_class_body(func)
    takes_owner = _first_parameter(func) in _OWNER_PARAMETERS
    # A method defined in a class body gets method semantics now, so that it
    # works under property or another decorator that never calls __set_name__.
    # Otherwise __set_name__ decides: `m = lru_cache(helper)` in a class body
    # becomes a method, while aliasing a module-level cached function into a
    # class (`parse = parse`) keeps it a function.
    kind = CachedMethod if in_class_body and takes_owner else CachedFunction
    return _wrapper(kind, func, maxsize, typed, promote=in_class_body or takes_owner)


def _wrapper(kind, func, maxsize, typed, *, promote):
    wrapper = kind(func, maxsize, typed, promote)
    return _update_wrapper(wrapper, func)


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
