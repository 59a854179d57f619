"""Stateful fuzzer (issue 15): the whole public surface against a model.

A hypothesis ``RuleBasedStateMachine`` drives owners of every kind
(``FAMILIES``: a ``__dict__``, a ``__boundcache__`` slot, the weak table, a
slot without ``__weakref__``; owners served as functools serves them,
contract 3.5: ``__slots__`` classes without ``__weakref__`` or
``__boundcache__``, with and without a ``__dict__``, a named tuple, slotted
``int`` and ``str`` subclasses; ``int`` and named tuple subclasses with a
``__dict__`` and ``IntEnum`` members, per instance from CPython 3.12 and
served as functools before; ``StrEnum`` members) through cached methods with
and without the keyword options, ``cached_property``, per-instance and per-class
``cache_info()``/``cache_clear()``, and hostile moves: tampering with
``__dict__`` and the slot, holding an owner's ``__dict__`` during a call,
``__class__`` assignment, copies and pickles, deleting instances (the cyclic
GC is off: they must die at once, unless a functools-style entry pins them),
finalizers and ``__del__``, weak-reference callbacks and ``__del__`` of
cached results that call the cache, clear it or run ``boundcache.audit()``,
keys whose ``__hash__``/``__eq__`` raise or re-enter, timers and key
functions that misbehave, and ``os.fork()``.

The model is pure Python: per instance and per wrapper an ``OrderedDict``
LRU (with deadlines for ``ttl=``, one shared LRU for ``key=``, a global
recency list for ``max_total=``), hit/miss counters, and the per-class sums
of contract 3.6. An owner served as functools is keyed, with its arguments,
in its wrapper's one LRU (``FT``): by its identity or by its value (equal
values share entries), and that entry keeps it alive (a "ghost" once the
machine drops it) until it is evicted or cleared. After every step: each
live instance's ``obj.m.cache_info()`` and each class's
``Cls.m.cache_info()`` equal the model, every result is the model's (a hit
returns the very object the miss returned, a miss runs the function once),
every ghost is alive exactly while an entry holds it, ``PinningWarning`` came
once per wrapper and class hashed by identity and never for one hashed by
value, nothing was reported to ``sys.unraisablehook``, and no callback met an
exception it did not expect. Where a move leaves the state
unspecified (a hostile key, a result's finalizer running inside an
eviction), the step checks what the contract does say (no crash, only the
expected exceptions, results that belong to the call) and then resyncs: it
clears every cache and the model with it.

Budget: ``BOUNDCACHE_FUZZ_EXAMPLES`` (default 100) runs of
``BOUNDCACHE_FUZZ_STEPS`` (default 40) steps, derandomized so that CI is
reproducible; ``BOUNDCACHE_FUZZ_SEED=random`` draws fresh examples (local
long runs). ``KNOWN_BUGS_PENDING`` lists the rules that reproduce bugs of
issue 15 whose fixes are on other branches: those rules are off until the
name is removed from the set (``BOUNDCACHE_FUZZ_KNOWN=all`` or a comma list
turns them on to check a fix).
"""

from __future__ import annotations

import collections
import copy
import enum
import functools
import gc
import itertools
import os
import pickle
import re
import signal
import sys
import threading
import time
import types
import warnings
import weakref
from collections import OrderedDict

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import boundcache
from boundcache import cache, cached_property, lru_cache
from cores import DICT_WATCHER, OWN_CACHES_WITHOUT_WEAKREF_SLOT, PURE, WEAK_REFERENCES_EVERYWHERE, examples, released

# Rules that reproduce a bug of issue 15 fixed on another branch. The lead
# empties this set as the fixes are merged; each name is the rule's gate.
# Every bug of issue 15's list is fixed: no rule is gated any more. A rule
# that reproduces a new bug goes here, with its issue, until it is fixed.
KNOWN_BUGS_PENDING: set[str] = set()

_KNOWN_ON = os.environ.get("BOUNDCACHE_FUZZ_KNOWN", "")


def enabled(bug):
    return bug not in KNOWN_BUGS_PENDING or _KNOWN_ON == "all" or bug in _KNOWN_ON.split(",")


EXAMPLES = int(os.environ.get("BOUNDCACHE_FUZZ_EXAMPLES", examples(100)))  # a third on PyPy (cores.py)
STEPS = int(os.environ.get("BOUNDCACHE_FUZZ_STEPS", "40"))
RANDOM = os.environ.get("BOUNDCACHE_FUZZ_SEED", "") == "random"
FORK_OK = hasattr(os, "fork") and os.environ.get("BOUNDCACHE_FUZZ_FORK", "1") == "1"
# audit() counts references: without them (PyPy) it refuses, and no move runs it.
AUDIT = hasattr(sys, "getrefcount")


class HostileError(Exception):
    pass


# ---- what the cached functions return ----

SERIAL = itertools.count()
CALLS = []  # (label, name, args, kwargs) of every execution of a wrapped function
# Executions made from callbacks (finalizers, a result's __del__) go here
# instead, so that the call they interrupted sees only its own.
HOOK_CALLS = []
IN_HOOK = [0]


def record(entry):
    (HOOK_CALLS if IN_HOOK[0] else CALLS).append(entry)
RECURSION_ERRORS = []


class Value:
    """A result: tagged (label, name, serial), weakly referenceable."""

    __slots__ = ("tag", "__weakref__")

    def __init__(self, tag):
        self.tag = tag

    def __eq__(self, other):
        return isinstance(other, Value) and other.tag == self.tag

    __hash__ = None

    def __reduce__(self):
        return (Value, (self.tag,))

    def __repr__(self):
        return f"Value{self.tag!r}"


# WORLD[0] is the running machine; callbacks that outlive it find None.
WORLD = [None]


class DelValue(Value):
    """A result whose __del__ runs a hook: code run while a cache releases it."""

    __slots__ = ()

    def __del__(self):
        m = WORLD[0]
        if m is not None and not m.quiet:
            m.value_hook()


def _body(self, name, args, kwargs):
    # no label: a hook runs while tamper_dict has just cleared __dict__
    label = getattr(self, "label", "unlabelled")
    record((label, name, args, dict(kwargs)))
    if "boom" in args:
        raise HostileError("function")
    if "again" in args and name == "lk":
        # lock=True: the same call from its own computation raises, never waits
        inner = outcome_of(getattr(self, name), *args, **kwargs)
        if not (inner[0] == "raised" and isinstance(inner[1], RuntimeError)):
            RECURSION_ERRORS.append(inner)
    cls = DelValue if "d" in args else Value
    return cls((label, name, next(SERIAL)))


def _m(self, *a, **k):
    return _body(self, "m", a, k)


def _u(self, *a, **k):
    return _body(self, "u", a, k)


def _lk(self, *a, **k):
    return _body(self, "lk", a, k)


def _t(self, *a, **k):
    return _body(self, "t", a, k)


def _mt(self, *a, **k):
    return _body(self, "mt", a, k)


def _k(self, *a, **k):
    return _body(self, "k", a, k)


def _p(self):
    label = getattr(self, "label", "unlabelled")
    record((label, "p", (), {}))
    return Value((label, "p", next(SERIAL)))


class Clock:
    now = 0.0
    mode = "ok"


CLOCK = Clock()


def _timer():
    mode = CLOCK.mode
    if mode == "raise":
        raise HostileError("timer")
    if mode == "nan":
        return float("nan")
    if mode == "str":
        return "soon"
    if mode == "huge":
        return 10**400  # float() of it raises OverflowError
    return CLOCK.now


NAN_KEY = float("nan")
KEYMODE = ["ok"]


def _keyfunc(self, *a, **k):
    mode = KEYMODE[0]
    if mode == "raise":
        raise HostileError("key")
    if mode == "self":
        return (1, (self,))
    if mode == "unhashable":
        return [a]
    if mode == "nan_same":
        return NAN_KEY
    if mode == "nan_fresh":
        return float("nan")
    return (a, tuple(k.items()))


PER_INSTANCE = ("m", "u", "lk", "t", "mt")
WRAPPED = PER_INSTANCE + ("k",)
MAXSIZE = {"m": 2, "u": None, "lk": 2, "t": 3, "mt": 2, "k": 3}
TTL = 10.0
MAX_TOTAL = 3


def _methods():
    return {
        "m": lru_cache(maxsize=2)(_m),
        "u": cache(_u),
        "lk": lru_cache(maxsize=2, lock=True)(_lk),
        "t": lru_cache(maxsize=3, ttl=TTL, timer=_timer)(_t),
        "mt": lru_cache(maxsize=2, max_total=MAX_TOTAL)(_mt),
        "k": lru_cache(maxsize=3, key=_keyfunc)(_k),
        "p": cached_property(_p),
    }


def _cls(name, bases=(), ns=None):
    ns = dict(ns or {})
    ns["__module__"] = __name__
    ns["__qualname__"] = name
    c = type(name, bases, ns)
    globals()[name] = c
    return c


SN_DEAD = set()


def _sn_del(self):
    SN_DEAD.add(self.label)


# Owners without weak references that are not SN: their __del__ records
# their address (the machine clears an address when it registers a new
# owner there) and runs the actions hooked on it (add_finalizers).
DEAD = set()
DEL_ACTIONS = {}  # id(owner) -> [action, ...]


def _owner_del(self):
    DEAD.add(id(self))
    acts = DEL_ACTIONS.pop(id(self), None)
    m = WORLD[0]
    if acts and m is not None and not m.quiet:
        m.owner_del_hook(self, acts)


class Marker:
    """Kept in an IV or TD owner's __dict__: it dies with the owner (IV2 has
    no __del__ to tell)."""

    __slots__ = ("__weakref__",)


class S0:
    __slots__ = ("label", "__boundcache__", "__weakref__")


class W0:
    __slots__ = ("label", "__weakref__")


class N0:
    __slots__ = ("label", "__boundcache__")


class NW0:
    __slots__ = ("label",)


class ND0:
    __slots__ = ("label", "__dict__")


NT0 = collections.namedtuple("NT0", "label")
NT0.__module__ = __name__

# Families: classes of one family have the same layout, so __class__ can
# move an instance between them. D3 inherits D1's wrappers but m.
D1 = _cls("D1", (), _methods())
D2 = _cls("D2", (), _methods())
D3 = _cls("D3", (D1,), {"m": lru_cache(maxsize=2)(_m)})
S1 = _cls("S1", (S0,), {"__slots__": (), **_methods()})
S2 = _cls("S2", (S0,), {"__slots__": (), **_methods()})
W1 = _cls("W1", (W0,), {"__slots__": (), **_methods()})
W2 = _cls("W2", (W0,), {"__slots__": (), **_methods()})
SN = _cls("SN", (N0,), {"__slots__": (), "__del__": _sn_del, **_methods()})
# Served as functools serves them (contract 3.5): nowhere to keep a cache.
# NW is hashed by identity (PinningWarning); the others by value, and an
# owner's label is its value, so that equal owners, which share entries,
# tag their results alike.
NW1 = _cls("NW1", (NW0,), {"__slots__": (), "__del__": _owner_del, **_methods()})
NW2 = _cls("NW2", (NW0,), {"__slots__": (), "__del__": _owner_del, **_methods()})
# A __dict__ (the cached_property's value lives there) but no weak references
# and no builtin value to recognise an owner by: served as functools too.
ND1 = _cls("ND1", (ND0,), {"__slots__": (), "__del__": _owner_del, **_methods()})
NT1 = _cls("NT1", (NT0,), {"__slots__": (), "__del__": _owner_del, **_methods()})
NT2 = _cls("NT2", (NT0,), {"__slots__": (), "__del__": _owner_del, **_methods()})
_int_label = property(int)
IS1 = _cls("IS1", (int,), {"__slots__": (), "__del__": _owner_del, "label": _int_label, **_methods()})
IS2 = _cls("IS2", (int,), {"__slots__": (), "__del__": _owner_del, "label": _int_label, **_methods()})
ST1 = _cls("ST1", (str,), {"__slots__": (), "__del__": _owner_del, "label": property(str), **_methods()})
# A __dict__ but no weak references: per instance from CPython 3.12 (a
# ticket; IV1's finalizer runs its __del__ first, IV2 has none), served as
# functools by value before. TD: a named tuple subclass with a __dict__.
IV1 = _cls("IV1", (int,), {"__del__": _owner_del, "label": _int_label, **_methods()})
IV2 = _cls("IV2", (int,), {"label": _int_label, **_methods()})
TD1 = _cls("TD1", (NT0,), {"__del__": _owner_del, **_methods()})


def _enum(name, bases, members):
    def body(ns):  # an enum namespace takes its items one by one
        for k, v in {**members, **_methods(), "label": property(lambda self: self._value_)}.items():
            ns[k] = v
        ns["__module__"] = __name__
        ns["__qualname__"] = name

    c = types.new_class(name, bases, exec_body=body)
    globals()[name] = c
    return c


# Members are singletons that live as long as their class. IntEnum members:
# per member on CPython 3.12+ (a ticket), served as functools (by value)
# before. StrEnum members, as any str subclass with a __dict__, support weak
# references: per member in their __dict__ on every version.
E1 = _enum("E1", (enum.IntEnum,), {"A": 3000, "B": 3001})
E2 = _enum("E2", (enum.StrEnum,) if hasattr(enum, "StrEnum") else (str, enum.Enum), {"A": "e0", "B": "e1"})
MEMBERS = [*E1, *E2]

FAMILIES = {
    "D": (D1, D2, D3),
    "S": (S1, S2),
    "W": (W1, W2),
    "SN": (SN,),
    "NW": (NW1, NW2),
    "ND": (ND1,),
    "NT": (NT1, NT2),
    "IS": (IS1, IS2),
    "ST": (ST1,),
    "IV": (IV1, IV2),
    "TD": (TD1,),
    "E": (E1, E2),
}
ALL_CLASSES = tuple(c for classes in FAMILIES.values() for c in classes)
# (class, name) of every wrapper object, once
WRAPPERS = [(c, n) for c in ALL_CLASSES for n in WRAPPED if n in vars(c)]

PRE_312 = sys.version_info < (3, 12)
# Owners with a __dict__ and no weak references are served as functools
# where no dict watcher observes their death (before 3.12, the pure core).
NO_WATCHER = not DICT_WATCHER


class Fam:
    """What the model knows of a family's owners.

    ft: served as functools (the wrapper's one table, self in the key);
    by_value: hashed by value, not identity (no PinningWarning, equal owners
    share entries); p: where a cached_property value lives ("dict": in
    __dict__, copied with it; "container"; None: nowhere, TypeError as
    functools); death: how the machine sees one die ("weakref", "label" in
    SN_DEAD, "addr" in DEAD, "marker" dies, "never"); ticket: a __dict__ but
    no weak references, so per instance through a ticket in the __dict__
    where the C++ core has a dict watcher (3.12+), served as functools elsewhere."""

    def __init__(self, ft=False, by_value=False, p="container", death="weakref", ticket=False):
        self.ft, self.by_value, self.p, self.death, self.ticket = ft, by_value, p, death, ticket


FAM = {
    "D": Fam(p="dict"),
    "S": Fam(),
    "W": Fam(),
    "SN": Fam(death="label"),
    "NW": Fam(ft=True, p=None, death="addr"),
    "ND": Fam(ft=True, p="dict", death="addr"),
    "NT": Fam(ft=True, by_value=True, p=None, death="addr"),
    "IS": Fam(ft=True, by_value=True, p=None, death="addr"),
    "ST": Fam(ft=True, by_value=True, p=None, death="addr"),
    "IV": Fam(ft=NO_WATCHER, by_value=True, p="dict", death="marker", ticket=True),
    "TD": Fam(ft=NO_WATCHER, by_value=True, p="dict", death="marker", ticket=True),
    "E": Fam(ft=NO_WATCHER, by_value=True, p="dict", death="never", ticket=True),
}
if WEAK_REFERENCES_EVERYWHERE:
    # PyPy: every owner has weak references, so none is served as functools:
    # each keeps its own caches, in its __dict__ or the weak table, and its
    # death is seen as any weakly referenced owner's.
    FAM.update(
        NW=Fam(),
        ND=Fam(p="dict"),
        NT=Fam(by_value=True),
        IS=Fam(by_value=True),
        ST=Fam(by_value=True),
        IV=Fam(by_value=True, p="dict", death="marker"),
        TD=Fam(by_value=True, p="dict", death="marker"),
        E=Fam(by_value=True, p="dict", death="never"),
    )
# Classes that differ from their family
CLASS_FAM = {E2: Fam(by_value=True, p="dict", death="never")}
# Not moved by __class__ assignment: SN (known by address only, documented),
# enum members (they belong to their class), and IV before 3.12 (CPython
# refuses it between int subclasses with a __dict__: "object layout differs").
NO_SWITCH = {"SN", "E"} | ({"IV"} if PRE_312 else set())
# Whose __dict__ tamper_dict tampers with (not enum members': it is their enum's state).
TAMPERED_DICTS = {"D", "ND", "IV", "TD"}
# Classes whose owners draw a PinningWarning: served as functools and hashed by identity.
PINNING_CLASSES = {c.__name__ for f, fam in FAM.items() if fam.ft and not fam.by_value for c in FAMILIES[f]}
# (wrapper qualname, class name) warned about so far in this process: once each, ever.
PINNING_WARNED = set()


FAMILY_OF = {c: f for f, classes in FAMILIES.items() for c in classes}


def fam_of(obj):
    return CLASS_FAM.get(type(obj)) or FAM[FAMILY_OF[type(obj)]]


def make_owner(family, cls, v, uid):
    """A new owner; `v` picks the value of owners hashed by value (0 or 1,
    so that equal owners meet)."""
    if family == "NT":
        return cls(f"nt{v}")
    if family == "IS":
        return cls(1000 + v)
    if family == "ST":
        return cls(f"st{v}")
    if family in ("IV", "TD"):
        obj = cls(2000 + v) if family == "IV" else cls(f"td{v}")
        obj.alive = Marker()
        return obj
    obj = cls()
    obj.label = uid
    return obj


def owner_of(cls, name):
    return next(c for c in cls.__mro__ if name in vars(c))


def f_impl(*a):
    record(("f", "f", a, {}))
    if "boom" in a:
        raise HostileError("function")
    return Value(("f", "f", next(SERIAL)))


F = lru_cache(maxsize=2)(f_impl)


# ---- the model ----

MISS = object()
FT = "ft"  # the uid of a wrapper's own table in the model's caches: (FT, class name, method)


class LRU:
    """One functools cache, or a ttl= cache with deadlines."""

    def __init__(self, maxsize, ttl=None):
        self.maxsize = maxsize
        self.ttl = ttl
        # key -> (weakref to the value, deadline, (args, kwargs), uid of the owner the key holds)
        self.d = OrderedDict()
        self.hits = self.misses = 0

    def find(self, key, now):
        if key in self.d:
            wr, deadline, _, _ = self.d[key]
            if self.ttl is None or deadline > now:
                self.d.move_to_end(key)
                return wr
            del self.d[key]
        return MISS

    def put(self, key, value, now, call=None, holder=None):
        """Stores; returns the evicted keys. `call`: (args, kwargs) that made
        it; `holder`: the uid of the owner a served-as-functools key holds."""
        if self.maxsize == 0:
            return []
        evicted = []
        if self.maxsize is not None and len(self.d) >= self.maxsize:
            evicted.append(self.d.popitem(last=False)[0])
        self.d[key] = (weakref.ref(value), None if self.ttl is None else now + self.ttl, call, holder)
        return evicted

    def purge(self, now):
        if self.ttl is not None:
            for key in [k for k, (_, dl, _, _) in self.d.items() if not dl > now]:
                del self.d[key]

    def info(self):
        return (self.hits, self.misses, self.maxsize, len(self.d))

    def clear(self):
        self.d.clear()
        self.hits = self.misses = 0


# An owner the machine let go of while a served-as-functools entry held it:
# how to tell it died, where it lived, its class's name, and weak references
# to what it kept (its own entries, its cached_property value), which die
# with it.
Ghost = collections.namedtuple("Ghost", "dead addr cname values")


class Inst:
    def __init__(self, uid, obj, family):
        self.uid = uid
        self.obj = obj
        self.family = family
        self.fam = fam = fam_of(obj)
        self.label = obj.label if fam.by_value else uid
        # how a served-as-functools key holds it: by value, or by identity
        self.token = ("value", self.label) if fam.by_value else ("id", uid)
        self.addr = id(obj)
        self.wr = weakref.ref(obj) if fam.death == "weakref" else None
        self.marker = weakref.ref(obj.alive) if fam.death == "marker" else None
        self.p = None  # weakref to the cached_property value, or None
        self.p_tag = None

    def dead_probe(self):
        """A function that tells whether the owner died (holds no reference to it)."""
        death, label, addr, wr = self.fam.death, self.label, self.addr, self.wr or self.marker
        if death == "label":
            return lambda: label in SN_DEAD
        if death == "addr":
            return lambda: addr in DEAD
        if death == "never":
            return lambda: False
        return lambda: wr() is None


def traced(fn, *args, **kwargs):
    """The outcome of a call, and the executions of wrapped functions it made."""
    n = len(CALLS)
    got = outcome_of(fn, *args, **kwargs)
    return got, CALLS[n:]


def outcome_of(fn, *args, **kwargs):
    # Tracebacks are dropped: a traceback's frames hold the instance, and
    # with the GC off that cycle would keep it alive.
    try:
        return ("ok", fn(*args, **kwargs))
    except HostileError as e:
        return ("hostile", _untrace(e))
    except Exception as e:  # noqa: BLE001 - checked by the caller
        return ("raised", _untrace(e))


def _untrace(e):
    seen = set()
    x = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        x.__traceback__ = None
        x = x.__context__ or x.__cause__
    return e


class HKey:
    """A key whose __hash__ or __eq__ misbehaves according to `mode`."""

    def __init__(self, mode, h, machine, target):
        self.mode = mode
        self.h = h
        self.machine = weakref.ref(machine)
        self.target = target  # (uid, name) to re-enter

    def _act(self, where):
        mode = self.mode
        if mode == where + "_raise":
            raise HostileError(where)
        m = self.machine()
        if m is None or m.quiet:
            return
        uid, name = self.target
        inst = m.insts.get(uid)
        if mode == where + "_reenter" and inst is not None:
            m.guarded(lambda: getattr(inst.obj, name)(uid % 3))
        elif mode == where + "_clear":
            m.guarded(lambda: getattr(type(inst.obj) if inst else D1, name).cache_clear())
        elif mode == where + "_audit":
            m.guarded(lambda: list(boundcache.audit(collect=False)))
        elif mode == where + "_drop" and inst is not None:
            m.forget(uid)

    def __hash__(self):
        self._act("hash")
        return self.h

    def __eq__(self, other):
        self._act("eq")
        return self is other

    def __repr__(self):
        return f"HKey({self.mode}, {self.h})"


HKEY_MODES = [
    "hash_raise",
    "eq_raise",
    "hash_reenter",
    "eq_reenter",
    "hash_clear",
    "eq_clear",
    "hash_audit",
    "eq_audit",
    "eq_drop",
    "hash_drop",
]
if not AUDIT:
    HKEY_MODES = [mode for mode in HKEY_MODES if not mode.endswith("_audit")]

# ---- strategies ----

arg = st.sampled_from([0, 1, 2, 3, 4, "a", (1, 2), 1.0, "boom", "d", "again"])
call_args = st.tuples(st.lists(arg, max_size=2).map(tuple), st.sampled_from([{}, {"x": 1}, {"y": 0, "x": 1}]))
ACTIONS = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 30), st.sampled_from(["m", "u", "lk", "t"]), st.integers(0, 3)),
    st.tuples(st.just("clear_cls"), st.integers(0, len(ALL_CLASSES) - 1), st.sampled_from(list(WRAPPED))),
    st.tuples(st.just("clear_obj"), st.integers(0, 30), st.sampled_from(["m", "u", "lk", "t"])),
    st.tuples(st.just("read_p"), st.integers(0, 30)),
    *([st.tuples(st.just("audit"))] if AUDIT else []),
)
# What an owner's own __del__ may do besides ACTIONS: call its own cache.
SELF_CALLS = st.tuples(st.just("self_call"), st.sampled_from(list(WRAPPED)), st.integers(0, 3))


class Fail(AssertionError):
    pass


class CacheMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.gc_was = gc.isenabled()
        gc.collect(1)
        gc.disable()
        self.quiet = True
        for cls, name in WRAPPERS:
            getattr(cls, name).cache_clear()
        for member in MEMBERS:  # they outlive the examples
            vars(member).pop("p", None)
        F.cache_clear()
        self.uids = itertools.count()
        self.insts = {}  # uid -> Inst (the machine's strong references)
        # Enum members the machine let go of (they live on, caches and all),
        # by their fixed uid: new_instance takes them back.
        self.parked = {}
        # uid -> (dead probe, address, class name) of owners the machine let
        # go of while a served-as-functools entry held them: they must live
        # exactly as long as the model has an entry holding them.
        self.ghosts = {}
        self.revived = False  # a dying owner's __del__ revived it (owner_del_hook)
        # (uid or FT, owner name, method) -> LRU; FT: the wrapper's own table
        self.caches = {}
        self.kcache = {c.__name__: LRU(3) for c, n in WRAPPERS if n == "k"}
        self.totals = {c.__name__: OrderedDict() for c, n in WRAPPERS if n == "mt"}
        self.sums = {(c.__name__, n): [0, 0] for c, n in WRAPPERS}
        self.fmodel = LRU(2)
        self.cb_log = []  # what finalizers did, for the model
        self.errors = []  # exceptions callbacks met that nobody expected
        self.unraisable = []
        self.uncertain = False
        self.finalizers = []
        self.forks = 0
        # uids whose container another instance's storage may still hold (a
        # shallow copy, a tampered slot): dropping it from its owner leaves
        # its entries alive and counted in Cls.m.cache_info() until that
        # holder lets go, which the model does not follow
        self.shared = set()
        self.dropped = False  # this step let go of an owner or a container
        CLOCK.now = 0.0
        CLOCK.mode = "ok"
        KEYMODE[0] = "ok"
        SN_DEAD.clear()
        DEAD.clear()
        DEL_ACTIONS.clear()
        del CALLS[:]
        del HOOK_CALLS[:]
        IN_HOOK[0] = 0
        del RECURSION_ERRORS[:]
        self.old_hook = sys.unraisablehook
        sys.unraisablehook = self.unraisable.append
        # Every warning is recorded: PinningWarning is checked after each step.
        self.warnings_context = warnings.catch_warnings(record=True)
        self.warned = self.warnings_context.__enter__()
        warnings.simplefilter("always")
        self.warnings_seen = 0
        # (wrapper qualname, class name) that a call of this step must have warned about
        self.must_warn = set()
        WORLD[0] = self
        self.quiet = False

    def teardown(self):
        self.quiet = True
        WORLD[0] = None
        for fin in self.finalizers:
            fin.detach()
        self.insts.clear()
        self.parked.clear()
        for cls, name in WRAPPERS:
            getattr(cls, name).cache_clear()
        self.warnings_context.__exit__(None, None, None)
        sys.unraisablehook = self.old_hook
        if self.gc_was:
            gc.enable()

    # ---- helpers ----

    def guarded(self, fn, expect=()):
        """Runs callback code; an exception it does not expect is a finding."""
        try:
            return fn()
        except expect:
            return None
        except BaseException as e:  # noqa: BLE001
            self.errors.append(repr(e))
            return None

    def forget(self, uid):
        """Drops the machine's reference (the instance may live on in a running call)."""
        inst = self.insts.pop(uid, None)
        if inst is None:
            return
        self.uncertain = True
        self.dropped = True
        if inst.fam.death == "never":
            self.parked[inst.uid] = inst
            return
        self.drop_model(inst)
        if inst.fam.death in ("addr", "marker"):
            # after the resync nothing holds it: check_ghosts sees it dead
            self.ghosts[inst.uid] = Ghost(inst.dead_probe(), inst.addr, type(inst.obj).__name__, [])

    def add_inst(self, inst):
        """Registers a new owner, at an address where no ghost can live."""
        for uid, ghost in list(self.ghosts.items()):
            if ghost.addr == inst.addr:
                assert self.uncertain or uid not in self.ft_holders(), f"ghost {uid} died while an entry held it"
                del self.ghosts[uid]
        DEAD.discard(inst.addr)
        DEL_ACTIONS.pop(inst.addr, None)
        self.insts[inst.uid] = inst

    def ft_holders(self):
        """{uid: {(owner name, method), ...}} of the owners that served-as-functools entries hold."""
        held = {}
        for (uid, cname, name), model in self.caches.items():
            if uid == FT:
                for entry in model.d.values():
                    held.setdefault(entry[3], set()).add((cname, name))
        return held

    def check_ghosts(self):
        held = self.ft_holders()
        for uid, ghost in list(self.ghosts.items()):
            if uid in held:
                assert not ghost.dead(), f"owner {uid} died while entries of {sorted(held[uid])} hold it"
            else:
                assert ghost.dead(), f"owner {uid} outlived the entries that held it (no cache holds it now)"
                alive = [w() for w in ghost.values if w() is not None]
                assert alive == [], f"what owner {uid} kept outlived it: {alive}"
                del self.ghosts[uid]

    def check_warnings(self):
        """PinningWarning: once per (wrapper, class), for classes hashed by identity only."""
        new = self.warned[self.warnings_seen :]
        self.warnings_seen = len(self.warned)
        for w in new:
            if not issubclass(w.category, boundcache.PinningWarning):
                continue
            found = re.match(r"boundcache serves (\S+) for (\S+) instances", str(w.message))
            assert found and found[2] in PINNING_CLASSES, f"unexpected PinningWarning: {w.message}"
            assert (found[1], found[2]) not in PINNING_WARNED, f"warned twice: {w.message}"
            PINNING_WARNED.add((found[1], found[2]))
        missing = self.must_warn - PINNING_WARNED
        self.must_warn.clear()
        assert not missing, f"no PinningWarning for {missing}"

    def owner_del_hook(self, obj, acts):
        """An owner's own __del__ (no weak references to hook instead)."""
        for act in acts:
            if act[0] != "self_call":
                self.perform(act)
                continue
            # The dying owner calls its own cache: its result is checked, the
            # model resyncs. A served-as-functools owner is revived by the
            # entry this stores, as with functools (the resync frees it).
            self.uncertain = True
            _, name, a = act
            if fam_of(obj).ft and name != "k":
                self.revived = True
            IN_HOOK[0] += 1
            try:
                got = outcome_of(getattr(obj, name), a)
            finally:
                IN_HOOK[0] -= 1
            if not (got[0] == "ok" and isinstance(got[1], Value) and got[1].tag[:2] == (obj.label, name)):
                self.errors.append(f"{act} from __del__: {got!r}")

    def value_hook(self):
        # a result's __del__: runs inside an eviction, a clear or a teardown
        self.uncertain = True
        act = self.value_action
        if act is not None:
            self.perform(act, log=False)

    value_action = None

    def pick(self, i):
        keys = sorted(self.insts)
        return self.insts[keys[i % len(keys)]] if keys else None

    def new_uid(self):
        return next(self.uids)

    def cache_for(self, uid, owner, name):
        key = (uid, owner.__name__, name)
        if key not in self.caches:
            self.caches[key] = LRU(MAXSIZE[name], TTL if name == "t" else None)
        return self.caches[key]

    def drop_caches(self, uid):
        for key in [k for k in self.caches if k[0] == uid]:
            if key[2] == "mt":
                total = self.totals[key[1]]
                for tk in [tk for tk in total if tk[0] == uid]:
                    del total[tk]
            del self.caches[key]

    def drop_model(self, inst):
        self.drop_caches(inst.uid)
        inst.p = inst.p_tag = None

    def keyfunc_model(self, args, kwargs):
        mode = KEYMODE[0]
        if mode == "nan_same":
            return NAN_KEY
        if mode == "nan_fresh":
            return float("nan")
        return (args, tuple(kwargs.items()))

    def table_of(self, inst, name, ft=None):
        """(model LRU, its uid) that inst.obj.<name> uses: the class-wide
        key= cache (uid None), the wrapper's own table (FT) or the owner's
        own; `ft` overrides the family's choice (a call that finds the
        owner's __dict__ held elsewhere is served as functools)."""
        owner = owner_of(type(inst.obj), name)
        if name == "k":
            return self.kcache[owner.__name__], None
        uid = FT if (inst.fam.ft if ft is None else ft) else inst.uid
        return self.cache_for(uid, owner, name), uid

    def note_pinning_call(self, inst, name):
        if not inst.fam.by_value and name != "k":
            cls = type(inst.obj)
            self.must_warn.add((vars(owner_of(cls, name))[name].__qualname__, cls.__name__))

    def model_call(self, inst, name, args, kwargs, run, ft=None):
        """Predicts a call, runs it with run(), checks it, updates the model."""
        cls = type(inst.obj)
        owner = owner_of(cls, name)
        sums = self.sums[(owner.__name__, name)]
        now = CLOCK.now
        model, tuid = self.table_of(inst, name, ft)
        if name == "k":
            key = self.keyfunc_model(args, kwargs)
        elif tuid == FT:
            # functools' key: the owner (by identity or by value), then the arguments
            key = functools._make_key((inst.token, *args), kwargs, False)
            self.note_pinning_call(inst, name)
        else:
            key = functools._make_key(args, kwargs, False)
        # the per-class sums count per-instance caches; the tables count their own
        counted = sums if tuid not in (None, FT) else [0, 0]
        expected = model.find(key, now)
        if expected is not MISS and name == "mt":
            self.totals[owner.__name__].move_to_end((tuid, key))
        got, new = run()
        if self.uncertain and not self.quiet:
            # a result's __del__ ran meanwhile (it may have stored this very
            # key): only what always holds is checked; check_all resyncs
            assert got[0] in ("ok", "hostile"), got
            return got
        if expected is not MISS:
            want = expected()
            assert want is not None, f"{name}{args}: the model's entry was freed while cached"
            assert got == ("ok", want) and got[1] is want, (name, args, kwargs, got, want)
            assert new == [], (name, args, new)
            model.hits += 1
            counted[0] += 1
            return got
        model.misses += 1
        counted[1] += 1
        assert new == [(inst.label, name, args, kwargs)], (name, args, kwargs, new, got)
        if "boom" in args:
            assert got[0] == "hostile", got
            return got
        assert got[0] == "ok" and isinstance(got[1], Value), got
        assert got[1].tag[:2] == (inst.label, name), got
        evicted = model.put(key, got[1], now, (args, kwargs), inst.uid if tuid == FT else None)
        if name == "mt":
            total = self.totals[owner.__name__]
            for ek in evicted:
                total.pop((tuid, ek), None)
            total[(tuid, key)] = None
            while len(total) > MAX_TOTAL:
                (uid, ek), _ = total.popitem(last=False)
                self.caches[(uid, owner.__name__, "mt")].d.pop(ek)
        return got

    def model_clear_cls(self, cls, name):
        getattr(cls, name)  # noqa: B018 - the caller clears; here the model follows
        owner = owner_of(cls, name)
        self.sums[(owner.__name__, name)] = [0, 0]
        if name == "k":
            self.kcache[owner.__name__].clear()
            return
        for key, model in self.caches.items():
            if key[1] == owner.__name__ and key[2] == name:
                model.clear()
        if name == "mt":
            self.totals[owner.__name__].clear()

    def model_clear_obj(self, inst, name):
        owner = owner_of(type(inst.obj), name)
        model, tuid = self.table_of(inst, name)
        model.clear()  # a served-as-functools owner's obj.m is the one table, as functools'
        if name == "mt":
            total = self.totals[owner.__name__]
            for tk in [tk for tk in total if tk[0] == tuid]:
                del total[tk]

    def model_read_p(self, inst, run):
        got, new = run()
        if inst.fam.p is None:
            # nowhere to store: functools' TypeError, before the getter runs
            assert got[0] == "raised" and isinstance(got[1], TypeError) and new == [], (got, new)
            return got
        want = inst.p() if inst.p is not None else None
        if inst.p is not None:
            assert want is not None, "cached_property value freed while cached"
        if want is not None:
            assert got[0] == "ok" and got[1] is want, (got, want)
            assert new == [], new
        elif inst.p_tag is not None:  # a deep copy: an equal value
            assert got[0] == "ok" and got[1].tag == inst.p_tag, (got, inst.p_tag)
            assert new == []
            inst.p = weakref.ref(got[1])
        else:
            assert new == [(inst.label, "p", (), {})], new
            assert got[0] == "ok" and got[1].tag[:2] == (inst.label, "p"), got
            inst.p = weakref.ref(got[1])
        inst.p_tag = got[1].tag
        return got

    def perform(self, act, log=True):
        """Runs a callback's action; `log`: its effect is modelled afterwards."""
        IN_HOOK[0] += 1
        try:
            self._perform(act, log)
        finally:
            IN_HOOK[0] -= 1

    def _perform(self, act, log):
        kind = act[0]
        if kind == "call":
            _, i, name, a = act
            inst = self.pick(i)
            if inst is None:
                return
            n = len(HOOK_CALLS)
            got = outcome_of(getattr(inst.obj, name), a)
            if got[0] != "ok":
                self.errors.append(f"{act}: {got!r}")
            if log:
                self.cb_log.append(("call", inst.uid, name, (a,), got, HOOK_CALLS[n:]))
        elif kind == "clear_cls":
            _, i, name = act
            cls = ALL_CLASSES[i % len(ALL_CLASSES)]
            self.guarded(getattr(cls, name).cache_clear)
            if log:
                self.cb_log.append(("clear_cls", cls, name))
        elif kind == "clear_obj":
            _, i, name = act
            inst = self.pick(i)
            if inst is None:
                return
            self.guarded(getattr(inst.obj, name).cache_clear)
            if log:
                self.cb_log.append(("clear_obj", inst.uid, name))
        elif kind == "read_p":
            inst = self.pick(act[1])
            if inst is None:
                return
            n = len(HOOK_CALLS)
            got = outcome_of(getattr, inst.obj, "p")
            if got[0] != "ok" and not (inst.fam.p is None and isinstance(got[1], TypeError)):
                self.errors.append(f"{act}: {got!r}")
            if log:
                self.cb_log.append(("read_p", inst.uid, got, HOOK_CALLS[n:]))
        elif kind == "audit":
            self.guarded(lambda: list(boundcache.audit(collect=False)))

    def replay_cb_log(self):
        """Applies to the model what object finalizers did, in order."""
        log, self.cb_log = self.cb_log, []
        for entry in log:
            if entry[0] == "call":
                _, uid, name, args, got, new = entry
                inst = self.insts.get(uid)
                if inst is None:
                    self.uncertain = True  # dropped meanwhile
                    continue
                self.model_call(inst, name, args, {}, lambda got=got, new=new: (got, new))
            elif entry[0] == "clear_cls":
                self.model_clear_cls(entry[1], entry[2])
            elif entry[0] == "clear_obj":
                inst = self.insts.get(entry[1])
                if inst is not None:
                    self.model_clear_obj(inst, entry[2])
            elif entry[0] == "read_p":
                _, uid, got, new = entry
                inst = self.insts.get(uid)
                if inst is not None:
                    self.model_read_p(inst, lambda got=got, new=new: (got, new))

    def resync(self):
        """Back to a known state after a move the model cannot follow."""
        self.quiet = True
        try:
            for _ in range(2):
                for cls, name in WRAPPERS:
                    getattr(cls, name).cache_clear()
            for inst in [*self.insts.values(), *self.parked.values()]:
                try:
                    del inst.obj.p
                except AttributeError:
                    pass
            for key in list(self.caches):
                self.caches[key].clear()
            for c in self.kcache.values():
                c.clear()
            for t in self.totals.values():
                t.clear()
            for k in self.sums:
                self.sums[k] = [0, 0]
            for inst in [*self.insts.values(), *self.parked.values()]:
                inst.p = inst.p_tag = None
            self.cb_log.clear()
            self.uncertain = False
        finally:
            self.quiet = False

    def check_all(self):
        if self.dropped:
            # where the collector frees, owners let go of mid-call and
            # containers taken from their owners die (and run their
            # finalizers) at a collection: this one, not a later step's
            self.dropped = False
            released()
        if self.cb_log:
            self.uncertain = True  # finalizers ran outside a modelled deletion
        if self.uncertain:
            self.resync()
        assert self.errors == [], self.errors
        assert RECURSION_ERRORS == [], RECURSION_ERRORS
        # a result released by a purge below must not move the model meanwhile
        self.quiet = True
        try:
            self._compare()
        finally:
            self.quiet = False

    def _compare(self):
        assert self.unraisable == [], [(u.exc_type, u.exc_value, u.object) for u in self.unraisable]
        now = CLOCK.now
        for inst in self.insts.values():
            obj = inst.obj
            for name in PER_INSTANCE:
                model, _ = self.table_of(inst, name)
                model.purge(now)
                got = tuple(getattr(obj, name).cache_info())
                assert got == model.info(), (inst.uid, inst.family, type(obj).__name__, name, got, model.info())
            if inst.p is not None:
                n = len(CALLS)
                assert obj.p is inst.p(), "cached_property changed"
                assert len(CALLS) == n
        for cls, name in WRAPPERS:
            info = tuple(getattr(cls, name).cache_info())
            cname = cls.__name__
            if name == "k":
                want = self.kcache[cname].info()
            else:
                live = [m for key, m in self.caches.items() if key[1] == cname and key[2] == name]
                for m in live:
                    m.purge(now)
                h, mi = self.sums[(cname, name)]
                ft = self.caches.get((FT, cname, name))
                if ft is not None:  # the wrapper's own table counts its own calls
                    h, mi = h + ft.hits, mi + ft.misses
                want = (h, mi, MAXSIZE[name], sum(len(m.d) for m in live))
                if name == "mt":
                    assert want[3] <= MAX_TOTAL
            assert info == want, (cname, name, info, want)
        assert tuple(F.cache_info()) == self.fmodel.info()
        self.check_ghosts()
        self.check_warnings()

    # ---- rules: instances ----

    @rule(family=st.sampled_from(sorted(FAMILIES)), i=st.integers(0, 2), v=st.integers(0, 1))
    def new_instance(self, family, i, v):
        if len(self.insts) >= 6:
            return
        cls = FAMILIES[family][i % len(FAMILIES[family])]
        if family == "E":
            # a member, once: the model knows it by a fixed uid, and takes
            # back what it knew of it if the machine had let go of it
            member = list(cls)[v]
            uid = -1 - MEMBERS.index(member)
            if uid not in self.insts:
                self.insts[uid] = self.parked.pop(uid, None) or Inst(uid, member, family)
            return
        uid = self.new_uid()
        self.add_inst(Inst(uid, make_owner(family, cls, v, uid), family))

    @precondition(lambda self: self.insts)
    @rule(
        calls=st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from(WRAPPED), call_args, st.integers(0, 2)),
            min_size=1,
            max_size=8,
        )
    )
    def calls(self, calls):
        # several calls a step: the other rules would otherwise dilute them
        for i, name, a, form in calls:
            self.call(i, name, a, form)

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30),
        name=st.sampled_from(WRAPPED),
        keys=st.lists(st.sampled_from([0, 1, 2, 3, "d"]), min_size=2, max_size=10),
    )
    def calls_on_one(self, i, name, keys):
        # one instance's cache through hits, misses and evictions (and the
        # __del__ of evicted DelValues)
        for k in keys:
            self.call(i, name, ((k,), {}), 0)

    @initialize(act=st.one_of(st.none(), ACTIONS))
    def initial_value_hook(self, act):
        self.value_action = act

    @initialize(
        owners=st.lists(
            st.tuples(st.sampled_from(sorted(FAMILIES)), st.integers(0, 2), st.integers(0, 1)), min_size=1, max_size=3
        )
    )
    def initial_owners(self, owners):
        # Every example starts with owners: hypothesis turns rules off at
        # random per example, and the rules that need owners would otherwise
        # wait for new_instance (100 examples made 4 times fewer cached calls).
        for family, i, v in owners:
            self.new_instance(family, i, v)

    def call(self, i, name, a, form):
        if self.uncertain:
            self.resync()  # a hook ran during an earlier call of this step
        inst = self.pick(i)
        args, kwargs = a
        obj = inst.obj
        if form == 0:
            fn = getattr(obj, name)
        elif form == 1:
            fn = functools.partial(getattr(type(obj), name), obj)
        else:
            fn = getattr(type(obj), name).__get__(obj, type(obj))
        self.model_call(inst, name, args, kwargs, lambda: traced(fn, *args, **kwargs))

    @rule(a=st.sampled_from([0, 1, 2, 3, "boom"]))
    def call_function(self, a):
        key = functools._make_key((a,), {}, False)
        expected = self.fmodel.find(key, 0)
        n = len(CALLS)
        got = outcome_of(F, a)
        if expected is not MISS:
            assert got[1] is expected() and CALLS[n:] == []
            self.fmodel.hits += 1
        else:
            self.fmodel.misses += 1
            assert CALLS[n:] == [("f", "f", (a,), {})]
            if a == "boom":
                assert got[0] == "hostile"
            else:
                self.fmodel.put(key, got[1], 0)

    @precondition(lambda self: self.insts)
    @rule(i=st.integers(0, 30), name=st.sampled_from(WRAPPED))
    def clear_instance(self, i, name):
        inst = self.pick(i)
        getattr(inst.obj, name).cache_clear()
        self.model_clear_obj(inst, name)

    @rule(c=st.sampled_from(ALL_CLASSES), name=st.sampled_from(WRAPPED))
    def clear_class(self, c, name):
        getattr(c, name).cache_clear()
        self.model_clear_cls(c, name)

    @precondition(lambda self: self.insts)
    @rule(i=st.integers(0, 30))
    def read_property(self, i):
        inst = self.pick(i)
        self.model_read_p(inst, lambda: traced(getattr, inst.obj, "p"))

    @precondition(lambda self: self.insts)
    @rule(i=st.integers(0, 30), assign=st.booleans())
    def reset_property(self, i, assign):
        inst = self.pick(i)
        if inst.fam.p is None:
            # nowhere to store: assigning says so as reading does (TypeError,
            # where functools' "read-only" is an AttributeError), del finds nothing
            got = outcome_of(setattr, inst.obj, "p", 1) if assign else outcome_of(delattr, inst.obj, "p")
            assert got[0] == "raised" and isinstance(got[1], TypeError if assign else AttributeError), got
            return
        if assign:
            v = Value((inst.label, "p-set", next(SERIAL)))
            inst.obj.p = v
            inst.p = weakref.ref(v)
            inst.p_tag = v.tag
            return
        try:
            del inst.obj.p
            assert inst.p is not None or inst.p_tag is not None, "del of a property never read"
        except AttributeError:
            assert inst.p is None and inst.p_tag is None, "the property's value vanished"
        inst.p = inst.p_tag = None

    @precondition(lambda self: self.insts)
    @rule(i=st.integers(0, 30))
    def delete_instance(self, i):
        if not self.insts:
            return
        inst = self.pick(i)
        del self.insts[inst.uid]
        if inst.fam.death == "never":
            # an enum member lives on in its class, caches and property too
            self.parked[inst.uid] = inst
            return
        values = [e[0] for (uid, _, _), m in self.caches.items() if uid == inst.uid for e in m.d.values()]
        # a shallow copy's __dict__ holds the same property value: it lives on there
        if inst.p is not None and not any(x.p is not None and x.p() is inst.p() for x in self.insts.values()):
            values.append(inst.p)
        self.drop_model(inst)
        label, family, fam, addr, cname = inst.uid, inst.family, inst.fam, inst.addr, type(inst.obj).__name__
        dead = inst.dead_probe()
        self.revived = False
        inst.obj = None
        del inst
        if self.revived:
            values = []  # alive again, with what it kept
        pinned = self.ft_holders().get(label)
        if pinned:
            # served as functools: as functools' keys, the entries keep it
            # alive, and with it what it keeps (its __dict__, its own caches)
            assert not dead(), f"an owner died while entries of {sorted(pinned)} hold it"
            self.ghosts[label] = Ghost(dead, addr, cname, values)
            values = []
            if not fam.ft:
                # a per-instance owner pinned by calls served as functools
                # (call_holding_dict): its own caches live on with it, which
                # the model does not follow
                self.uncertain = True
        else:
            released()
            assert dead(), "instance not freed by reference counting"
        if family == "SN" and label in self.shared:
            # documented: without __weakref__ a container held elsewhere
            # cannot learn that its owner died
            self.uncertain = True
            values = []
        released()
        alive = [w() for w in values if w() is not None]
        assert alive == [], f"entries outlived their instance: {alive}"
        self.replay_cb_log()

    # ---- rules: hostile moves on the storage ----

    @precondition(lambda self: any(x.fam.ticket for x in self.insts.values()))
    @rule(i=st.integers(0, 30), name=st.sampled_from(PER_INSTANCE), a=call_args)
    def call_holding_dict(self, i, name, a):
        """A call while something else holds the owner's __dict__ (a Borg
        class's shared one, one kept to be given to another object): from
        3.12 the dict could outlive the owner, so the call retires the
        owner's own caches and is served as functools (by value)."""
        xs = [x for x in self.insts.values() if x.fam.ticket]
        inst = xs[i % len(xs)]
        held = vars(inst.obj)
        if not inst.fam.ft:
            self.drop_caches(inst.uid)
        args, kwargs = a
        fn = getattr(inst.obj, name)
        self.model_call(inst, name, args, kwargs, lambda: traced(fn, *args, **kwargs), ft=True)
        del held

    @precondition(lambda self: any(i.family in TAMPERED_DICTS for i in self.insts.values()))
    @rule(i=st.integers(0, 30), how=st.sampled_from(["clear", "del", "junk", "other"]))
    def tamper_dict(self, i, how):
        ds = [x for x in self.insts.values() if x.family in TAMPERED_DICTS]
        inst = ds[i % len(ds)]
        ds = [x for x in ds if x.family == inst.family]
        if inst.uid in self.shared:
            self.uncertain = True
        self.dropped = True
        d = inst.obj.__dict__
        if how == "clear":
            d.clear()
            if inst.fam.death == "marker":
                inst.obj.alive = Marker()
                inst.marker = weakref.ref(inst.obj.alive)
            else:
                inst.obj.label = inst.uid
            self.drop_model(inst)
        elif how == "del":
            d.pop("__boundcache__", None)
            self.drop_caches(inst.uid)
        elif how == "junk":
            d["__boundcache__"] = 42
            self.drop_caches(inst.uid)
        else:
            other = ds[(i + 1) % len(ds)]
            c = other.obj.__dict__.get("__boundcache__")
            if c is None or other is inst:
                return
            d["__boundcache__"] = c
            self.drop_caches(inst.uid)
            if not inst.fam.ticket:  # a container (D; every family on PyPy): still the other's
                self.shared.add(other.uid)
                return
            # a ticket (3.12+) that two dicts hold is nobody's; the other
            # owner's next lookup retires it (made here, so that it comes
            # before this owner's, which would replace the ticket)
            del c, d
            other.obj.m.cache_info()
            self.drop_caches(other.uid)

    @precondition(lambda self: any(i.family in ("S", "SN") for i in self.insts.values()))
    @rule(i=st.integers(0, 30), how=st.sampled_from(["del", "junk", "other"]))
    def tamper_slot(self, i, how):
        ss = [x for x in self.insts.values() if x.family in ("S", "SN")]
        inst = ss[i % len(ss)]
        if inst.uid in self.shared:
            self.uncertain = True
        self.dropped = True
        obj = inst.obj
        if how == "del":
            try:
                del obj.__boundcache__
            except AttributeError:
                pass
        elif how == "junk":
            obj.__boundcache__ = "junk"
        else:
            same = [x for x in ss if x.family == inst.family and x is not inst]
            if not same:
                return
            try:
                c = same[0].obj.__boundcache__
            except AttributeError:
                return
            obj.__boundcache__ = c
            self.shared.add(same[0].uid)
        self.drop_model(inst)  # the property's value lived in the container too

    @precondition(lambda self: any(i.family not in NO_SWITCH for i in self.insts.values()))
    @rule(i=st.integers(0, 30), j=st.integers(0, 2))
    def switch_class(self, i, j):
        xs = [x for x in self.insts.values() if x.family not in NO_SWITCH]
        inst = xs[i % len(xs)]
        fam = FAMILIES[inst.family]
        new = fam[j % len(fam)]
        if inst.fam.ticket and new is not type(inst.obj):
            # the ticket records the owner's class: the next lookup retires it
            self.drop_caches(inst.uid)
        inst.obj.__class__ = new

    @precondition(lambda self: self.insts and len(self.insts) < 6)
    @rule(i=st.integers(0, 30), how=st.sampled_from(["copy", "deepcopy", "pickle"]))
    def copy_instance(self, i, how):
        inst = self.pick(i)
        fam = inst.fam
        if how == "copy" and inst.family == "SN":
            return  # documented: without __weakref__ a shallow copy is known by address only
        if how == "copy":
            new = copy.copy(inst.obj)
            if fam.death == "weakref" or (WEAK_REFERENCES_EVERYWHERE and fam.p == "dict"):
                # the copy's __dict__ (or slot) holds the original's container
                self.shared.add(inst.uid)
            elif fam.ticket and not fam.ft:
                # the copy's __dict__ holds the original's ticket: a ticket
                # two dicts hold is nobody's, so the original's next lookup
                # retires its caches, and both start afresh
                self.drop_caches(inst.uid)
        elif how == "deepcopy":
            new = copy.deepcopy(inst.obj)
        else:
            new = pickle.loads(pickle.dumps(inst.obj))
        if fam.death == "never":
            assert new is inst.obj, "an enum member was copied"
            return
        uid = self.new_uid()
        if fam.by_value:
            assert new == inst.obj and type(new) is type(inst.obj)  # equal: it shares the original's entries
        else:
            new.label = uid
        if fam.death == "marker":
            new.alive = Marker()  # its own, to see it die
        rec = Inst(uid, new, inst.family)
        if fam.p == "dict" and (inst.p is not None or inst.p_tag is not None):
            # the value is in __dict__ and is copied with it (functools' behaviour)
            rec.p_tag = inst.p_tag
            rec.p = inst.p if how == "copy" else None
        self.add_inst(rec)

    # ---- rules: callbacks ----

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30),
        acts=st.lists(st.tuples(st.one_of(ACTIONS, SELF_CALLS), st.booleans()), min_size=1, max_size=3),
    )
    def add_finalizers(self, i, acts):
        for act, weak in acts:
            self.add_finalizer(i, act, weak)

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30), family=st.sampled_from(sorted(FAMILIES)), j=st.integers(0, 2), v=st.integers(0, 1)
    )
    def replace_instance(self, i, family, j, v):
        self.delete_instance(i)
        self.check_all()
        self.new_instance(family, j, v)

    def add_finalizer(self, i, act, weak):
        inst = self.pick(i)
        if act[0] == "call" and self.pick(act[1]) is inst:
            return  # the dying instance is no longer reachable
        if getattr(type(inst.obj), "__del__", None) is _owner_del:
            # no weak references: the owner's own __del__ runs them, and may call its own cache
            DEL_ACTIONS.setdefault(inst.addr, []).append(act)
            return
        if inst.fam.death != "weakref" or act[0] == "self_call":
            return  # no weak references (SN, IV2, enum members); the dying owner is out of reach
        me = weakref.ref(self)

        def cb(*_):
            m = me()
            if m is not None and not m.quiet and WORLD[0] is m:
                m.perform(act)

        if weak:
            fin = weakref.finalize(inst.obj, cb)
            self.finalizers.append(fin)
        else:
            self.finalizers.append(_WeakCb(weakref.ref(inst.obj, cb)))

    @rule(act=st.one_of(st.none(), ACTIONS))
    def set_value_hook(self, act):
        """What a DelValue's __del__ (a cached result dying) does."""
        self.value_action = act

    # ---- rules: hostile keys ----

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30),
        name=st.sampled_from(WRAPPED),
        mode=st.sampled_from(HKEY_MODES),
        h=st.sampled_from([1, 7, -1]),
        j=st.integers(0, 30),
        tname=st.sampled_from(["m", "u", "lk", "t", "mt", "k"]),
    )
    def call_hostile_key(self, i, name, mode, h, j, tname):
        inst = self.pick(i)
        target = self.pick(j)
        hk = HKey(mode, h, self, (target.uid, tname))
        if inst.fam.ft:
            self.note_pinning_call(inst, name)
        obj = inst.obj
        fn = getattr(obj, name)
        label = inst.label
        del inst, obj
        self.uncertain = True
        # a key with hash 1 collides with the entry of 1: its __eq__ runs
        outcome_of(fn, 1)
        got = outcome_of(fn, hk)
        del fn
        assert got[0] != "raised", f"{mode}: unexpected {got[1]!r}"
        if got[0] == "ok":
            v = got[1]
            assert isinstance(v, Value) and v.tag[0] == label and v.tag[1] == name, v
        del got

    # ---- rules: options that misbehave ----

    @rule(dt=st.sampled_from([0.5, 5.0, 9.99, 10.0, 25.0]))
    def advance_clock(self, dt):
        CLOCK.now += dt

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30),
        mode=st.sampled_from(["raise", "str", "nan", "huge"]),
        a=st.sampled_from([0, 1, "d"]),
    )
    def call_bad_timer(self, i, mode, a):
        if mode == "nan" and not enabled("timer_nan"):
            return
        if mode == "huge" and not enabled("timer_conversion_errors"):
            return
        inst = self.pick(i)
        if inst.fam.ft:
            self.note_pinning_call(inst, "t")  # warned before the clock is read
        n = len(CALLS)
        CLOCK.mode = mode
        try:
            got = outcome_of(inst.obj.t, a)
        except KeyboardInterrupt as e:  # noqa: B904 - only if it were raised
            got = ("raised", e)
        finally:
            CLOCK.mode = "ok"
        want = {"raise": HostileError, "str": TypeError, "nan": (ValueError, TypeError), "huge": OverflowError}[mode]
        assert got[0] != "ok", f"timer {mode}: the call succeeded"
        assert isinstance(got[1], want), f"timer {mode}: {got[1]!r}"
        # the clock is read before the lookup: nothing ran, nothing counted
        assert CALLS[n:] == [], CALLS[n:]

    @precondition(lambda self: self.insts)
    @rule(
        i=st.integers(0, 30),
        mode=st.sampled_from(["raise", "self", "unhashable", "nan_same", "nan_fresh"]),
        a=st.sampled_from([0, 1]),
    )
    def call_bad_key(self, i, mode, a):
        inst = self.pick(i)
        KEYMODE[0] = mode
        try:
            if mode in ("nan_same", "nan_fresh"):
                # a NaN is a valid key: equal to itself by identity only
                self.model_call(inst, "k", (a,), {}, lambda: traced(inst.obj.k, a))
                return
            n = len(CALLS)
            got = outcome_of(inst.obj.k, a)
        finally:
            KEYMODE[0] = "ok"
        want = {"raise": HostileError, "self": ValueError, "unhashable": TypeError}[mode]
        assert got[0] != "ok" and isinstance(got[1], want), (mode, got)
        assert CALLS[n:] == []

    # ---- rules that reproduce bugs of issue 15 (see KNOWN_BUGS_PENDING) ----

    @precondition(lambda self: enabled("metaclass_cached_property"))
    @rule(sub=st.booleans())
    def metaclass_property(self, sub):
        ran = []

        class Meta(type):
            @cached_property
            def cp(cls):
                ran.append(cls)
                return Value(("meta", len(ran)))

        class C(metaclass=Meta):
            pass

        target = type("C2", (C,), {}) if sub else C
        got = outcome_of(getattr, target, "cp")
        # functools refuses a class as owner, before calling the getter
        assert got[0] == "raised" and isinstance(got[1], TypeError) and ran == [], got

    @precondition(lambda self: enabled("wrapper_teardown"))
    @rule(how=st.sampled_from(["finalize", "result_del"]), n=st.integers(1, 3))
    def wrapper_teardown(self, how, n):
        """A method wrapper dies (deleted from its class) while instances hold
        caches for it; its finalizer, or a result's __del__, reaches it
        through the instances' containers (``_contents()``) and audit()."""
        seen = []
        conts = []

        def look():
            for c in conts:
                seen.append(len(c._contents()))
            if AUDIT:
                list(boundcache.audit(collect=False))

        class Payload:
            def __del__(self):
                look()

        def f(self, x):
            return Payload() if how == "result_del" else Value(("tmp", x))

        C = type("Tmp", (), {"m": lru_cache(maxsize=4)(f)})
        objs = [C() for _ in range(n)]
        for o in objs:
            o.m(1)
        conts.extend(c for o in objs for c in weakref.getweakrefs(o) if type(c).__name__ == "InstanceCaches")
        fin = weakref.finalize(C.__dict__["m"], look)
        self.finalizers.append(fin)
        delattr(C, "m")
        released()
        assert not fin.alive, "the wrapper was not freed by reference counting"
        assert seen, "nothing ran"
        for o in objs:
            assert outcome_of(getattr, o, "m")[0] == "raised"  # gone with the class attribute
        conts.clear()
        del objs

    @precondition(lambda self: enabled("weak_table_trust") and any(i.family == "W" for i in self.insts.values()))
    @rule(i=st.integers(0, 30), foreign=st.sampled_from(["str", "int", "other_container"]))
    def weak_table_foreign_value(self, i, foreign):
        ws = [x for x in self.insts.values() if x.family == "W"]
        inst = ws[i % len(ws)]
        obj = inst.obj
        self.uncertain = True  # calls below bypass the model
        self.dropped = True  # the container replaced in the weak table
        obj.m(0)
        mine = [r for r in weakref.getweakrefs(obj) if type(r).__name__ == "InstanceCaches"]
        assert len(mine) == 1
        # The table is not a Python object (issue 15 item 3: a dict found
        # here was filled with foreign values, then taken for containers):
        # nothing user code can reach holds the container.
        holders = [t for t in gc.get_referrers(mine[0]) if t is not mine and not isinstance(t, types.FrameType)]
        if not PURE:
            assert not holders, ("the weak table is reachable from Python", holders)
        others = [x for x in ws if x is not inst]
        if foreign == "other_container" and others:
            others[0].obj.m(0)
        if PURE:
            # The pure core's table is a dict (docs/design.md): what user code
            # puts there in place of a container is never used as one.
            junk = {"str": "junk", "int": 42}.get(foreign)
            if junk is None:
                theirs = [r for o in others for r in weakref.getweakrefs(o.obj) if type(r).__name__ == "InstanceCaches"]
                junk = theirs[0] if theirs else "junk"
            for table in [t for t in holders if type(t) is dict]:  # PyPy's referrers include tuples too
                for k, v in list(table.items()):
                    if v is mine[0]:
                        table[k] = junk
        del mine, holders
        got = outcome_of(obj.m, 1)
        assert got[0] != "raised", got

    @precondition(
        lambda self: enabled("owner_died_by_hand") and any(i.fam.death == "weakref" for i in self.insts.values())
    )
    @rule(i=st.integers(0, 30), during=st.booleans(), arg=st.sampled_from(["self", "none", "other"]))
    def owner_died_by_hand(self, i, during, arg):
        """The container's weakref callback, reachable as __callback__, called
        while its owner lives: it must change nothing (the model goes on)."""
        xs = [x for x in self.insts.values() if x.fam.death == "weakref"]
        inst = xs[i % len(xs)]
        self.call(sorted(self.insts).index(inst.uid), "m", ((1,), {}), 0)
        self.call(sorted(self.insts).index(inst.uid), "u", ((1,), {}), 0)
        obj = inst.obj
        mine = [r for r in weakref.getweakrefs(obj) if type(r).__name__ == "InstanceCaches"]
        if not mine:
            return  # shared or tampered storage: no container of its own
        c = mine[0]
        cb = c.__callback__
        target = {"self": c, "none": None, "other": obj}[arg]
        if not during:
            got = outcome_of(cb, target)
            assert got[0] != "raised" or isinstance(got[1], TypeError), got
            return  # the invariants check that nothing changed

        self.uncertain = True
        # K, a class, is cyclic garbage once this rule returns: it reaches the
        # target through a box emptied below, or (arg "other") it would keep
        # `obj` alive for good with the GC off, and its deletion would fail.
        box = [target]
        del target

        class K:
            def __hash__(self):
                return 1

            def __eq__(self, other):
                cb(box[0] if box else None)
                return False

        del c, mine
        for fn in (obj.m, obj.u):
            got = outcome_of(fn, K())
            assert got[0] != "raised" or isinstance(got[1], TypeError), got
        outcome_of(obj.m, 2)
        box.clear()
        obj.m.cache_clear()
        obj.u.cache_clear()

    @precondition(lambda self: enabled("nonweakref_dict_owner"))
    @rule(rounds=st.integers(1, 6), kind=st.sampled_from(["int", "tuple"]), check_copy_first=st.booleans())
    def int_subclass_owner(self, rounds, kind, check_copy_first):
        base = IntOwner if kind == "int" else TupleOwner
        a = base(5) if kind == "int" else base((5,))
        if not OWN_CACHES_WITHOUT_WEAKREF_SLOT:
            # no death signal before 3.12 (nor in the pure core, which has no
            # dict watcher, unless weak references tell, as on PyPy): served
            # as functools serves them (contract 3.5), by value, so a copy
            # finds the original's entry
            base.m.cache_clear()
            first = a.m(1)
            assert a.m(1) is first and copy.copy(a).m(1) is first
            assert base.m.cache_info() == (2, 1, 4, 1)
            base.m.cache_clear()
            return
        first = a.m(1)
        wr = weakref.ref(first)
        del first
        b = copy.copy(a)  # shares a's __dict__ entries, the container included
        if check_copy_first:
            b.m(1)
            assert b.m.cache_info().misses == 1, "a copy started with the original's entries"
        del a
        released()
        assert wr() is None, "the dead owner's entry lives on in the copy"
        for _ in range(rounds):
            c = copy.copy(b)
            c.m(1)
            assert c.m.cache_info() == (0, 1, 4, 1), ("a copy sees another object's entries", c.m.cache_info())
            del c

    @precondition(lambda self: enabled("classmethod_slot_hiding"))
    @rule(weak=st.booleans(), use_cp=st.booleans())
    def classmethod_on_slotted_subclass(self, weak, use_cp):
        Base = type("Base", (), {"__slots__": ("__boundcache__", "__weakref__") if weak else ("__boundcache__",)})

        class Sub(Base):
            __slots__ = ()

            @classmethod
            @lru_cache(maxsize=4)
            def cm(cls, x):
                return Value(("cm", x))

            @lru_cache(maxsize=4)
            def m(self, x):
                return Value(("m", x))

            @cached_property
            def cp(self):
                return Value(("cp",))

        o = Sub()
        first = o.m(0)
        cp = o.cp if use_cp else None
        Sub.cm(1)
        Sub.cm(1)
        assert Sub.cm.cache_info().hits == 1
        # the instance's cache in its slot is still found
        got = outcome_of(o.m, 0)
        assert got[0] == "ok" and got[1] is first, got
        assert tuple(o.m.cache_info()) == (1, 1, 4, 1), o.m.cache_info()
        if use_cp:
            assert o.cp is cp

    @precondition(lambda self: enabled("fork_lock_in_flight") and FORK_OK and self.forks == 0)
    @rule(what=st.sampled_from(["lock", "property"]), roll=st.integers(0, 3))
    def fork_during_a_flight(self, what, roll):
        if roll:
            return
        self.forks += 1
        started, release = threading.Event(), threading.Event()
        parent = os.getpid()

        def slow(x):
            if os.getpid() != parent:
                # the child: the vanished thread may have held an event's lock
                # at the fork (inside release.wait()); it would never be released
                return Value(("slow", x))
            started.set()
            release.wait(30)
            return Value(("slow", x))

        class Slow:
            @lru_cache(maxsize=4, lock=True)
            def lk(self, x):
                return slow(x)

            @cached_property
            def cp(self):
                return slow("cp")

        obj = Slow()
        work = (lambda: obj.lk(1)) if what == "lock" else (lambda: obj.cp)
        t = threading.Thread(target=work)
        t.start()
        try:
            assert started.wait(30)
            started.clear()
            release_child = threading.Event()
            release_child.set()

            def child():
                # the computation in flight belongs to a thread that does not exist here
                work()
                return 0

            _run_in_child(child, timeout=15)
        finally:
            release.set()
            t.join()

    @precondition(lambda self: enabled("readonly_boundcache_property"))
    @rule(slotted=st.booleans())
    def readonly_boundcache_property(self, slotted):
        ns = {"__boundcache__": property(lambda self: None), "m": lru_cache(maxsize=4)(lambda self, x: Value(x))}
        if slotted:
            ns["__slots__"] = ("__weakref__",)
        R = type("R", (), ns)
        r = R()
        # served as functools (contract 3.5), with a PinningWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", boundcache.PinningWarning)
            first = r.m(1)
            assert r.m(1) is first
        assert r.m.cache_info().hits == 1, ("caching silently off", r.m.cache_info())
        R.m.cache_clear()

    @precondition(lambda self: enabled("nonstr_slot_name"))
    @rule(
        name=st.sampled_from([0, None, b"cp", 1.5]),
        ops=st.lists(st.sampled_from(["get a", "get n", "set n", "del n", "set a", "del a"]), max_size=6),
    )
    def slotted_property_with_odd_name(self, name, ops):
        # a class namespace may hold keys that are not str (type() takes them);
        # the slotted variant refuses such a name when the class is made, with
        # a TypeError (3.10/3.11 wrap it in a RuntimeError, as every
        # __set_name__ error; 3.12+ raise it with a note), or takes it and
        # then answers with TypeError/AttributeError only
        made = outcome_of(
            type,
            "Sl",
            (S0,),
            {"__slots__": (), "a": cached_property(lambda self: 1), name: cached_property(lambda self: 2)},
        )
        if made[0] == "raised":
            error = made[1]
            if isinstance(error, RuntimeError) and sys.version_info < (3, 12):
                error = error.__cause__
            assert isinstance(error, TypeError) and "str" in str(error), made
            return
        Sl = made[1]
        d = Sl.__dict__[name]
        o = Sl()
        run = {
            "get a": lambda: o.a,
            "get n": lambda: d.__get__(o, Sl),
            "set n": lambda: d.__set__(o, 5),
            "del n": lambda: d.__delete__(o),
            "set a": lambda: setattr(o, "a", 3),
            "del a": lambda: delattr(o, "a"),
        }
        for op in ops:
            got = outcome_of(run[op])
            assert got[0] != "raised" or type(got[1]) in (TypeError, AttributeError), (name, op, got)

    @precondition(lambda self: enabled("slotted_nowhere"))
    @rule(slots=st.sampled_from([(), ("a",), ("a", "b")]))
    def slotted_property_nowhere(self, slots):
        ran = []

        def getter(self):
            ran.append(1)
            return 1

        Z = type("Z", (), {"__slots__": slots, "cp": cached_property(getter)})
        z = Z()
        got = outcome_of(getattr, z, "cp")
        if WEAK_REFERENCES_EVERYWHERE:
            # PyPy: weakly referenceable, so the value is kept in its container
            assert got == ("ok", 1) and z.cp == 1 and ran == [1], (got, ran)
            return
        assert got[0] == "raised" and isinstance(got[1], TypeError) and ran == [], (got, ran)

    # ---- rules: the process ----

    @rule(gen=st.sampled_from([0, 0, 1, 2]))
    def collect(self, gen):
        # the GC traverses and may clear containers; nothing live may change
        # (a full collection costs 0.2 s with hypothesis loaded: kept rare)
        gc.collect(gen)

    @precondition(lambda self: AUDIT)
    @rule(roll=st.integers(0, 3))
    def audit(self, roll):
        if roll:
            return  # 0.1 s a call
        report = boundcache.audit(collect=False)
        rows = [r for r in report if r.kind == "boundcache" and r.module == __name__]
        # Only ghosts are pinned, by the wrappers whose entries hold them,
        # counted by their class (audit counts an owner as a wrapper's self
        # only if its class has that wrapper: not after __class__ moved it).
        got = collections.Counter()
        for r in rows:
            for cname, n in r.classes:
                got[(r.qualname, cname)] += n
        want = collections.Counter()
        held = self.ft_holders()
        for uid, ghost in self.ghosts.items():
            for owner, name in held.get(uid, ()):
                if owner == ghost.cname:
                    want[(vars(globals()[owner])[name].__qualname__, owner)] += 1
        assert got == want, (got, want, rows)
        str(report)

    @precondition(lambda self: FORK_OK and self.forks == 0 and self.insts and threading.active_count() == 1)
    @rule(i=st.integers(0, 30), roll=st.integers(0, 7))
    def fork(self, i, roll):
        if roll:
            return
        self.forks += 1
        inst = self.pick(i)
        obj = inst.obj
        model, tuid = self.table_of(inst, "m")
        # in the wrapper's own table, the entries keyed by this owner (or an equal one)
        cached = [(call, wr()) for key, (wr, _, call, _) in model.d.items() if tuid != FT or key[0] == inst.token]
        info = model.info()
        _run_in_child(lambda: _child_checks(obj, cached, info))


class IntOwner(int):
    @lru_cache(maxsize=4)
    def m(self, x):
        return Value((int(self), x, next(SERIAL)))


class TupleOwner(tuple):
    @lru_cache(maxsize=4)
    def m(self, x):
        return Value((tuple(self), x, next(SERIAL)))


class _WeakCb:
    """Keeps a weakref with a callback alive; detach() drops it."""

    def __init__(self, wr):
        self.wr = wr

    def detach(self):
        self.wr = None


def _child_checks(obj, cached, info):
    """In a forked child: entries cached before the fork hit, a new key misses."""
    for (args, kwargs), value in cached:
        if obj.m(*args, **kwargs) is not value:
            return 3
    got = obj.m.cache_info()
    if (got.hits, got.misses) != (info[0] + len(cached), info[1]):
        return 4
    obj.m("fresh-in-child")
    if obj.m.cache_info().misses != info[1] + 1:
        return 5
    if AUDIT:
        list(boundcache.audit(collect=False))
    return 0


def _run_in_child(fn, timeout=30.0):
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = fn()
        finally:
            os._exit(code if isinstance(code, int) else 1)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise Fail(f"the forked child did not finish in {timeout} s (deadlock?)")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status:#x}"


CacheMachine.check = invariant()(CacheMachine.check_all)

TestCacheMachine = CacheMachine.TestCase
TestCacheMachine.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=tuple(Phase) if os.environ.get("BOUNDCACHE_FUZZ_SHRINK", "1") == "1" else (Phase.explicit, Phase.generate),
    report_multiple_bugs=os.environ.get("BOUNDCACHE_FUZZ_MULTI", "") == "1",
)
