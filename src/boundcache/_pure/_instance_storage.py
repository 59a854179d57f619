"""Per-owner storage (contract 3.5; the C++ core's instance_storage.cpp).

Each owner's caches live in one ``InstanceCaches`` container, a weak
reference to its owner (a ``weakref.ref`` subtype, so it costs no extra
object), never a strong one. Where it is kept, decided from the class:

1. a ``__boundcache__`` slot;
2. the instance ``__dict__`` under ``"__boundcache__"``, for owners that
   support weak references (pydantic models with ``extra="forbid"`` or
   ``"allow"`` go to 3: pydantic reads their ``__dict__``);
3. a process-wide table keyed by ``id(owner)`` (``_weak_table``), for owners
   with weak references but neither; the container's weakref callback removes
   it when the owner dies;
4. nowhere: owners without weak references and without a slot (their death
   cannot be observed without a dict watcher, which only the C++ core has),
   and classes that define ``__boundcache__`` as anything but a slot, are
   served as functools serves them (``owner_caches`` returns None).

When the owner dies, the callback (``_owner_died``) empties the container at
once, even if a shallow copy of the owner still holds it, so a dead owner's
entries never outlive it. A container found under ``__boundcache__`` is used
only if it is an ``InstanceCaches`` whose owner is this object: a copy's, a
class-level one seen through an instance, or anything user code put there is
ignored and replaced. The cache never runs the owner's ``__getattr__``,
``__getattribute__`` or ``__setattr__``.

Where the C++ core differs: its weak table is a C++ map that no Python code
can reach; here it is a dict that ``gc.get_referrers`` finds, and what is
read from it is checked as strictly as what is read from ``__dict__``.
"""

from __future__ import annotations

import threading
import weakref
from types import MemberDescriptorType

from ._lru_store import snapshot

_BOUNDCACHE = "__boundcache__"
_generic_getattr = object.__getattribute__
_generic_setattr = object.__setattr__
_set_dict_item = dict.__setitem__
# Attaching is looking and storing in one step for other threads: two first
# calls of one owner in two threads must not each attach a container.
_attach_lock = threading.RLock()


class _Nobody:
    """The referent of containers that follow no owner (owners without weak
    references, copies, unpickled ones): it lives as long as the process."""


_NOBODY = _Nobody()

# id(owner) -> container, for owners with neither __dict__ nor slot.
_weak_table: dict = {}


class InstanceCaches(weakref.ref):
    """The caches boundcache keeps for one object (its __boundcache__ attribute)."""

    __slots__ = ("caches", "in_weak_table", "linked", "owner_id", "props")

    # Unpickling, copy.copy and copy.deepcopy give an empty container that
    # belongs to nobody: the copied instance builds its own on first use.
    def __new__(cls, *args, **kwargs):
        if args or kwargs:
            raise TypeError("InstanceCaches() takes no arguments")
        return new_container(None)

    def __init__(self, *args, **kwargs) -> None:
        pass

    # Identity, not weakref.ref's (which compares and hashes the referents).
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    def __reduce__(self):
        return (InstanceCaches, ())

    def __copy__(self):
        return new_container(None)

    def __deepcopy__(self, memo):
        return new_container(None)

    def __repr__(self) -> str:
        entries = sum(t.size() for t in self.caches.values())
        return (
            f"<boundcache caches: {len(self.caches)} methods, {entries} entries, "
            f"{len(self.props or ())} properties>"
        )

    # Dropped while its owner lives (its __dict__ cleared, its slot
    # reassigned): its tables' statistics go to their wrappers' sums.
    def __del__(self) -> None:
        self.release_contents()

    def release_contents(self) -> None:
        """Empties the container: statistics to the wrappers' sums first,
        then the tables are let go, once the container is empty. Nothing but
        the container holds them (their wrappers' tallies hold them weakly, a
        call in progress holds the container), so they die with their
        entries when this returns."""
        caches, props = self.caches, self.props
        if not caches and not props:
            return
        self.caches = {}
        self.props = None
        held = []
        for tally, table in caches.items():
            wrapper = tally.wrapper()
            if wrapper is not None:
                with wrapper._lock:
                    tally.retire(table)
                    held += table.detach()
            del wrapper
        # caches, props and held are released on return.

    def owns(self, owner) -> bool:
        if self.linked:
            return self() is owner
        return self.owner_id is not None and self.owner_id == id(owner)

    def add_table(self, wrapper):
        tally = wrapper._tally
        table = wrapper._new_table(tally)
        self.caches[tally] = table
        tally.live.add(table)
        return table

    def _contents(self) -> list:
        """[(wrapper, [(key, value), ...]), ...] for every cached method of this owner."""
        out = []
        for tally, table in snapshot(lambda: list(self.caches.items())):
            wrapper = tally.wrapper()
            if wrapper is not None:
                out.append((wrapper, table.items()))
        return out

    def _properties(self) -> list:
        """[(name, value), ...] for every cached_property value kept in this container."""
        props = self.props
        return snapshot(lambda: list(props.items())) if props else []

    @property
    def _weak_owner(self):
        """The owner, for containers kept in the weak table; else None."""
        return self() if self.in_weak_table else None


InstanceCaches.__module__ = "boundcache._pure"


def new_container(owner):
    """A container following `owner` (None: nobody), or None if `owner`
    cannot be weakly referenced and has to be followed by identity."""
    if owner is None:
        c = weakref.ref.__new__(InstanceCaches, _NOBODY)
        c.linked = False
    else:
        c = weakref.ref.__new__(InstanceCaches, owner, _owner_died)
        c.linked = True
    c.owner_id = None if owner is None else id(owner)
    c.caches = {}
    c.props = None
    c.in_weak_table = False
    return c


def _owner_died(ref) -> None:
    # The weakref callback, also reachable as container.__callback__ and
    # callable by hand with anything: it acts only on a container whose owner
    # has died (its referent cleared), and only once. (At interpreter
    # shutdown, which sets module globals to None, there is nothing to do.)
    if (
        type(ref) is not InstanceCaches
        or not ref.linked
        or ref.owner_id is None
        or ref() is not None
    ):
        return
    owner_id = ref.owner_id
    ref.owner_id = None
    taken = None
    if ref.in_weak_table:
        ref.in_weak_table = False
        if _weak_table is not None and _weak_table.get(owner_id) is ref:
            taken = _weak_table.pop(owner_id)  # noqa: F841 - released on return
    ref.release_contents()


def _type_lookup(tp, name):
    """`name` in the class's MRO namespaces; runs no descriptor."""
    for klass in tp.__mro__:
        ns = klass.__dict__
        if name in ns:
            return ns[name]
    return None


def instance_dict(owner):
    """The owner's __dict__ (made if it was inline values), or None."""
    try:
        return _generic_getattr(owner, "__dict__")
    except (AttributeError, TypeError):
        return None


def find_caches(owner):
    """The owner's container if it has one, else None. What is found under
    __boundcache__ is user-reachable and may be anything: it is used only if
    it is a container whose owner is this object."""
    try:
        c = _generic_getattr(owner, _BOUNDCACHE)
    except AttributeError:
        pass
    else:
        if type(c) is InstanceCaches and c.owns(owner):
            return c
    if _weak_table:
        c = _weak_table.get(id(owner))
        if type(c) is InstanceCaches and c() is owner:
            return c
    return None


def owner_caches(owner):
    """The owner's container, attached if needed; None for an owner served
    as functools serves it (point 4 above)."""
    c = find_caches(owner)
    if c is None:
        with _attach_lock:
            c = find_caches(owner)
            if c is None:
                c = attach(owner)
    return c


def served_as_functools(owner) -> bool:
    """Whether `owner`'s caches would be the wrapper's own table (point 4)."""
    if isinstance(owner, type):
        return False
    descr = _type_lookup(type(owner), _BOUNDCACHE)
    if type(descr) is MemberDescriptorType:
        return False
    if descr is not None and hasattr(type(descr), "__set__"):
        return True
    try:
        weakref.ref(owner)
    except TypeError:
        return True
    return False


def attach(owner):
    """A new container for an owner known to have none; None: point 4."""
    if isinstance(owner, type):
        return _attach_to_class(owner)
    tp = type(owner)
    descr = _type_lookup(tp, _BOUNDCACHE)
    if type(descr) is MemberDescriptorType:
        try:
            c = new_container(owner)
        except TypeError:  # no weak references: followed by identity
            c = new_container(None)
            c.owner_id = id(owner)
        descr.__set__(owner, c)
        return c
    if descr is not None and hasattr(type(descr), "__set__"):
        # A property (or another data descriptor) named __boundcache__ would
        # decide where the container goes: served as functools serves it.
        return None
    try:
        c = new_container(owner)
    except TypeError:
        return None  # no weak references, no slot: nothing would tell when it dies
    if not keeps_dict_for_fields(tp) and _store_in_dict(owner, c):
        return c
    _put_in_weak_table(owner, c)
    return c


def _store_in_dict(owner, c) -> bool:
    """Stores `c` as the owner's __boundcache__ in its __dict__, without its
    __setattr__ and without turning inline values into a dict; False if it
    has no __dict__."""
    try:
        _generic_setattr(owner, _BOUNDCACHE, c)
        return True
    except AttributeError:
        return False
    except TypeError:  # a class whose C base refuses object.__setattr__
        d = instance_dict(owner)
        if d is None:
            return False
        _set_dict_item(d, _BOUNDCACHE, c)
        return True


def _attach_to_class(cls):
    # A cached classmethod: the class's own namespace, unless the name means
    # something else there or in a base (the __boundcache__ slot of its
    # instances, or anything else that is not a container): there the weak
    # table serves instead (classes support weak references).
    c = new_container(cls)
    inherited = _type_lookup(cls, _BOUNDCACHE)
    if inherited is None or type(inherited) is InstanceCaches:
        try:
            type.__setattr__(cls, _BOUNDCACHE, c)  # no metaclass __setattr__
            return c
        except (AttributeError, TypeError):  # a built-in class
            pass
    _put_in_weak_table(cls, c)
    return c


def _put_in_weak_table(owner, c) -> None:
    replaced = _weak_table.get(id(owner))
    _weak_table[id(owner)] = c
    c.in_weak_table = True
    if type(replaced) is InstanceCaches:
        replaced.in_weak_table = False


def keeps_dict_for_fields(tp) -> bool:
    """A pydantic model class configured with extra="forbid" or "allow":
    pydantic reads such a model's __dict__ as its input when it revalidates
    or validates an assignment, so a "__boundcache__" key there would fail
    validation or be dumped. Their containers go to the weak table."""
    if _type_lookup(tp, "__pydantic_extra__") is None:
        return False
    config = _type_lookup(tp, "model_config")
    if type(config) is not dict:
        return False
    extra = config.get("extra")
    return type(extra) is str and extra in ("forbid", "allow")


def weak_table_containers() -> list:
    """The containers of the weak table, as a new list (for audit() and tests)."""
    return snapshot(lambda: list(_weak_table.values()))


def nowhere_to_store(obj) -> bool:
    """No __dict__, no __boundcache__ slot, no weak references."""
    tp = type(obj)
    if instance_dict(obj) is not None or _type_lookup(tp, _BOUNDCACHE) is not None:
        return False
    try:
        weakref.ref(obj)
    except TypeError:
        return True
    return False
