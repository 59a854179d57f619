"""The LRU store (the C++ core's lru_store.hpp): one cache's table of
key -> result and its statistics, with functools' rules.

Three kinds, chosen once per wrapper from ``maxsize``, as functools chooses
between its uncached, unbounded and bounded wrappers:

- ``UncachedTable`` (``maxsize=0``): every call a miss, no key built, so
  unhashable arguments are accepted;
- ``UnboundedTable`` (``maxsize=None``): a dict;
- ``BoundedTable``: an ``OrderedDict`` in recency order, least recently used
  first, evicted from the front when an insert would exceed ``maxsize``.

User code runs inside a call: the function, ``__eq__`` of keys during dict
operations, finalizers of released keys and results. The invariants:

- a miss counts before the function runs; an unhashable argument counts
  nothing;
- the key is looked up again before storing only if the table changed while
  the function ran (``mutations``); then a bounded table keeps the entry
  already there and an unbounded one stores the newer result, as functools'
  two wrappers do;
- tables are changed in place (a lookup suspended in ``__eq__`` sees the
  change, as in a dict), and no reference a table drops is released before
  the table is consistent again: evicted and cleared entries are held in a
  local until the operation is done;
- a bounded table is never left above ``maxsize`` (an ``__eq__`` run by an
  insert may insert too: the surplus is evicted afterwards);
- threads: a dict operation is one step for other threads, but Python code
  can be switched out between any two, where the C++ core's table operations
  run no Python code and hold the GIL throughout. So every read-modify-write
  of a table (checking then inserting, evicting, clearing) holds the
  wrapper's ``lock``, a reentrant lock (finalizers that run under it may call
  the cache again); lookups do not, so a key's ``__eq__`` (user code) runs
  under it only when an insert or a removal meets another key of the same
  hash. The function always runs outside it. Hits and misses are counted
  without it (``new_count``), so that a hit takes no lock;
- a copy of a table's dict (``snapshot``) allocates, and an allocation can
  run the collector, whose finalizers may call into the cache and change
  the dict being copied: the copy is then read again.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from itertools import count

from ._key import make_key

CacheInfo = namedtuple(
    "CacheInfo", ["hits", "misses", "maxsize", "currsize"], module="boundcache"
)

MISS = object()  # what a lookup returns for an absent key
NO_OWNER = object()  # the owner of a call with function semantics


def snapshot(read) -> list:
    """``read()`` (a list of a dict's items or values), read again when a
    finalizer run by its allocations changed the dict meanwhile."""
    while True:
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration"
            pass


def new_count():
    """A hit or miss count that threads bump without a lock: calling it is
    ``next()`` of an ``itertools.count``, one call into the interpreter that
    no thread switch splits (where ``n += 1`` can lose a count). Reading or
    resetting it draws a number too: the table keeps the number that counts
    as zero (``hit_base``, ``miss_base``)."""
    return count().__next__


class Table:
    """A table and its statistics. Per-owner tables also carry their
    wrapper's tally (``_wrapper.Tally``), into which their statistics go when
    they are cleared on their own or die."""

    __slots__ = (
        "__weakref__",
        "data",
        "hit",
        "hit_base",
        "maxsize",
        "miss",
        "miss_base",
        "mutations",
        "tally",
        "typed",
    )

    def __init__(self, maxsize, typed: bool, tally=None) -> None:
        self.data = self._new_data()
        self.maxsize = maxsize
        self.typed = typed
        self.hit = new_count()
        self.miss = new_count()
        self.hit_base = self.miss_base = 0
        self.mutations = 0
        self.tally = tally

    @staticmethod
    def _new_data():
        return {}

    def size(self) -> int:
        return len(self.data)

    def items(self) -> list:
        """[(key, value), ...], most recently used first when bounded."""
        return snapshot(lambda: list(self.data.items()))

    def key_references(self) -> int:
        """References the table holds to each key (audit() counts them):
        the dict's, and an OrderedDict's link too."""
        return 1 if type(self.data) is dict else 2

    def take_all(self) -> list:
        """Empties the table in place; returns what it held, for the caller to
        release once everything it is changing is consistent."""
        held = snapshot(lambda: list(self.data.items()))
        self.data.clear()
        self.mutations += 1
        return held

    def detach(self) -> list:
        """What a table that is let go must undo elsewhere (a max_total
        table's place in its wrapper's recency list); returns what to release."""
        return []

    # Statistics are read under the wrapper's lock.
    @property
    def hits(self) -> int:
        n = self.hit() - self.hit_base
        self.hit_base += 1  # the number this read drew
        return n

    @property
    def misses(self) -> int:
        n = self.miss() - self.miss_base
        self.miss_base += 1
        return n

    def take_stats(self) -> tuple:
        """(hits, misses), the statistics starting again from zero in the
        same draw: a count made meanwhile in another thread is never lost."""
        hit, miss = self.hit(), self.miss()
        taken = (hit - self.hit_base, miss - self.miss_base)
        self.hit_base, self.miss_base = hit + 1, miss + 1
        return taken

    def reset_stats(self) -> None:
        self.take_stats()

    def remove_key(self, key, value=MISS, now=None) -> bool:
        """Removes the entry of `key` if `value` is MISS or is what it holds
        (async failures); True if a live entry went."""
        data = self.data
        held = data.get(key, MISS)
        if held is MISS or (value is not MISS and held is not value):
            return False
        del data[key]
        self.mutations += 1
        return True  # `held` is released on return

    def purge_expired(self, now) -> list:
        return []


class UncachedTable(Table):
    __slots__ = ()

    def lookup(self, wrapper, args, kwargs, owner):
        self.miss()
        if owner is NO_OWNER:
            return wrapper._func(*args, **kwargs)
        return wrapper._func(owner, *args, **kwargs)


class UnboundedTable(Table):
    __slots__ = ()

    def lookup(self, wrapper, args, kwargs, owner):
        key = make_key(args, kwargs, self.typed)
        value = self.data.get(key, MISS)
        if value is not MISS:
            self.hit()
            return value
        self.miss()
        result = (
            wrapper._func(*args, **kwargs)
            if owner is NO_OWNER
            else wrapper._func(owner, *args, **kwargs)
        )
        with wrapper._lock:
            # Over an entry stored meanwhile (recursion), the newer result, as functools.
            self.data[key] = result
            self.mutations += 1
        return result


class BoundedTable(Table):
    __slots__ = ()

    @staticmethod
    def _new_data():
        return OrderedDict()

    def items(self) -> list:
        return snapshot(lambda: list(reversed(self.data.items())))

    def lookup(self, wrapper, args, kwargs, owner):
        key = make_key(args, kwargs, self.typed)
        data = self.data
        value = data.get(key, MISS)
        if value is not MISS:
            self.hit()
            try:
                data.move_to_end(key)
            except KeyError:  # an __eq__ that the move ran removed the entry
                pass
            return value
        self.miss()
        mutations = self.mutations
        result = (
            wrapper._func(*args, **kwargs)
            if owner is NO_OWNER
            else wrapper._func(owner, *args, **kwargs)
        )
        with wrapper._lock:
            if self.mutations != mutations and key in data:
                return result  # stored meanwhile (recursion): kept, as functools' bounded cache does
            evicted = self.insert(key, result)  # noqa: F841 - released after the lock
        return result

    def insert(self, key, value) -> list:
        """Stores an absent key; returns what it evicted, for the caller to release."""
        data = self.data
        maxsize = self.maxsize
        evicted = [data.popitem(last=False)] if len(data) >= maxsize else []
        data[key] = value
        self.mutations += 1
        while len(data) > maxsize:
            evicted.append(data.popitem(last=False))
        return evicted


def new_table(maxsize, typed: bool, tally=None) -> Table:
    if maxsize is None:
        return UnboundedTable(maxsize, typed, tally)
    if maxsize == 0:
        return UncachedTable(maxsize, typed, tally)
    return BoundedTable(maxsize, typed, tally)
