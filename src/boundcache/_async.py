"""lru_cache and cache on ``async def`` functions and methods (docs/async.md).

The awaited *result* is cached, not the coroutine object (which functools
caches, so that a second ``await`` raises ``RuntimeError``).

Why Python here: on CPython 3.10 and 3.11, ``inspect.iscoroutinefunction``
recognises only real Python coroutine functions (and bound methods and
``functools.partial`` objects of them), so what users call must be an
``async def`` function. The storage stays in the C core: a core wrapper, built
exactly as ``_wrap`` builds it for a sync function (same kind, same options),
caches one ``_Flight`` per key (per instance for methods). This module only
runs the computation as an asyncio Task and lets the callers of one key share
it.

A call:

1. asks the core (hit: the key's flight; miss: the core calls ``_Flight()``
   and stores the new flight before returning it, so the next caller in this
   loop finds it);
2. fast path: the flight holds a result: return it, without awaiting anything;
3. otherwise ``_join``: start the computation (a new flight) as a Task, or
   wait for the running one as one of its waiters (without a running asyncio
   loop: compute in the caller, ``_inline``).

Lifetime: the Task (and so the coroutine, its frame and the call's
arguments, including ``self``) is referenced by the flight only while the
computation runs. When it ends, the flight keeps the result alone, or is
dropped from the core with ``_discard`` (failure, cancellation), so nothing
boundcache holds refers to the instance afterwards.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from functools import partial, update_wrapper

from ._backend import core
from ._pure._bound_method import signature_after_first

CachedMethod = core.CachedMethod

_get_running_loop = asyncio._get_running_loop  # the C accelerator; None outside a loop
_current_task = asyncio.current_task
_shield = asyncio.shield


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<boundcache {self.name}>"


_PENDING = _Marker("pending")  # Flight.result until the computation succeeded
_STARTING = _Marker("starting")  # Flight.task while loop.create_task() runs
_OVER = _Marker("over")  # Flight.task once the computation has ended, whatever the outcome


class _Flight:
    """One key's computation: a Task on ``loop`` while it runs, then its result.

    What the core caches for an async wrapper. ``task`` is None until a caller
    starts the computation, then the Task, then ``_OVER``: a flight that ended
    holds no Task (whose coroutine holds the call's arguments, so the instance).
    """

    __slots__ = ("loop", "result", "task", "waiters")

    # The core calls this on a miss, with the call's arguments (unused: the
    # caller that got the new flight starts the computation, outside the core).
    def __init__(self, /, *args, **kwargs) -> None:
        self.result = _PENDING
        self.task = None
        # Bound to the creator's loop before the core stores it, so that no
        # caller on another loop (another thread) can also start it.
        self.loop = _get_running_loop()
        self.waiters = 0  # callers awaiting the running Task

    def __repr__(self) -> str:
        if self.result is not _PENDING:
            return f"<boundcache async result {self.result!r}>"
        return f"<boundcache async computation, {'ended' if self.task is _OVER else 'in flight'}>"


def async_wrapper(kind, func, maxsize, typed, options, *, promote, compute=None):
    """The user-facing wrapper for an ``async def`` ``func``; arguments as ``_wrapper``'s.

    ``compute``, if given, is awaited on a miss instead of ``func`` (the Redis
    tier's miss path, boundcache._shared); ``func`` still names the wrapper."""
    if compute is None:
        compute = func
    if options.get("lock"):
        raise TypeError(
            f"lock=True does not apply to the async function {_name(func)}: concurrent awaiters of one key "
            "already share a single computation (and the event loop runs one at a time); drop lock=True"
        )
    core = kind(_Flight, maxsize, typed, promote, **options)
    update_wrapper(core, func)  # audit() and repr() name the function

    async def call(*args, **kwargs):
        flight = core(*args, **kwargs) if kwargs else core(*args)  # no dict copy without keywords
        result = flight.result
        if result is not _PENDING:
            return result  # done: no await, no loop needed
        return await _join(flight, core, compute, args, kwargs)

    update_wrapper(call, func)
    call.cache_info = core.cache_info
    call.cache_clear = core.cache_clear
    call.cache_delete = core.cache_delete
    call.cache_parameters = core.cache_parameters
    call._boundcache_core = core
    if kind is CachedMethod:
        return update_wrapper(_AsyncCachedMethod(call), func)
    if promote:  # may become a method when given to a class, as the core would
        return update_wrapper(_AsyncMaybeMethod(call), func)
    return call


async def _join(flight, core, func, args, kwargs):
    """The slow path: start the key's computation, or wait for the running one."""
    loop = _get_running_loop()
    if _stale(flight, loop):
        # Its computation can deliver nothing any more: start afresh. A Task
        # left on a closed loop is let go (its frame refers to the flight).
        flight.task = _OVER
        _forget(core, flight, args, kwargs)
        flight = core(*args, **kwargs)
        if flight.result is not _PENDING:
            return flight.result
        if _stale(flight, loop):  # could not be dropped: compute without the cache
            return await func(*args, **kwargs)
    if flight.loop is not loop:
        raise RuntimeError(
            f"boundcache: {_name(func)} is being computed for these arguments on another event loop, "
            "and a computation in flight can only be awaited on the loop that runs it. Await it on that "
            "loop, or once it has finished (a finished result is shared by every loop), or give each loop "
            "its own cache (caches are per instance: use one instance per loop)"
        )
    if loop is None:
        return await _inline(flight, core, func, args, kwargs)
    task = flight.task
    if task is None:
        task = _start(flight, loop, core, func, args, kwargs)
    elif task is _STARTING or task is _current_task(loop):
        raise RuntimeError(
            f"boundcache: {_name(func)} awaited itself with the same arguments while computing them; the inner "
            "await would wait for the outer one forever. Break the recursion (other arguments are fine)"
        )
    flight.waiters += 1
    try:
        # shield: a waiter's cancellation (or wait_for timeout) leaves the
        # computation running for the others.
        return await _shield(task)
    finally:
        flight.waiters -= 1
        if not flight.waiters and flight.task is task:
            # The last waiter gave up on a running computation: cancel it,
            # and forget it now, so that a caller arriving before the Task
            # has seen its cancellation computes afresh instead of joining it.
            flight.task = _OVER
            task.cancel()
            _forget(core, flight, args, kwargs)
        del task  # a raised exception's traceback keeps this frame: no Task in it


async def _inline(flight, core, func, args, kwargs):
    """No asyncio event loop runs (a coroutine driven by hand, another async
    framework): compute in the caller itself. There is no Task to share, so
    concurrent callers of the key each compute; the first result is kept."""
    try:
        result = await func(*args, **kwargs)
    except BaseException:
        if flight.result is _PENDING:
            _forget(core, flight, args, kwargs)
        raise
    if flight.result is _PENDING:
        flight.result = result
    return flight.result


def _start(flight, loop, core, func, args, kwargs):
    flight.task = _STARTING  # an eager task factory runs the coroutine inside create_task()
    coro = _run(flight, core, func, args, kwargs)
    try:
        task = loop.create_task(coro, name=f"boundcache: {_name(func)}")
    except BaseException:
        coro.close()
        flight.task = _OVER
        _forget(core, flight, args, kwargs)
        raise
    task.add_done_callback(_retrieve)
    if flight.task is _STARTING:  # else it has ended already (eager task factory)
        flight.task = task
    return task


async def _run(flight, core, func, args, kwargs):
    """The Task: the computation, then the flight's outcome."""
    try:
        result = await func(*args, **kwargs)
    except BaseException:
        # Failed or cancelled: not cached. Dropped before any waiter is told,
        # so that the next call computes again.
        flight.task = _OVER
        _forget(core, flight, args, kwargs)
        raise
    flight.result = result
    flight.task = _OVER
    return result


def _retrieve(task):
    # Waiters get the exception through shield(); this marks it retrieved even
    # when none is left, so that asyncio logs no "exception was never retrieved".
    if not task.cancelled():
        task.exception()


def _stale(flight, loop):
    """Whether no caller can ever get a result from this flight."""
    if flight.task is _OVER:  # ended without a result, and _discard could not drop it
        return True
    other = flight.loop
    return other is not loop and (other is None or other.is_closed())


def _forget(core, flight, args, kwargs):
    """Drops the entry of this call from the core if it still holds ``flight``."""
    # A key function or __hash__ that raises this time leaves the flight in
    # the cache: the next caller finds it stale and replaces it.
    with suppress(Exception):
        core._discard(flight, *args, **kwargs)


def _name(func):
    return getattr(func, "__qualname__", None) or repr(func)


# -- methods


class _AsyncCachedMethod(partial):
    """A cached ``async def`` method, as it sits in the class ``__dict__``.

    ``Cls.m`` is the coroutine function itself (``Cls.m.cache_info()`` sums
    over instances); ``obj.m`` is an ``_AsyncBoundCachedMethod``. Being a
    ``functools.partial`` of the coroutine function makes this object a
    coroutine function to ``inspect`` too, which matters where it is bound
    without its ``__get__``: ``classmethod`` on 3.13.
    """

    __slots__ = ()

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.func
        return _AsyncBoundCachedMethod(self.func, instance)

    def cache_info(self):
        return self.func._boundcache_core.cache_info()

    def cache_clear(self):
        self.func._boundcache_core.cache_clear()

    def cache_delete(self, *args, **kwargs):
        return self.func.cache_delete(*args, **kwargs)

    def cache_parameters(self):
        return self.func._boundcache_core.cache_parameters()

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"<cached async method {_name(self.func)}>"


class _AsyncMaybeMethod(_AsyncCachedMethod):
    """Like the core's CachedFunction with promote_on_set_name: a method once
    it is given to a class (``m = lru_cache(helper)`` in a class body), or
    reached through an instance (set on a class after it was made)."""

    __slots__ = ()

    def __set_name__(self, owner, name):
        self._promote(owner, name)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.func
        self._promote(owner if owner is not None else type(instance), None)
        return _AsyncBoundCachedMethod(self.func, instance)

    def _promote(self, owner, name):
        core = self.func._boundcache_core
        core.__set_name__(owner, name)
        if type(core) is CachedMethod:
            self.__class__ = _AsyncCachedMethod

    def __repr__(self):
        return f"<cached async function {_name(self.func)}>"


class _AsyncBoundCachedMethod(partial):
    # ``obj.m`` for a cached ``async def`` method: ``m`` with ``obj`` first.
    #
    # As the core's BoundCachedMethod: ``cache_info()`` and ``cache_clear()``
    # see ``obj``'s cache only, ``__self__`` is ``obj``, ``__wrapped__`` and
    # ``__doc__`` are the function's, and ``inspect.signature`` drops
    # ``self``. A ``functools.partial``, which ``inspect.iscoroutinefunction``
    # recognises on every version, rather than a bound method: a bound
    # method's attributes are its function's, shared by every instance.

    __slots__ = ()

    @property
    def __doc__(self):
        return self.func.__doc__

    @property
    def __self__(self):
        return self.args[0]

    @property
    def __func__(self):
        return self.func

    @property
    def __signature__(self):
        return signature_after_first(self.func)

    def __getattr__(self, name):
        # __name__, __qualname__, __wrapped__, ...: the function's, as for a bound method.
        return getattr(self.func, name)

    def _bound_core(self):
        instance = self.args[0]
        return self.func._boundcache_core.__get__(instance, type(instance))

    def cache_info(self):
        return self._bound_core().cache_info()

    def cache_clear(self):
        self._bound_core().cache_clear()

    def cache_delete(self, *args, **kwargs):
        return self._bound_core().cache_delete(*args, **kwargs)

    def cache_parameters(self):
        return self.func._boundcache_core.cache_parameters()

    def __eq__(self, other):
        if type(other) is not _AsyncBoundCachedMethod:
            return NotImplemented
        return self.func is other.func and self.args[0] is other.args[0]

    def __hash__(self):
        return hash((id(self.func), id(self.args[0])))

    def __reduce__(self):
        return getattr, (self.args[0], self.func.__name__)

    def __repr__(self):
        return f"<bound cached async method {_name(self.func)} of {self.args[0]!r}>"
