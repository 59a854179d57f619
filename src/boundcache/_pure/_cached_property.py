"""cached_property (contract 4; the C++ core's cached_property.cpp).

As ``functools.cached_property`` (and a subclass of it): the value is
computed once per instance and stored in the instance ``__dict__`` under the
attribute's name, so later reads are plain attribute lookups; ``del
obj.attr`` recomputes. On classes without a ``__dict__`` the value lives in
the instance's ``__boundcache__`` container (slot or weak table), and the
descriptor becomes a data descriptor (``SlottedCachedProperty``) when its
class is made, so that assignment and deletion reach it.

Concurrent first reads of one instance's property compute it once: the first
reader files a flight for that instance; other threads wait for it, then read
the stored value (or, if the computation raised, compute themselves).
Different instances never wait for each other. A recursive read from the
computing thread computes again, as functools does, instead of deadlocking.
"""

from __future__ import annotations

import functools
from types import GenericAlias

from ._flight_gate import FlightGate
from ._instance_storage import (
    _type_lookup,
    find_caches,
    instance_dict,
    nowhere_to_store,
    owner_caches,
)

_ABSENT = object()


def _type_name(obj) -> str:
    return type(obj).__name__


def _class_owner_error(obj, name):
    # A class, through a property of its metaclass: functools refuses (its
    # namespace takes no item), before computing anything.
    return TypeError(
        f"The '__dict__' attribute on {_type_name(obj)!r} instance does not support item assignment "
        f"for caching {name!r} property."
    )


def _nowhere_error(obj, name):
    from .._storage_hint import no_storage_message

    return TypeError(
        f"No '__dict__' attribute on {_type_name(obj)!r} instance to cache {name!r} property. "
        f"{no_storage_message(type(obj))}"
    )


def _class_has_dict(cls) -> bool:
    return _type_lookup(cls, "__dict__") is not None


class cached_property(functools.cached_property):
    """Compute an attribute once per instance and keep it; `del obj.attr` recomputes it."""

    __slots__ = ("_attrname", "_flights", "_func")

    __class_getitem__ = classmethod(GenericAlias)

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._func = None
        self._attrname = None
        self._flights = {}  # id(instance) -> FlightGate of its first read in progress
        return self

    # The function is given to __init__, as functools' is, so that subclasses
    # may take other arguments and call super().__init__(func).
    def __init__(self, func) -> None:
        self._func = func
        self._attrname = None
        # __doc__ and __module__ follow the function, as in functools.
        for name in ("__doc__", "__module__"):
            try:
                value = getattr(func, name)
            except AttributeError:
                continue
            setattr(self, name, value)

    @property
    def func(self):
        """The function computing the value."""
        return self._func

    @func.setter
    def func(self, value) -> None:
        self._func = value

    @property
    def attrname(self):
        """The attribute name, set by __set_name__."""
        return self._attrname

    @attrname.setter
    def attrname(self, value) -> None:
        if (
            value is not None
            and isinstance(self, SlottedCachedProperty)
            and not isinstance(value, str)
        ):
            raise TypeError(
                f"cached_property on a class without __dict__ needs a str attribute name, not {type(value).__name__}"
            )
        self._attrname = value

    def __set_name__(self, owner, name) -> None:
        named = self._attrname is not None
        if named and name != self._attrname:
            raise TypeError(
                f"Cannot assign the same cached_property to two different names ({self._attrname!r} and {name!r})."
            )
        needs_slotted = isinstance(owner, type) and not _class_has_dict(owner)
        slotted = isinstance(self, SlottedCachedProperty)
        # The slotted variant files values by name, compared as str; an
        # instance __dict__ would take any key.
        if (needs_slotted or slotted) and not isinstance(name, str):
            raise TypeError(
                f"cached_property on a class without __dict__ needs a str attribute name, not {type(name).__name__}"
            )
        if needs_slotted == slotted:
            if not named:
                self._attrname = name
            return
        if not named and needs_slotted:
            self._attrname = name  # its first class: it becomes what that class needs
            _become_slotted(self)
            return
        # It already serves a class of the other kind, whose instances must
        # keep finding it as it is: this class gets a twin of the kind it
        # needs (contract 4: one object in both kinds behaves in each as
        # alone). A class deriving from the slotted variant alone has no
        # plain twin: it stays shared.
        twin = _twin(self, needs_slotted)
        if twin is None:
            if not named:
                self._attrname = name
            return
        if not named:
            twin._attrname = name
        type.__setattr__(owner, name, twin)  # no metaclass __setattr__

    def _name(self):
        name = self.attrname
        if name is None:
            raise TypeError(
                "Cannot use cached_property instance without calling __set_name__ on it."
            )
        return name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        name = self._name()
        if isinstance(instance, type):
            # As functools: a value already in the class's own namespace is
            # returned; nothing is ever stored there.
            value = instance.__dict__.get(name, _ABSENT)
            if value is not _ABSENT:
                return value
            raise _class_owner_error(instance, name)
        flights = self._flights
        while True:
            value = self._stored(instance, name)
            if value is not _ABSENT:
                return value
            key = id(instance)  # the instance lives while its read is in flight
            flight = flights.get(key)
            if flight is None:
                mine = FlightGate(functools.partial(_drop_flight, flights, key))
                flight = flights.setdefault(key, mine)
                if flight is mine:
                    return self._compute(instance, name, mine)
                mine.finish()
            if flight.computing_here():
                return self._compute(instance, name, None)
            flight.wait()

    def _stored(self, instance, name):
        if isinstance(self, SlottedCachedProperty):
            caches = find_caches(instance)
            if caches is None or not caches.props:
                return _ABSENT
            return caches.props.get(name, _ABSENT)
        d = instance_dict(instance)
        if d is None:
            raise TypeError(
                f"No '__dict__' attribute on {_type_name(instance)!r} instance to cache {name!r} property."
            )
        return d.get(name, _ABSENT)

    def _store(self, instance, name, value) -> None:
        if isinstance(self, SlottedCachedProperty):
            _slotted_store(instance, name, value)
        else:
            instance_dict(instance)[name] = value

    def _compute(self, instance, name, flight):
        try:
            func = self.func
            if func is None:
                raise ReferenceError(
                    "this cached_property has no function: never initialised"
                )
            if flight is not None:
                # Another thread may have stored it between our look and our filing.
                value = self._stored(instance, name)
                if value is not _ABSENT:
                    return value
            # Refused before the function runs, as functools does.
            if isinstance(self, SlottedCachedProperty) and nowhere_to_store(instance):
                raise _nowhere_error(instance, name)
            value = func(instance)
            self._store(instance, name, value)
            return value
        finally:
            if flight is not None:
                _drop_flight(self._flights, id(instance), flight)
                flight.finish()


def _drop_flight(flights, key, gate) -> None:
    # Also a fork's way to forget a read whose thread did not survive it.
    if flights.get(key) is gate:
        del flights[key]


def _slotted_store(instance, name, value) -> None:
    if nowhere_to_store(instance):
        raise _nowhere_error(instance, name)
    caches = owner_caches(instance)
    if caches is None:
        raise TypeError(
            f"boundcache cannot keep the cached_property {name!r} of {_type_name(instance)} instances: "
            f"{_type_name(instance)}.__boundcache__ is not a slot. Rename that attribute, or list "
            "'__boundcache__' in __slots__."
        )
    if caches.props is None:
        caches.props = {}
    caches.props[name] = value


class SlottedCachedProperty(cached_property):
    """cached_property on a class without __dict__: the value lives in the
    instance's __boundcache__ container; assignment and deletion reach it."""

    __slots__ = ()

    def __set__(self, instance, value) -> None:
        name = self._name()
        if isinstance(instance, type):
            raise _class_owner_error(instance, name)
        _slotted_store(instance, name, value)

    def __delete__(self, instance) -> None:
        name = self._name()
        caches = find_caches(instance)
        if caches is None or not caches.props or name not in caches.props:
            raise AttributeError(name)
        value = caches.props.pop(name)  # noqa: F841 - released on return


def _twin(prop, slotted: bool):
    """A copy of `prop` of the other kind, or None if its class has none."""
    cls = type(prop)
    if slotted:
        kind = SlottedCachedProperty if cls is cached_property else _slotted_subclass(cls)
    else:
        kinds = [k for k in cls.__mro__ if issubclass(k, cached_property) and not issubclass(k, SlottedCachedProperty)]
        if not kinds:
            return None
        kind = kinds[0]
    twin = kind.__new__(kind)
    for klass in cls.__mro__:  # func, attrname and a subclass's own slots
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("_flights", "__dict__", "__weakref__") and hasattr(prop, slot):
                setattr(twin, slot, getattr(prop, slot))
    twin.__dict__.update(prop.__dict__)  # __doc__, __module__, a subclass's attributes
    return twin


def _become_slotted(prop) -> None:
    cls = type(prop)
    if cls is cached_property:
        prop.__class__ = SlottedCachedProperty
        return
    prop.__class__ = _slotted_subclass(cls)


def _slotted_subclass(cls):
    """For a subclass of cached_property on a class without __dict__: a class
    made now from it and SlottedCachedProperty, named as it, its own methods
    first."""
    ns = {"__slots__": (), "__qualname__": cls.__qualname__, "__module__": cls.__module__}
    return type(cls.__name__, (cls, SlottedCachedProperty), ns)


# pydantic recognises functools' decorators by their class's module.
for _cls, _name in (
    (cached_property, "boundcache_cached_property"),
    (SlottedCachedProperty, "boundcache_SlottedCachedProperty"),
):
    _cls.__module__ = "functools"
    _cls.__name__ = _cls.__qualname__ = _name
