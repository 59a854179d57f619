"""lru_cache(..., ttl=T, stale=S): serve a value up to S seconds past its ttl while one caller refreshes it.

dogpile.cache's model: the core keeps an entry for ``T + S`` seconds, as a
``Fresh`` record (the value, and the wall-clock time until which it is
fresh). A call that finds a fresh record returns its value. One that finds
it past ``fresh_until`` returns the stale value at once, unless it is the
one caller that refreshes it: the first in this process, and with a Redis
tier the one that takes the key's lease across the fleet (the others keep
serving the stale value meanwhile). If the refresh raises, the error is
logged, nothing is cached, the stale value is returned, and the next refresh
is tried after ``min(1 s, S)``; once ``S`` runs out the entry is gone and a
call computes as on a miss (its error then reaches the caller).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import update_wrapper

log = logging.getLogger("boundcache.stale")

_RETRY_AFTER_ERROR = 1.0  # seconds, at most stale=


class Fresh:
    """What the core caches for a stale= function."""

    __slots__ = ("fresh_until", "refreshing", "retry_at", "value")

    def __init__(self, value, fresh_until):
        self.value = value
        self.fresh_until = fresh_until
        self.refreshing = False
        self.retry_at = 0.0

    def __repr__(self):
        return f"<boundcache stale= record {self.value!r}>"


def stale_wrapper(kind, func, maxsize, typed, options, promote, stale, compute=None, regenerate=None):
    """The wrapper of ``func`` with ``stale=``; ``compute``/``regenerate`` are a Redis tier's paths (or None: local)."""
    ttl = options["ttl"]
    local = {**options, "ttl": ttl + stale}
    is_async = compute is not None and _is_async(compute) or compute is None and _is_async(func)
    if compute is None:
        if is_async:

            async def compute(*args, **kwargs):
                return Fresh(await func(*args, **kwargs), time.time() + ttl)

        else:

            def compute(*args, **kwargs):
                return Fresh(func(*args, **kwargs), time.time() + ttl)

    if regenerate is None:
        if is_async:

            async def regenerate(args, kwargs):
                return await compute(*args, **kwargs)

        else:

            def regenerate(args, kwargs):
                return compute(*args, **kwargs)

    gate = threading.Lock()  # one refresh per record in this process
    retry_after = min(_RETRY_AFTER_ERROR, stale)

    def claim(record, now):
        with gate:
            if record.refreshing or now < record.retry_at:
                return False
            record.refreshing = True
            return True

    def failed(record, exc):
        record.retry_at = time.time() + retry_after
        log.error("boundcache: refreshing %s failed; its stale value is served for up to %g s more",
                  getattr(func, "__qualname__", func), stale, exc_info=exc)  # fmt: skip

    if is_async:
        from ._async import _OVER, async_wrapper

        inner = async_wrapper(kind, func, maxsize, typed, local, promote=False, compute=compute)
        core = inner._boundcache_core

        def renew(record, args, kwargs):
            # A fresh record replaces the entry, so that it lives T + S from now.
            type(core).cache_delete(core, *args, **kwargs)
            flight = core(*args, **kwargs)
            flight.result, flight.task = record, _OVER

        async def call(*args, **kwargs):
            record = await inner(*args, **kwargs)
            now = time.time()
            if record.fresh_until > now or not claim(record, now):
                return record.value
            try:
                fresh = await regenerate(args, kwargs)
            except Exception as exc:  # noqa: BLE001 - served stale, logged
                failed(record, exc)
                return record.value
            finally:
                record.refreshing = False
            if fresh is None:  # another process refreshes it
                record.retry_at = now + 0.05
                return record.value
            renew(fresh, args, kwargs)
            return fresh.value

    else:
        handoff = threading.local()

        def fill(*args, **kwargs):
            record = getattr(handoff, "record", None)
            if record is not None:
                handoff.record = None
                return record
            return compute(*args, **kwargs)

        core = kind(fill, maxsize, typed, promote, **local)
        update_wrapper(core, func)

        def renew(record, args, kwargs):
            type(core).cache_delete(core, *args, **kwargs)
            handoff.record = record
            try:
                core(*args, **kwargs)
            finally:
                handoff.record = None

        def call(*args, **kwargs):
            record = core(*args, **kwargs)
            now = time.time()
            if record.fresh_until > now or not claim(record, now):
                return record.value
            try:
                fresh = regenerate(args, kwargs)
            except Exception as exc:  # noqa: BLE001 - served stale, logged
                failed(record, exc)
                return record.value
            finally:
                record.refreshing = False
            if fresh is None:
                record.retry_at = now + 0.05
                return record.value
            renew(fresh, args, kwargs)
            return fresh.value

    update_wrapper(call, func)
    call.cache_info = core.cache_info
    call.cache_clear = core.cache_clear
    call.cache_delete = core.cache_delete
    call.cache_parameters = lambda: {**core.cache_parameters(), "ttl": ttl, "stale": stale}
    call._boundcache_core = core
    return call


def _is_async(func):
    from . import _is_coroutine_function

    return _is_coroutine_function(func)
