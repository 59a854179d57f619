"""The wrapper returned by lru_cache (the C++ core's wrapper.cpp):
``CachedFunction``, and ``CachedMethod`` for methods defined in a class body.

Function semantics key the wrapper's own table on every argument, exactly as
functools does. Method semantics take the first argument as the owner and key
the owner's own table (``_instance_storage``) on the remaining arguments; an
owner with nowhere to keep one is served by the wrapper's own table, keyed on
every argument, as functools serves it (with a ``PinningWarning`` when that
pins it).

The wrapper reaches its per-owner tables through its ``Tally``, which holds
them weakly: nothing the wrapper holds leads to an owner. The owners'
containers key their tables by the tally, which holds the wrapper weakly, so
that a container never leads back to a wrapper (whose function may close over
the owner: an owner in the weak table, a root, could then never be freed).
"""

from __future__ import annotations

import threading
import warnings
import weakref

from . import _flight_gate, _instance_storage
from ._bound_method import BoundCachedMethod
from ._instance_storage import find_caches, owner_caches, served_as_functools
from ._key import HashedKey, make_key, value_key
from ._lru_store import MISS, NO_OWNER, CacheInfo, new_table
from ._options import OptionTable, parse_options, read_clock


class Tally:
    """A wrapper's per-owner tables (weakly) and the statistics of those that
    died or were cleared on their own, so that Cls.m.cache_info() sums over
    every instance."""

    __slots__ = ("live", "retired_hits", "retired_misses", "wrapper")

    def __init__(self, wrapper) -> None:
        self.wrapper = weakref.ref(wrapper)
        self.live = weakref.WeakSet()
        self.retired_hits = 0
        self.retired_misses = 0

    def retire(self, table) -> None:
        hits, misses = table.take_stats()
        self.retired_hits += hits
        self.retired_misses += misses


def _no_wrapper():
    return None  # a dead wrapper's tally.wrapper


# Every live wrapper, for after_fork_child.
_wrappers = weakref.WeakSet()


def after_fork_child() -> None:
    """Run in a forked child (os.register_at_fork, from the package). Only the
    forking thread lives on: a lock that another thread held at the fork
    would never be released, so every wrapper gets a fresh one (the forking
    thread releases any it held itself through the object it took), and the
    computations that other threads had in progress are dropped."""
    for wrapper in list(_wrappers):
        wrapper._lock = threading.RLock()
    _instance_storage._attach_lock = threading.RLock()
    _flight_gate.after_fork_child()


class CachedFunction:
    """A function memoized by boundcache.lru_cache; reached through an
    instance, each instance gets its own cache."""

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_class_wide",
        "_func",
        "_lock",
        "_maxsize",
        "_options",
        "_promote",
        "_table",
        "_tally",
        "_typed",
        "_warned",
    )

    def __init__(
        self,
        func,
        maxsize=None,
        typed=False,
        promote_on_set_name=False,
        *,
        ttl=None,
        timer=None,
        key=None,
        max_total=None,
        lock=False,
    ) -> None:
        if not callable(func):
            raise TypeError("the first argument must be callable")
        if maxsize is not None:
            if not isinstance(maxsize, int):
                raise TypeError("maxsize should be an integer or None")
            maxsize = max(maxsize, 0)
        options = parse_options(ttl, timer, key, max_total, lock)
        self._func = func
        self._maxsize = maxsize
        self._typed = bool(typed)
        self._promote = bool(promote_on_set_name)
        self._options = options
        # key=: one cache for the class. With maxsize=0 nothing is kept, so
        # no option has anything to act on: every call is a miss, as without.
        self._class_wide = options is not None and options.key is not None and maxsize != 0
        self._tally = Tally(self)
        self._table = self._new_table(None)
        self._warned = None  # classes already warned about (PinningWarning)
        # Held around every read-modify-write of this wrapper's tables
        # (_lru_store says why); reentrant, as finalizers run under it.
        self._lock = threading.RLock()
        _wrappers.add(self)

    def _new_table(self, tally):
        if self._options is not None and self._maxsize != 0:
            return OptionTable(self._maxsize, self._typed, tally, self._options)
        return new_table(self._maxsize, self._typed, tally)

    def __call__(self, /, *args, **kwargs):
        return self._table.lookup(self, args, kwargs, NO_OWNER)

    def _method_call(self, owner, args, kwargs):
        """A call with method semantics: `owner` is the first argument."""
        if self._class_wide:
            return self._table.lookup(self, args, kwargs, owner)
        caches = owner_caches(owner)  # held for the whole call: its tables live as long
        if caches is None:
            self._warn_pinning(type(owner))
            return self._table.lookup(self, (owner, *args), kwargs, NO_OWNER)
        table = caches.caches.get(self._tally)
        if table is None:
            with self._lock:
                table = caches.caches.get(self._tally) or caches.add_table(self)
        return table.lookup(self, args, kwargs, owner)

    def _warn_pinning(self, cls) -> None:
        # Once per (wrapper, class), and only for classes hashed by identity:
        # a cache keyed by value is the right design for values. If the
        # warning raises (-W error), the call raises and nothing is recorded.
        if cls.__hash__ is not object.__hash__:
            return
        warned = self._warned
        if warned is not None and cls in warned:
            return
        from .._storage_hint import PinningWarning, pinning_message

        warnings.warn(pinning_message(cls, self), PinningWarning, stacklevel=4)
        if self._warned is None:
            self._warned = weakref.WeakSet()
        self._warned.add(cls)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return BoundCachedMethod(self, instance)

    def cache_info(self):
        """Report cache statistics: for a method, summed over every instance."""
        held = []  # released on return: currsize counts live entries only
        o = self._options
        now = (
            read_clock(o) if o is not None and o.ttl is not None else None
        )  # once, before the walk
        with self._lock:
            tally = self._tally
            table = self._table
            tables = list(tally.live)
            if now is not None:
                for t in [table, *tables]:
                    held += t.purge_expired(now)
            hits = table.hits + tally.retired_hits
            misses = table.misses + tally.retired_misses
            size = table.size()
            for t in tables:
                hits += t.hits
                misses += t.misses
                size += t.size()
        return CacheInfo(hits, misses, self._maxsize, size)

    def cache_clear(self):
        """Clear the cache and its statistics: for a method, every live instance's."""
        with self._lock:
            held = self._table.take_all()
            self._table.reset_stats()
            tally = self._tally
            tally.retired_hits = tally.retired_misses = 0
            for t in list(tally.live):
                held += t.take_all()
                t.reset_stats()
        # `held` is released on return, once every table is empty.

    def cache_parameters(self):
        """{'maxsize': ..., 'typed': ...}"""
        params = {"maxsize": self._maxsize, "typed": self._typed}
        if self._options is not None:
            params.update(self._options.parameters())
        return params

    # Pickled by reference, like functions and functools' wrapper.
    def __reduce__(self):
        return self.__qualname__

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __set_name__(self, owner, name) -> None:
        # Defined in a class body (`m = lru_cache(helper)`): calls with the
        # instance first get method semantics from now on, if the package
        # decided at decoration time that a __set_name__ may do this.
        if type(self) is CachedFunction and self._promote:
            self.__class__ = CachedMethod

    def _entries(self) -> list:
        """[(key, value), ...] of calls with function semantics, keys as the
        tuples functools makes (as the C++ core stores them)."""
        return [(tuple(k) if type(k) is HashedKey else k, v) for k, v in self._table.items()]

    def _stored_entries(self) -> list:
        """[(key, value, references to key), ...]: _entries() with the key
        objects the table holds, and how many references it holds to each
        (one to each value), for audit()'s reference counting."""
        table = self._table
        refs = table.key_references()
        return [(k, v, refs) for k, v in table.items()]

    def _discard(self, value, /, *args, **kwargs) -> None:
        """Forget the entry of that call if it holds value (async failures)."""
        self._remove(type(self) is CachedMethod, args, kwargs, value)

    def cache_delete(self, /, *args, **kwargs) -> bool:
        """Remove the entry a call with these arguments would use; True if a live one was there."""
        return self._remove(type(self) is CachedMethod, args, kwargs, MISS)

    def _delete_key(self, key) -> bool:
        """For a key= wrapper, remove the entry stored under `key` (what key= returned)."""
        o = self._options
        if o is None or o.key is None:
            raise TypeError("_delete_key(key) applies to wrappers made with key= only")
        if self._maxsize == 0:
            return False
        now = read_clock(o) if o.ttl is not None else None
        with self._lock:
            return self._table.remove_key(value_key(key), MISS, now)

    def _remove(self, method, args, kwargs, value) -> bool:
        """The entry a call with these arguments (the owner first, for method
        semantics) would use, removed if `value` is MISS or what it holds."""
        if (method and not args) or self._maxsize == 0:
            return False
        o = self._options
        now = read_clock(o) if o is not None and o.ttl is not None else None  # before the lookup
        owner = args[0] if method else NO_OWNER
        key_args = args[1:] if method else args
        if method and not self._class_wide:
            caches = find_caches(owner)
            table = caches.caches.get(self._tally) if caches is not None else None
            if table is None:
                if not served_as_functools(owner):
                    return False
                table, owner, key_args = self._table, NO_OWNER, args
        else:
            table = self._table
        if o is not None and o.key is not None:
            k = o.key(*key_args, **kwargs) if owner is NO_OWNER else o.key(owner, *key_args, **kwargs)
            key = value_key(k)
        else:
            key = make_key(key_args, kwargs, self._typed)
        with self._lock:
            return table.remove_key(key, value, now)

    @property
    def _owner_caches(self) -> int:
        """Number of live per-owner caches."""
        return len(self._tally.live)

    def __repr__(self) -> str:
        qualname = self.__dict__.get("__qualname__")
        if qualname is None:
            return f"<{type(self).__name__} object at {id(self):#x}>"
        kind = "cached method" if type(self) is CachedMethod else "cached function"
        return f"<{kind} {qualname}>"

    # A wrapper dying (deleted from its class) empties its instances' tables
    # for it, so that their entries do not outlive it.
    def __del__(self) -> None:
        tally = getattr(self, "_tally", None)
        if tally is None:
            return
        # First cut the way back to this wrapper (containers' _contents(),
        # audit()): user code runs when the entries are released.
        tally.wrapper = _no_wrapper
        held = []
        with self._lock:
            for table in list(tally.live):
                held += table.take_all()
                table.reset_stats()
            tally.live.clear()


class CachedMethod(CachedFunction):
    """A method memoized by boundcache.lru_cache: each instance owns its cache, freed with it."""

    __slots__ = ()

    def __call__(self, /, *args, **kwargs):
        if not args:
            # No positional owner: nothing to cache on; the function itself
            # reports the missing argument (or accepts the call).
            return self._func(**kwargs)
        return self._method_call(args[0], args[1:], kwargs)


# pydantic recognises functools' decorators by their class's module.
for _cls, _name in (
    (CachedFunction, "boundcache_CachedFunction"),
    (CachedMethod, "boundcache_CachedMethod"),
):
    _cls.__module__ = "functools"
    _cls.__name__ = _cls.__qualname__ = _name
