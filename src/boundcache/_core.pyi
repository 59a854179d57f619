"""Type stubs for the C++ core of boundcache.

The single source of truth for boundcache's types; ``boundcache/__init__.pyi``
re-exports the public names.  See ``docs/typing.md`` for what is inferred,
what is checked and the known limits.
"""

import functools
from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar, final, overload, type_check_only

from typing_extensions import Concatenate, NotRequired, ParamSpec, Self

@final
@type_check_only
class _Anything:
    """Stands for an object no real parameter expects: a first parameter that
    accepts it accepts anything, so its function is not bound as a method."""

_P = ParamSpec("_P")
_Q = ParamSpec("_Q")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)
_S = TypeVar("_S")
_S_co = TypeVar("_S_co", covariant=True)
_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_StaticF = TypeVar("_StaticF", bound=Callable[Concatenate[_Anything, ...], Any])

class CacheInfo(NamedTuple):
    """Cache statistics, equal to ``functools``' for the same numbers."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int

@type_check_only
class _CacheParameters(TypedDict):
    maxsize: int | None
    typed: bool
    # Only for wrappers made with one of lru_cache's keyword options.
    ttl: NotRequired[float | None]
    timer: NotRequired[Callable[[], float] | None]
    key: NotRequired[Callable[..., Any] | None]
    max_total: NotRequired[int | None]
    lock: NotRequired[bool]
    stale: NotRequired[float]

class CachedFunction(Generic[_P, _R_co]):
    """What ``lru_cache`` and ``cache`` return: the function's own signature.

    Reached through an instance, it binds like a method and gives a
    :class:`BoundCachedMethod` whose parameters are the ones after ``self``;
    reached through the class, it is itself (``Cls.m(obj, ...)``).
    """

    __wrapped__: Callable[_P, _R_co]
    __name__: str
    __qualname__: str
    __module__: str
    __doc__: str | None
    __annotations__: dict[str, Any]
    __dict__: dict[str, Any]
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R_co: ...
    def cache_info(self) -> CacheInfo: ...
    def cache_clear(self) -> None: ...
    # Removes the entry a call with these arguments would use; True if there was one.
    def cache_delete(self, *args: _P.args, **kwargs: _P.kwargs) -> bool: ...
    def cache_parameters(self) -> _CacheParameters: ...
    def __copy__(self) -> Self: ...
    def __deepcopy__(self, memo: Any, /) -> Self: ...
    def __set_name__(self, owner: type[Any], name: str) -> None: ...
    # Binding: what ``Cls.m`` and ``obj.m`` are.  ``self`` is annotated as a
    # Callable so that both checkers match the owner or the instance against
    # the function's first parameter.  Neither checker lets a stub see the
    # ``@staticmethod``/``@classmethod`` decorators (they are flags on the
    # function), so the first parameter decides; see docs/typing.md.
    #
    # A first parameter that accepts anything (unannotated, ``Any``,
    # ``object``) is a static method's: never bound.
    @overload
    def __get__(  # type: ignore[misc]  # mypy: a Callable self-type is not a supertype of every CachedFunction
        self: _StaticF, instance: object, owner: type[Any] | None = None, /
    ) -> _StaticF: ...
    # Through the class: a class method (first parameter ``type[owner]``) is
    # bound to the class; anything else is the wrapper itself.
    @overload
    def __get__(  # type: ignore[misc]  # as above
        self: Callable[Concatenate[type[_S], _Q], _R], instance: None, owner: type[_S], /
    ) -> BoundCachedMethod[type[_S], _Q, _R]: ...
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None, /) -> Self: ...
    # Through an instance: a method is bound to it (``self`` dropped), a class
    # method to the instance's class; a static method (whose first parameter
    # does not accept the instance) is the wrapper itself.
    @overload
    def __get__(
        self: Callable[Concatenate[_S, _Q], _R], instance: _S, owner: type[Any] | None = None, /
    ) -> BoundCachedMethod[_S, _Q, _R]: ...
    @overload
    def __get__(  # type: ignore[misc]  # as above
        self: Callable[Concatenate[type[_S], _Q], _R], instance: _S, owner: type[Any] | None = None, /
    ) -> BoundCachedMethod[type[_S], _Q, _R]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None, /) -> Self: ...

class CachedMethod(CachedFunction[_P, _R_co]):
    """The runtime class of a wrapper defined in a class body (same interface)."""

@final
class BoundCachedMethod(Generic[_S_co, _P, _R_co]):
    """``obj.m`` for a cached method: parameters after ``self``, ``obj``'s cache."""

    @property
    def __self__(self) -> _S_co: ...
    @property
    def __wrapped__(self) -> Callable[Concatenate[Any, _P], _R_co]: ...
    __name__: str
    __qualname__: str
    __doc__: str | None
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R_co: ...
    def cache_info(self) -> CacheInfo: ...
    def cache_clear(self) -> None: ...
    def cache_delete(self, *args: _P.args, **kwargs: _P.kwargs) -> bool: ...
    def cache_parameters(self) -> _CacheParameters: ...

# ``lru_cache(classmethod(f))`` (a classmethod object, not a function, is
# passed when the checker does not treat ``@classmethod`` specially): the
# runtime returns a classmethod around the wrapper.  Both mypy and pyright
# treat the ``@classmethod`` and ``@staticmethod`` decorators as flags on the
# function, so decorated code reaches the ``Callable`` overloads instead.

@type_check_only
class _CachedClassMethod(classmethod[_T, _P, _R_co]):
    def __get__(
        self, instance: object, owner: type[Any] | None = None, /
    ) -> BoundCachedMethod[type[_T], _P, _R_co]: ...

@type_check_only
class _LruCacheDecorator:
    """What the called form ``lru_cache(maxsize=..., typed=...)`` returns."""

    @overload
    def __call__(self, user_function: classmethod[_T, _P, _R], /) -> _CachedClassMethod[_T, _P, _R]: ...
    @overload
    def __call__(self, user_function: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...

# The bare form comes first and the called form last: their argument types do
# not overlap, and pyright explains a failed call against the last overload,
# so a wrong ``maxsize`` is reported against ``int | None``.
class cached_property(functools.cached_property[_T_co]):
    """Like ``functools.cached_property`` (and a subclass of it): computed once per instance."""

    func: Callable[[Any], _T_co]
    attrname: str | None
    __doc__: str | None
    __module__: str
    def __init__(self, func: Callable[[Any], _T_co]) -> None: ...
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> _T_co: ...
    def __set_name__(self, owner: type[Any], name: str) -> None: ...
    # Like typeshed's functools.cached_property: assigning to the attribute
    # on an instance is allowed (it replaces the cached value).
    def __set__(self, instance: object, value: _T_co) -> None: ...  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]

def _after_fork_child() -> None:
    """Run in a forked child: forget the computations of the threads the fork left behind."""
