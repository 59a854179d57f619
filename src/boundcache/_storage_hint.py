"""Where boundcache can keep an instance's caches, and the fix to name when it
cannot, worded in the terms of whatever made the class (contract 3.5):
the :class:`PinningWarning` for method caches served as functools serves
them, and the text of ``cached_property``'s refusal.

Called from the core on those first calls only, never on a hot path.
"""

from __future__ import annotations

import sys


class PinningWarning(UserWarning):
    """A cached method is served as :func:`functools.lru_cache` serves it, for
    instances of a class that has nowhere to keep a cache of its own: one
    cache for the method, keyed by ``(self, *args)``, that keeps every instance
    it is called on alive while its entry lasts. Warned once per method and
    class; ``-W error::boundcache.PinningWarning`` makes it a refusal."""


def _variable_size(cls: type) -> str | None:
    # Subclasses of int, tuple, bytes... (items stored in the object itself)
    # accept no nonempty __slots__, and no __weakref__ slot at all.
    for klass in reversed(cls.__mro__):
        if klass.__itemsize__:
            return klass.__name__
    return None


def _is_named_tuple(cls: type) -> bool:
    return issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def _has_instance_dict(cls: type) -> bool:
    return any("__dict__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def _claims_name(cls: type) -> str | None:
    # __boundcache__ defined as something other than a slot (a property...).
    for klass in cls.__mro__:
        attr = vars(klass).get("__boundcache__")
        if attr is not None:
            kind = type(attr)
            slot = kind.__name__ == "member_descriptor"
            return None if slot or not hasattr(kind, "__set__") else kind.__name__
    return None


def _fix(cls: type) -> str:
    """What the owner of `cls` can change so that each instance owns its cache."""
    name = cls.__qualname__
    if _claims_name(cls):
        return f"Rename {name}.__boundcache__, the name boundcache keeps its caches under."
    if _is_named_tuple(cls):
        return (
            f"{name} is a named tuple, whose instances can have no room of their own: on Python 3.12+ "
            f"a subclass without __slots__ (class My{cls.__name__}({name}): pass) has a __dict__ that "
            f"can hold it; or make it a frozen dataclass."
        )
    if "__attrs_attrs__" in cls.__dict__:
        return f"{name} is an attrs class with slots: define it with weakref_slot=True (attrs' default) or slots=False."
    if "__dataclass_fields__" in cls.__dict__:
        if sys.version_info >= (3, 11):
            return f"{name} is a dataclass with slots=True: declare it with weakref_slot=True, or slots=False."
        return f"{name} is a dataclass with slots=True: declare it with slots=False (weakref_slot=True needs 3.11)."
    base = _variable_size(cls)
    if base is not None and not _has_instance_dict(cls):
        return (
            f"{name} subclasses {base}, whose subclasses accept no nonempty __slots__: remove __slots__ "
            f"from {name} so that its instances have a __dict__ (Python 3.12+ then gives each its own cache)."
        )
    if base is not None:
        return f"Python 3.12+ gives each {name} instance its own cache."
    if _has_instance_dict(cls):
        return f"Add '__weakref__' to {name}.__slots__."
    return f"Add '__boundcache__' (or '__weakref__') to {name}.__slots__."


def _reason(cls: type) -> str:
    kind = _claims_name(cls)
    if kind:
        return f"{cls.__qualname__}.__boundcache__ is a {kind}, and boundcache keeps its caches under that name"
    if _has_instance_dict(cls):
        when = "before Python 3.12" if sys.version_info < (3, 12) else "without a free dict watcher"
        return f"they have a __dict__ but no weak references, and {when} boundcache cannot see them die"
    return "they have no __dict__, no '__boundcache__' slot and no '__weakref__' slot"


def pinning_message(cls: type, wrapper: object) -> str:
    """The PinningWarning for `wrapper` (a cached method) serving `cls` instances."""
    method = getattr(wrapper, "__qualname__", "this cached method")
    bounded = wrapper.cache_parameters()["maxsize"] is not None  # type: ignore[attr-defined]
    lifetime = "until newer entries evict it" if bounded else "for as long as the cache lives"
    return (
        f"boundcache serves {method} for {cls.__qualname__} instances as functools.lru_cache does, "
        f"because {_reason(cls)}: one cache keyed by (self, *args) keeps each instance it is called on "
        f"alive {lifetime}. {_fix(cls)}"
    )


def no_storage_message(cls: type) -> str:
    """cached_property's refusal (after functools' own words) for `cls` instances."""
    return f"{_reason(cls)[0].upper()}{_reason(cls)[1:]}. {_fix(cls)}"
