"""Cache keys with functools' exact rules (the C++ core's key.hpp).

functools keys a call on the tuple

    positional args..., [KWD_MARK, name1, value1, name2, value2, ...], [type(arg)...]

(the keyword part only when there are keywords, the types only with
``typed=True``), and on the lone argument itself when it is a ``str`` or an
``int`` (exact types, untyped, no keywords). Two calls share an entry exactly
when their keys are equal, so this is the layout every table stores.
"""

from __future__ import annotations

# Between the positional and the keyword part: a plain object, as functools'.
KWD_MARK = object()

_BARE_TYPES = frozenset((int, str))


class HashedKey(list):
    """A key's items, hashed once: a call hashes each argument exactly once
    (as functools does), however many tables and flights it is looked up in.
    Equal to another HashedKey item by item, the stored key's item on the
    left, each pair compared only if not identical (as tuples in a dict)."""

    __slots__ = ("hashvalue",)

    def __init__(self, items: tuple) -> None:
        self[:] = items
        # Raises functools' own TypeError ("unhashable type: 'list'").
        self.hashvalue = hash(items)

    def __hash__(self) -> int:  # type: ignore[override]
        return self.hashvalue


def make_key(args: tuple, kwargs: dict, typed: bool):
    """The key of a call with these arguments (after the owner, for a method)."""
    key = args
    if kwargs:
        key += (KWD_MARK,)
        for item in kwargs.items():
            key += item
    if typed:
        key += tuple(type(v) for v in args)
        if kwargs:
            key += tuple(type(v) for v in kwargs.values())
    elif len(key) == 1 and type(key[0]) in _BARE_TYPES:
        return key[0]
    return HashedKey(key)


def value_key(value):
    """A key= function's result as a key: the value's own equality, hashed once."""
    return HashedKey((value,))
