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
