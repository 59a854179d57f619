"""The message of the TypeError raised when an instance has nowhere to keep its
caches (no ``__dict__``, no ``__boundcache__`` slot, no ``__weakref__`` slot),
naming a fix in the terms of the library that made the class (contract 3.5).

Called from the C++ core on that error path only, never on a hot path.
"""

from __future__ import annotations

import sys


def _variable_size(cls: type) -> str | None:
    # Subclasses of int, tuple, bytes... (items stored in the object itself)
    # accept no nonempty __slots__, and no __weakref__ slot at all.
    for klass in reversed(cls.__mro__):
        if klass.__itemsize__:
            return klass.__name__
    return None


def no_storage_message(cls: type) -> str:
    name = cls.__qualname__
    head = (
        f"boundcache cannot keep caches for {name} instances: they have no __dict__, "
        f"no '__boundcache__' slot and no '__weakref__' slot."
    )
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        if sys.version_info < (3, 12):
            return f"{head} {name} is a named tuple, whose instances can have neither. {_value_key_advice(cls)}"
        return (
            f"{head} {name} is a named tuple, whose instances can have neither: subclass it "
            f"without __slots__ (class My{cls.__name__}({name}): pass) so that instances of the "
            f"subclass have a __dict__, or make it a frozen dataclass."
        )
    if "__attrs_attrs__" in cls.__dict__:
        return (
            f"{head} {name} is an attrs class with slots: define it with weakref_slot=True "
            f"(attrs' default) or slots=False."
        )
    if "__dataclass_fields__" in cls.__dict__:
        if sys.version_info >= (3, 11):
            fix = "@dataclass(slots=True, weakref_slot=True), or slots=False"
        else:
            fix = "slots=False (weakref_slot=True needs Python 3.11)"
        return f"{head} {name} is a dataclass with slots=True: declare it with {fix}."
    base = _variable_size(cls)
    if base is not None:
        return (
            f"{head} {name} subclasses {base}, whose subclasses accept no nonempty __slots__: "
            f"remove __slots__ from {name} so that its instances have a __dict__."
        )
    return f"{head} Add '__boundcache__' (or '__weakref__') to {name}.__slots__."



def _value_key_advice(cls: type) -> str:
    base = _variable_size(cls)
    value = f"{'tuple' if issubclass(cls, tuple) else base}(self)" if base else "<the instance's value>"
    return (
        f"Key the cache by value instead: @boundcache.lru_cache(key=lambda self, *args: "
        f"(type(self), {value}, *args)), which, as functools does, shares entries between equal "
        f"instances and keeps none of them alive."
    )


def no_death_signal_message(cls: type) -> str:
    """Before Python 3.12, for instances with a ``__dict__`` but no weak
    references (subclasses of int, bytes, tuple, named tuples)."""
    name = cls.__qualname__
    return (
        f"boundcache cannot keep per-instance caches for {name} instances before Python 3.12: "
        f"they have no weak references, and nothing then tells boundcache when one dies (a copy "
        f"sharing its caches could be served a dead instance's results). Use Python 3.12+, or: "
        f"{_value_key_advice(cls)}"
    )


class PinningWarning(UserWarning):
    """An owner that boundcache can only serve as functools serves it (one
    cache for the wrapper, keyed by the owner itself), which keeps it alive
    while its entries live (contract 3.5)."""


def pinning_message(cls: type, wrapper: object) -> str:
    name = cls.__qualname__
    what = getattr(wrapper, "__qualname__", None) or repr(wrapper)
    fix = no_storage_message(cls).split(". ", 1)[-1]
    return (
        f"boundcache serves {what} on {name} instances as functools.lru_cache does: one cache for the method, "
        f"keyed by the instance itself, which keeps each instance alive while its entries live. To give each "
        f"instance its own cache, freed with it: {fix}"
    )
