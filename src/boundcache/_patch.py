"""``boundcache.patch()``: functools' three memoizers served by boundcache,
for every module imported after the switch (docs/patch.md).

``functools.lru_cache``, ``functools.cache`` and ``functools.cached_property``
are replaced by stand-ins that hand each decorated function to boundcache,
unless the function's module is excluded (``BOUNDCACHE_PATCH_EXCLUDE``, the
``patch-exclude`` key of ``[tool.boundcache]``, or ``patch(exclude=...)``),
in which case functools' own decorator serves it. What was imported before
keeps what it already took from functools.

``BOUNDCACHE_PATCH=1`` makes the ``.pth`` file that boundcache installs call
``_start()`` at interpreter start, before anything else is imported; child
processes inherit the variable. Nothing here may break an interpreter's
start: every failure there is one line on stderr and leaves functools as it is.
"""

from __future__ import annotations

import _thread
import functools
import os
import sys
from _weakref import ref as _ref

from . import cached_property as _bc_cached_property
from . import lru_cache as _bc_lru_cache

ENV_SWITCH = "BOUNDCACHE_PATCH"
ENV_EXCLUDE = "BOUNDCACHE_PATCH_EXCLUDE"
_NAMES = ("lru_cache", "cache", "cached_property")

_lock = _thread.RLock()
_originals: dict[str, object] = {}  # functools' own, while patched
_exclude: tuple[str, ...] = ()  # module prefixes functools keeps serving
# Wrappers made through the patch, by id, for audit(): weak, so that the
# registry never keeps a cache alive nor mistakes a new object for a dead one.
_replaced: dict[int, _ref] = {}


def patch(*, exclude=()) -> bool:
    """Serve ``functools.lru_cache``, ``functools.cache`` and
    ``functools.cached_property`` with boundcache's, for everything decorated
    from now on.

    Functions whose module is ``exclude``d (module names; a name covers its
    submodules), or named in ``BOUNDCACHE_PATCH_EXCLUDE`` or in the
    ``patch-exclude`` key of ``[tool.boundcache]`` in the nearest
    ``pyproject.toml``, keep functools' decorators. Idempotent and
    thread-safe; returns True when functools is patched on return, False
    (with a warning) where boundcache cannot serve.
    """
    # All read before the switch: what reading imports (re, for a
    # pyproject.toml that has the key) is imported before it.
    prefixes = (
        _module_names(exclude, "patch(exclude=...)")
        + _module_names(_split(os.environ.get(ENV_EXCLUDE, "")), ENV_EXCLUDE)
        + _configured_exclusions()
    )
    with _lock:
        problem = _cannot_serve()
        if problem:
            import warnings

            warnings.warn(f"boundcache.patch(): {problem}; functools is left as it is", RuntimeWarning, stacklevel=2)
            return False
        global _exclude
        _exclude = tuple(dict.fromkeys(_exclude + prefixes))
        if not _originals:
            for name in _NAMES:
                _originals[name] = getattr(functools, name)
            functools.lru_cache, functools.cache, functools.cached_property = lru_cache, cache, cached_property
    return True


def unpatch() -> bool:
    """Give functools its own decorators back. Caches made while patched stay
    boundcache's. Idempotent; returns True if something was restored."""
    global _exclude
    with _lock:
        if not _originals:
            return False
        current = (lru_cache, cache, cached_property)
        for name, ours in zip(_NAMES, current):
            # Leave alone whatever someone else put there since.
            if getattr(functools, name) is ours:
                setattr(functools, name, _originals[name])
        _originals.clear()
        _exclude = ()
        return True


def is_patched() -> bool:
    """Are functools' decorators boundcache's right now?"""
    return bool(_originals)


def is_replaced(obj) -> bool:
    """Was this cache made by a functools decorator that the patch served?"""
    if _PatchedCachedProperty in type(obj).__mro__:
        return True
    r = _replaced.get(id(obj))
    return r is not None and r() is obj


def replaced_count() -> int:
    """How many caches made through the patch are alive."""
    return len(_replaced)


# ---- the stand-ins that functools holds while patched ----


def lru_cache(maxsize=128, typed=False):
    """functools.lru_cache, served by :func:`boundcache.lru_cache` (boundcache.patch())."""
    # Bare @lru_cache, as boundcache.lru_cache tells it (which also takes a
    # classmethod or staticmethod object below it).
    if (
        not isinstance(maxsize, int)
        and (callable(maxsize) or isinstance(maxsize, (staticmethod, classmethod)))
        and isinstance(typed, bool)
    ):
        return _serve(maxsize, 128, typed)
    _bc_lru_cache(maxsize, typed)  # functools' argument errors, raised now as functools raises them

    def decorating_function(user_function):
        return _serve(user_function, maxsize, typed)

    return decorating_function


def cache(user_function, /):
    """functools.cache, served by :func:`boundcache.cache` (boundcache.patch())."""
    return _serve(user_function, None, False)


def _serve(func, maxsize, typed):
    if _exclude and _excluded(func):
        return _originals.get("lru_cache", _original_lru_cache)(maxsize, typed)(func)
    wrapper = _bc_lru_cache(maxsize, typed)(func)
    inner = getattr(wrapper, "__func__", wrapper) if isinstance(wrapper, (staticmethod, classmethod)) else wrapper
    _remember(inner)
    return wrapper


def _remember(wrapper) -> None:
    key = id(wrapper)
    try:
        _replaced[key] = _ref(wrapper, lambda _, key=key: _replaced.pop(key, None))
    except TypeError:  # not weakly referenceable: not shown as replaced
        pass


class _Meta(type):
    # While patched, functools.cached_property is the class below: objects
    # made by functools' own class (before the patch, or for an excluded
    # module) must still pass isinstance(x, functools.cached_property).
    def __instancecheck__(cls, obj):
        if cls is _PatchedCachedProperty:
            return isinstance(obj, _original_cached_property)
        return type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub):
        if cls is _PatchedCachedProperty:
            return issubclass(sub, _original_cached_property)
        return type.__subclasscheck__(cls, sub)


class _PatchedCachedProperty(_bc_cached_property, metaclass=_Meta):
    """functools.cached_property, served by :class:`boundcache.cached_property` (boundcache.patch())."""

    __slots__ = ()  # the layout of boundcache's, which its slotted variant relies on

    def __new__(cls, *args, **kwargs):
        if cls is _PatchedCachedProperty and _exclude and args and _excluded(args[0]):
            return _originals.get("cached_property", _original_cached_property)(*args, **kwargs)
        return super().__new__(cls)


_PatchedCachedProperty.__name__ = _PatchedCachedProperty.__qualname__ = "cached_property"
cached_property = _PatchedCachedProperty
_original_lru_cache = functools.lru_cache
_original_cached_property = _bc_cached_property.__mro__[1]  # functools' class, whatever functools holds now


def _excluded(func) -> bool:
    module = getattr(func, "__module__", None)
    if not isinstance(module, str):
        func = getattr(func, "__func__", None)  # staticmethod/classmethod before 3.10
        module = getattr(func, "__module__", None)
        if not isinstance(module, str):
            return False
    for prefix in _exclude:
        if module == prefix or module.startswith(prefix + "."):
            return True
    return False


# ---- configuration ----


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _module_names(names, where: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError(f"{where} takes a list of module names, such as ['sqlalchemy', 'myapp.legacy'], not a str")
    out = []
    for name in names:
        if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(
                f"{where}: {name!r} is not a module name; give names such as 'sqlalchemy' or 'myapp.legacy' "
                "(a name covers its submodules)"
            )
        out.append(name)
    return tuple(out)


def _configured_exclusions() -> tuple[str, ...]:
    """``patch-exclude`` of the nearest ``pyproject.toml`` with a
    ``[tool.boundcache]`` table, from the current directory upward (as
    ``boundcache check`` finds it). Unless some file on the way mentions the
    key, nothing is parsed: a start-up pays one read of each file."""
    try:
        directory = os.getcwd()
    except OSError:
        return ()
    candidates, mentioned = [], False
    while True:
        path = os.path.join(directory, "pyproject.toml")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        if b"boundcache" in data:
            candidates.append(path)
            mentioned = mentioned or b"patch-exclude" in data
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    if not mentioned:
        return ()
    from ._pyproject import ConfigError, read_table

    for path in candidates:
        table = read_table(path, required=False, small=True)
        if table is not None:
            names = table.get("patch-exclude", [])
            if not isinstance(names, list):
                raise ConfigError(f"{path}: [tool.boundcache] patch-exclude must be a list of strings")
            return _module_names(names, f"{path}: [tool.boundcache] patch-exclude")
    return ()


def _cannot_serve() -> str | None:
    # boundcache's cached_property must derive from functools' class, which
    # it takes at import: a functools.cached_property replaced by something
    # else beforehand (another patcher) cannot be stood in for.
    current = functools.cached_property
    if current is not _PatchedCachedProperty and current is not _original_cached_property:
        return f"functools.cached_property is {current!r}, not functools' class (another tool replaced it)"
    return None


def _start() -> None:
    """Called by boundcache's .pth file when ``BOUNDCACHE_PATCH`` is set."""
    value = os.environ.get(ENV_SWITCH, "").strip()
    if value in ("", "0"):
        return
    if value != "1":
        _startup_error(f"{ENV_SWITCH}={value!r}: set it to 1 to patch functools at start-up, or 0 (or unset) not to")
        return
    try:
        patch()
    except Exception as e:  # noqa: BLE001 - an interpreter must start whatever the configuration says
        unpatch()
        _startup_error(f"{ENV_SWITCH}=1: {e}")



def _startup_error(message: str) -> None:
    # One line on stderr, as the .pth file says it when boundcache cannot be
    # imported: the warnings machinery would show a line of this module,
    # which is not what went wrong.
    sys.stderr.write(f"boundcache: {message}; functools is left as it is\n")
