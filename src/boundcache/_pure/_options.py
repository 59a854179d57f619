"""Wrappers made with lru_cache's keyword options (the C++ core's
options.cpp): ``ttl=`` (with ``timer=``), ``key=``, ``max_total=`` and
``lock=``.

A wrapper made without options never reads them: its tables are the plain
ones of ``_lru_store``. A wrapper made with one gets ``OptionTable``s, whose
entries carry a deadline (``ttl=``) and take part in the wrapper's recency
list across instances (``max_total=``), and whose lookup files a flight for
each miss (``lock=True``).

Re-entrancy rules are the store's, plus: the timer and the key function are
user code, so the table is looked up again after them if it changed;
``max_total`` evicts from other instances' tables, which a lookup suspended
in ``__eq__`` sees as any dict change.
"""

from __future__ import annotations

import math
import operator
import weakref
from collections import OrderedDict
from time import monotonic

from ._flight_gate import FlightGate
from ._key import make_key, value_key
from ._lru_store import MISS, NO_OWNER, Table, snapshot


class Options:
    __slots__ = (
        "flight_changes",
        "flights",
        "key",
        "max_total",
        "timer",
        "total",
        "ttl",
    )

    def __init__(self, ttl, timer, key, max_total, lock) -> None:
        self.ttl = ttl  # seconds an entry lives after it is stored, or None
        self.timer = timer  # None: time.monotonic
        self.key = key  # None: functools' key rules
        self.max_total = max_total  # None: no bound across instances
        # id(entry) -> weak reference to its table, least recently used first
        self.total = OrderedDict() if max_total is not None else None
        # lock=True: (id(table), hash(key)) -> [FlightGate, ...] in progress
        self.flights = {} if lock else None
        self.flight_changes = 0  # bumped whenever a flight is filed or removed

    def parameters(self) -> dict:
        return {
            "ttl": self.ttl,
            "timer": self.timer,
            "key": self.key,
            "max_total": self.max_total,
            "lock": self.flights is not None,
        }


def parse_options(ttl, timer, key, max_total, lock):
    """An Options, or None when none is set. lru_cache() has checked these
    with messages for users; these checks only keep a direct constructor
    call from making a broken wrapper."""
    if ttl is None and key is None and max_total is None and not lock:
        if timer is not None:
            raise TypeError("boundcache: timer= only applies together with ttl=")
        return None
    if ttl is not None:
        if not _is_number(ttl):
            raise TypeError(
                f"boundcache: ttl= must be a number of seconds, not {type(ttl).__name__}"
            )
        ttl = float(ttl)
        if not ttl > 0:
            raise ValueError("boundcache: ttl= must be a positive number of seconds")
    if timer is not None and (ttl is None or not callable(timer)):
        raise TypeError(
            "boundcache: timer= must be a callable, given together with ttl="
        )
    if key is not None and not callable(key):
        raise TypeError("boundcache: key= must be a callable")
    if max_total is not None:
        max_total = operator.index(max_total)
        if max_total < 1:
            raise ValueError("boundcache: max_total= must be at least 1")
    return Options(ttl, timer, key, max_total, bool(lock))


def _is_number(x) -> bool:
    """What float() takes as a number (a str it would parse is not one)."""
    tp = type(x)
    return isinstance(x, float) or hasattr(tp, "__float__") or hasattr(tp, "__index__")


def read_clock(o: Options) -> float:
    """The wrapper's clock (ttl=). May run user code."""
    if o.timer is None:
        return monotonic()
    t = o.timer()
    if not _is_number(t):
        raise TypeError(
            f"boundcache: timer= must return a number of seconds, not {type(t).__name__}"
        )
    # A number's own conversion error (its __float__ raised, an int too
    # large for a float) is the caller's to see, unchanged.
    now = float(t)
    # Deadlines are compared with `>`: with NaN or an infinity, no entry
    # would ever be live, nor ever expire to be purged.
    if not math.isfinite(now):
        raise ValueError(
            f"boundcache: timer= returned {t!r}; it must return a finite number of seconds that never "
            "decreases, as time.monotonic() does"
        )
    return now


class Entry:
    __slots__ = ("deadline", "key", "value")

    def __init__(self, key, value, deadline) -> None:
        self.key = key
        self.value = value
        self.deadline = deadline


def holds_owner(key, owner, depth: int = 0) -> bool:
    """Whether a key= result contains the owner (itself, or inside tuples)."""
    if key is owner:
        return True
    if not isinstance(key, tuple) or depth > 64:
        return False
    return any(holds_owner(item, owner, depth + 1) for item in key)


class OptionTable(Table):
    """A table of Entry objects; bounded ones in recency order."""

    __slots__ = ("by_id", "options", "ref", "slots")

    def __init__(self, maxsize, typed, tally, options: Options) -> None:
        super().__init__(maxsize, typed, tally)
        if maxsize is not None:
            self.data = OrderedDict()
        self.options = options
        self.by_id = {} if options.total is not None else None  # id(entry) -> entry
        # An unbounded ttl= table purges before it grows past two thirds of
        # this many slots (dict's schedule, as the C++ table's own).
        self.slots = 8
        self.ref = None  # a weak reference to this table, for the total

    def items(self) -> list:
        pairs = [(k, e.value) for k, e in self.data.items()]
        if self.maxsize is not None:
            pairs.reverse()
        return pairs

    def key_references(self) -> int:
        return super().key_references() + 1  # and the Entry's

    def take_all(self) -> list:
        held = super().take_all()
        total = self.options.total
        if total is not None:
            for entry_id in self.by_id:
                total.pop(entry_id, None)
            self.by_id.clear()
        return held

    def detach(self) -> list:
        # Its entries leave the total at once, as the instance dies.
        return self.take_all() if self.by_id else []

    def remove_key(self, key, value=MISS, now=None) -> bool:
        entry = self.data.get(key, MISS)
        if entry is MISS or (value is not MISS and entry.value is not value):
            return False
        self.remove(entry)
        return now is None or self.live(entry, now)  # an expired entry goes unreported

    def remove(self, entry) -> Entry:
        """Removes `entry` (if still here); returned for the caller to release."""
        if self.data.get(entry.key, MISS) is entry:
            del self.data[entry.key]
        if self.by_id is not None and self.by_id.pop(id(entry), None) is not None:
            self.options.total.pop(id(entry), None)
        self.mutations += 1
        return entry

    def purge_expired(self, now: float) -> list:
        """Removes every entry whose deadline is at or before `now`; returns them."""
        return [self.remove(e) for e in snapshot(lambda: list(self.data.values())) if e.deadline <= now]

    def live(self, entry, now: float) -> bool:
        return self.options.ttl is None or entry.deadline > now

    def lookup(self, wrapper, args, kwargs, owner):
        o = self.options
        if o.key is not None:
            k = (
                o.key(*args, **kwargs)
                if owner is NO_OWNER
                else o.key(owner, *args, **kwargs)
            )
            if owner is not NO_OWNER and holds_owner(k, owner):
                raise ValueError(
                    f"boundcache: the key= function of {wrapper!r} returned a key that contains the instance "
                    "itself. key= makes one cache for the whole class, and a key holding self would keep every "
                    "instance alive; return values that identify the result instead (a path, a URL, the "
                    "arguments), or drop key= to get a cache per instance."
                )
            key = value_key(k)
        else:
            key = make_key(args, kwargs, self.typed)
        now = read_clock(o) if o.ttl is not None else 0.0
        lock = wrapper._lock
        data = self.data
        flight = other = None
        while True:
            mutations = self.mutations
            entry = data.get(key, MISS)
            if entry is not MISS:
                with lock:
                    if self.live(entry, now):
                        self.hit()
                        self.touch(entry)
                        return entry.value
                    # Expired: dropped now, and this call is a miss.
                    held = self.remove(entry)
                # Releasing it may run code that stores the key again: look once more.
                del entry, held
                continue
            if o.flights is None:
                with lock:
                    self.miss()
                break
            # lock=True: the first thread to miss computes; others that miss
            # the same key of the same table meanwhile wait for it. Comparing
            # keys runs user code, so flights are compared outside the lock
            # and the filing checks that neither the flights nor the table
            # changed meanwhile (else: look again).
            slot = (id(self), hash(key))
            changes = o.flight_changes
            other = _flight_for(o, slot, key)
            with lock:
                if o.flight_changes != changes or self.mutations != mutations:
                    other = None
                    continue
                if other is None:
                    flight = _Flight(o, slot, key)
                    o.flights.setdefault(slot, []).append(flight)
                    o.flight_changes += 1
                    self.miss()
            break
        if other is not None:
            try:
                return self._wait_for(other, wrapper)
            finally:
                del other  # an exception's traceback holds this frame: not the flight

        try:
            result = (
                wrapper._func(*args, **kwargs)
                if owner is NO_OWNER
                else wrapper._func(owner, *args, **kwargs)
            )
            now = read_clock(o) if o.ttl is not None else 0.0
            with lock:
                held = self.store(key, mutations, result, now)
            if flight is not None:
                flight.result = result
            return result
        except BaseException as e:
            if flight is not None:
                flight.error = e
                flight.traceback = e.__traceback__
            raise
        finally:
            if flight is not None:
                with lock:
                    _unfile(flight)
                    o.flight_changes += 1
                flight.finish()
                # The exception's traceback holds this frame: it must not hold the flight.
                del flight

    def _wait_for(self, flight, wrapper):
        """Waits for another call's computation of this key; its outcome is this call's."""
        if flight.computing_here():
            del flight  # the exception's traceback holds this frame: not the flight
            raise RuntimeError(
                f"boundcache: {wrapper!r} called itself with the same arguments while computing them; with "
                "lock=True the inner call would wait for the outer one forever. Break the recursion, or drop "
                "lock=True."
            )
        flight.wait()
        error, traceback, result = flight.error, flight.traceback, flight.result
        del flight
        if error is not None:
            raise error.with_traceback(traceback)
        with wrapper._lock:
            self.hit()
        return result

    def touch(self, entry) -> None:
        """A use: to the front of this table's order and of the total's."""
        if self.maxsize is not None:
            try:
                self.data.move_to_end(entry.key)
            except KeyError:  # an __eq__ that the move ran removed it
                return
        if self.by_id is not None and id(entry) in self.by_id:
            self.options.total.move_to_end(id(entry))

    def store(self, key, mutations, result, now) -> list:
        """Stores a computed result; returns what it replaced or evicted, for
        the caller to release once every table is consistent."""
        o = self.options
        deadline = now + o.ttl if o.ttl is not None else 0.0
        data = self.data
        entry = data.get(key, MISS) if self.mutations != mutations else MISS
        held = []
        if entry is not MISS:
            # As the plain tables: a bounded cache keeps a live entry already
            # there, an unbounded one takes the newer result. An expired one is replaced.
            if self.maxsize is not None and self.live(entry, now):
                return held
            held.append(entry.value)
            entry.value = result
            entry.deadline = deadline
            self.mutations += 1
            self.touch(entry)
            return held
        if (
            o.ttl is not None
            and self.maxsize is None
            and len(data) >= self.slots * 2 // 3
        ):
            # Expired entries that are never asked for again go before the
            # table grows; it grows anyway unless this freed an eighth of it,
            # so that purges cost O(1) per insert however entries expire.
            size = len(data)
            held += self.purge_expired(now)
            if len(held) * 8 < size:
                self.slots *= 2
        if self.maxsize is not None and len(data) >= self.maxsize:
            # This instance's own bound: its least recently used entry goes first.
            held.append(self.remove(next(iter(data.values()))))
        entry = Entry(key, result, deadline)
        data[key] = entry
        self.mutations += 1
        if self.by_id is not None:
            self.by_id[id(entry)] = entry
            if self.ref is None:
                self.ref = weakref.ref(self)
            total = o.total
            total[id(entry)] = self.ref
            error = None
            failures = 0
            while len(total) > o.max_total and failures < len(total):
                entry_id, table_ref = next(iter(total.items()))
                table = table_ref()
                victim = table.by_id.get(entry_id) if table is not None else None
                if victim is None:
                    total.pop(entry_id, None)
                    continue
                try:
                    held.append(table.remove(victim))
                except BaseException as e:
                    # Removing it compared keys, and a key's __eq__ raised:
                    # it stays, still counted, as the most recent, and the
                    # next oldest goes instead, so that the total holds; the
                    # caller sees the error.
                    if entry_id in total:
                        total.move_to_end(entry_id)
                    failures += 1
                    error = e
            if error is not None:
                try:
                    raise error
                finally:
                    error = None  # no cycle through this frame
        if self.maxsize is not None:
            while len(data) > self.maxsize:  # an __eq__ run by the insert inserted too
                held.append(self.remove(next(iter(data.values()))))
        return held


def _flight_for(o, slot, key):
    """The flight in progress for an equal key of the same table, or None.
    Flights orphaned by a fork are skipped: they have no outcome."""
    for f in list(o.flights.get(slot, ())):
        if not f.orphaned and (f.key is key or f.key == key):
            return f
    return None


class _Flight(FlightGate):
    """One lock=True computation in progress: the key and then its outcome."""

    __slots__ = ("error", "key", "options", "result", "slot", "traceback")

    def __init__(self, options, slot, key) -> None:
        super().__init__(_detach)
        self.options = options
        self.slot = slot
        self.key = key
        self.result = None
        self.error = None
        self.traceback = None


def _detach(flight) -> None:
    # At a fork that its computing thread did not survive: callers comparing
    # keys with it (user code, which may have forked) look again.
    _unfile(flight)
    flight.options.flight_changes += 1


def _unfile(flight) -> None:
    chain = flight.options.flights.get(flight.slot)
    if chain is not None and flight in chain:
        chain.remove(flight)
        if not chain:
            del flight.options.flights[flight.slot]
