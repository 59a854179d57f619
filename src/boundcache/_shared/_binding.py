"""One cached function's place in a tier, and the wrapper that ``lru_cache(..., shared=tier)`` returns.

How it fits the core: the C++ wrapper is built exactly as without
``shared=`` (same kind, same options), but the function it calls on a local
miss is ``Binding.miss``: that looks in Redis, and only on a Redis miss calls
the user's function and stores the result in Redis. So a local hit is a plain
boundcache hit: nothing here runs and Redis is never asked.
"""

from __future__ import annotations

import logging
import weakref
from functools import update_wrapper, wraps

from .._stale import Fresh, stale_wrapper
from ._async import AsyncPaths
from ._codec import ResultNeedsSecret
from ._keys import Unshareable, decode_plain, encode_key, value_key
from ._sync import SyncPaths
from ._tier import HITS, INVALID, MISSES, RECEIVED, UNSHARED

log = logging.getLogger("boundcache.shared")


class Binding(SyncPaths, AsyncPaths):
    """A function's namespace in a tier, its key and value rules, and its local cache."""

    __slots__ = ("__weakref__", "core", "func", "key", "lock", "namespace", "px", "stale", "tier", "ttl", "warned")

    MISSING = object()  # no valid entry in Redis
    fresh = Fresh

    def __init__(self, tier, func, namespace, key, ttl, stale, lock):
        self.tier = tier
        self.func = func
        self.namespace = namespace
        self.key = key
        self.ttl = ttl
        self.stale = stale
        finite = ttl is not None and ttl != float("inf")
        self.px = max(1, int((ttl + (stale or 0)) * 1000)) if finite else None  # Redis keeps it through stale=
        self.lock = lock
        self.core = None  # weakref to the core wrapper, set by shared_wrapper
        self.warned = set()
        tier._bind(self)

    # keys

    def key_bytes(self, args, kwargs) -> bytes:
        """The call key, encoded; raises Unshareable (and warns once) if it has no stable encoding."""
        if self.key is not None:
            call_key = self.key(*args, **kwargs)
        else:
            call_key = (args, tuple(kwargs.items())) if kwargs else (args,)
        try:
            return encode_key(call_key)
        except Unshareable as exc:
            self.unshared("key", exc)
            raise

    def redis_key(self, generation, key_bytes) -> str:
        return value_key(self.tier.namespace, self.namespace, generation, key_bytes)

    def unshared(self, what, exc):
        self.tier._count(UNSHARED)
        if str(exc) not in self.warned:
            self.warned.add(str(exc))
            log.warning(
                "boundcache: %s: a %s with %s is cached in this process only (docs/shared.md lists the types "
                "that cross processes)",
                self.namespace,
                what,
                exc,
            )

    # values

    def found(self, rkey, data, count_miss=True):
        """The value (a Fresh record with stale=) of a Redis entry; MISSING for none or an invalid one."""
        tier = self.tier
        if data is None:
            if count_miss:
                tier._count(MISSES)
            return self.MISSING
        tier._count(RECEIVED, len(data))
        try:
            value, fresh_until = tier._codec.load(rkey, data)
        except Exception:  # noqa: BLE001 - whatever is wrong with an entry, it is a miss
            tier._count(INVALID)
            tier._count(MISSES)
            return self.MISSING
        tier._count(HITS)
        if self.stale:
            return Fresh(value, fresh_until or float("inf"))
        return value

    def encoded(self, rkey, result):
        """The bytes to store, or None if the value stays local."""
        try:
            if self.stale:
                return self.tier._codec.dump(rkey, result.value, self.namespace, result.fresh_until)
            return self.tier._codec.dump(rkey, result, self.namespace)
        except ResultNeedsSecret:
            raise
        except Unshareable as exc:
            self.unshared("result", exc)
            return None

    # the local cache, and what reaches every process

    def _core(self):
        return self.core() if self.core is not None else None

    def clear_local(self):
        core = self._core()
        if core is not None:
            type(core).cache_clear(core)

    def delete_local(self, key_bytes):
        """Another process's cache_delete(): the local entry of that call key."""
        core = self._core()
        if core is None:
            return
        try:
            call_key = decode_plain(key_bytes)
            if self.key is not None:
                core._delete_key(call_key)
            else:
                args, items = call_key if len(call_key) == 2 else (call_key[0], ())
                type(core).cache_delete(core, *args, **dict(items))
        except Exception:  # noqa: BLE001 - a malformed message, or a key whose __eq__ raises: nothing to delete
            log.debug("boundcache: %s: a delete message that matches no local entry", self.namespace)

    def cache_clear(self):
        """Clears this process's cache, the function's entries in Redis, and (through Redis) every other process's."""
        self.clear_local()
        if not self.tier._closed:
            self.tier._clear_redis(self.namespace)

    def cache_delete(self, *args, **kwargs):
        """Removes the entry of this call here, in Redis and in every other process; whether one was held."""
        core = self._core()
        local = bool(core is not None and type(core).cache_delete(core, *args, **kwargs))
        if self.tier._closed:
            return local
        try:
            key_bytes = self.key_bytes(args, kwargs)
        except Unshareable:
            return local
        return bool(self.tier._delete_redis(self.namespace, key_bytes)) or local


def shared_wrapper(kind, func, maxsize, typed, options, promote, tier, name=None, stale=None):
    """The wrapper for ``lru_cache(..., shared=tier)`` of ``func`` (already checked to be value-keyed)."""
    from .. import _is_coroutine_function
    from ._keys import function_namespace

    binding = Binding(tier, func, function_namespace(func, name), options.get("key"), options.get("ttl"), stale,
                      bool(options.get("lock")))  # fmt: skip
    is_async = _is_coroutine_function(func)
    if stale is not None:
        local = {k: v for k, v in options.items() if k != "lock"} if is_async else options
        if is_async:
            wrapper = stale_wrapper(kind, func, maxsize, typed, local, promote, stale, compute=_named(func, binding.amiss),
                                    regenerate=binding.aregenerate)  # fmt: skip
        else:
            wrapper = stale_wrapper(kind, func, maxsize, typed, local, promote, stale, compute=binding.miss,
                                    regenerate=binding.regenerate)  # fmt: skip
        call = wrapper
        core = wrapper._boundcache_core
    elif is_async:
        from .._async import async_wrapper

        local = {k: v for k, v in options.items() if k != "lock"}  # the lease does the locking
        wrapper = async_wrapper(kind, func, maxsize, typed, local, promote=promote, compute=_named(func, binding.amiss))
        call = wrapper if hasattr(wrapper, "_boundcache_core") else wrapper.func  # a method: partial of call
        core = call._boundcache_core
    else:
        core = call = wrapper = kind(binding.miss, maxsize, typed, promote, **options)
        update_wrapper(core, func)
    binding.core = weakref.ref(core)
    # Instance attributes shadow the type's methods: cache_clear() and
    # cache_delete() (and obj.m's of a key= method, which call them) reach Redis too.
    for target in {id(core): core, id(call): call}.values():
        target.cache_clear = binding.cache_clear
        target.cache_delete = binding.cache_delete
        target.shared = tier
    return wrapper


def _named(func, amiss):
    @wraps(func)  # named as func in asyncio Task names and error messages
    async def compute(*args, **kwargs):
        return await amiss(*args, **kwargs)

    return compute
