"""Core bug: an owner kept in the weak table (no __dict__, no __boundcache__
slot, only __weakref__) is never freed when the cached function or
cached_property itself refers back to it, for instance through a closure, a
default argument, or the globals of a finished subinterpreter.

    python tests/hardening/repro/weak_table_pins_owner.py weak   -> alive: True (leak)
    python tests/hardening/repro/weak_table_pins_owner.py slot   -> alive: False

The container in the module-level weak table (a root) holds its wrappers and
cached_property descriptors strongly; through them the function's closure
reaches the owner, so what would be an ordinary collectable cycle with a
__dict__ or a __boundcache__ slot is pinned for ever, with its class. The
contract documents this for a *result* that refers back, not for the cached
function itself.
"""
import gc
import sys
import weakref

import boundcache

SLOTS = ("__weakref__",) if sys.argv[1:] != ["slot"] else ("__weakref__", "__boundcache__")


def make(kind):
    class Owner:
        __slots__ = SLOTS

    if kind == "property":

        def p(self):
            return obj is self  # the function refers to the instance

        Owner.p = boundcache.cached_property(p)
        Owner.p.__set_name__(Owner, "p")
    else:

        @boundcache.lru_cache
        def m(self, x):
            return obj is self

        Owner.m = m
    obj = Owner()
    obj.p if kind == "property" else obj.m(1)  # noqa: B018
    return weakref.ref(obj), weakref.ref(Owner)


for kind in ("property", "method"):
    r_obj, r_cls = make(kind)
    gc.collect()
    print(kind, "instance alive after gc.collect():", r_obj() is not None, "class alive:", r_cls() is not None)
