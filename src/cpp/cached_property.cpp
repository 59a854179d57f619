// cached_property: as functools.cached_property (the value is computed once
// per instance and stored in the instance __dict__ under the attribute's
// name, so later reads are plain attribute lookups; `del obj.attr`
// recomputes), and also for classes without a __dict__: there the value
// lives in the instance's __boundcache__ container, and the descriptor
// becomes a data descriptor (SlottedCachedProperty) so that assignment and
// deletion reach it.
//
// The types are subclasses of functools.cached_property (isinstance() is how
// other libraries, pydantic among them, recognise a cached property), made at
// import with PyType_FromSpecWithBases: CPython refuses a static type over a
// heap-type base. functools' own __init__, __set_name__ and __get__ never run
// for these objects: the C type defines all three, and comes first in the MRO.
//
// Concurrent first reads of one instance's property compute it once: the
// first reader registers a "flight" for that instance and computes with the
// GIL released as usual; other threads wait for it (flight_gate.hpp), then
// read the stored value (or, if the computation raised, compute themselves).
// Different instances never wait for each other. A recursive read from the
// computing thread itself computes again, as functools does, instead of
// deadlocking.
#include "flight_gate.hpp"
#include "objects.hpp"

#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>  // T_OBJECT_EX; Py_T_OBJECT_EX from 3.12
#endif

namespace bc {

struct CachedPropertyFields;

namespace {

struct Flight {
    Flight(void* owner, CachedPropertyFields* prop, Flight* next) noexcept;
    void* owner;
    FlightGate gate;
    CachedPropertyFields* prop;  // whose `flights` list this is in; alive while the flight is
    int refs = 1;  // the computing thread and every waiter
    Flight* next;
};

}  // namespace

// What boundcache adds to a functools.cached_property instance, at
// property_offset: after the base's own part, whose size depends on the
// version (3.10: __dict__ and __weakref__ inside the object; 3.11: the
// __weakref__ only, the dict being managed; 3.12+: nothing, both managed).
//
// func and attrname are declared as T_OBJECT_EX members (property_members)
// and the types keep the tp_dealloc, tp_traverse and tp_clear they inherit
// from the Python base, CPython's subtype_dealloc/traverse/clear: those
// visit and clear the members of every heap type in the MRO, the managed or
// offset __dict__, the __weakref__ list and the type reference, as for a
// Python class with __slots__ (init_cached_property_types checks that the
// slots were inherited). tp_clear leaving func NULL is the ReferenceError
// in compute().
//
// flights is not an object and nothing frees it: it is empty whenever the
// refcount can reach zero. Every flight is in the list only while its
// computing thread is inside property_get, which holds a reference to the
// property (`keep`) until it has unlinked the flight; waiters hold one too;
// after a fork, orphaned flights are unlinked (flight_kind).
struct CachedPropertyFields {
    PyObject* func;      // NULL: never initialised, or cleared by the GC
    PyObject* attrname;  // NULL until __set_name__ (attrname reads None)
    Flight* flights;
};

PyTypeObject* CachedProperty_Type;
PyTypeObject* SlottedCachedProperty_Type;

namespace {

// functools.cached_property's basic size, rounded up: set once at import,
// before any instance exists.
Py_ssize_t property_offset;

inline CachedPropertyFields* fields(PyObject* self) {
    return (CachedPropertyFields*)((char*)self + property_offset);
}

void drop_flight(Flight* f, int refs = 1) {
    f->refs -= refs;
    if (f->refs == 0) {
        f->~Flight();
        PyMem_Free(f);
    }
}

void unlink_flight(Flight* f) {
    for (Flight** link = &f->prop->flights; *link; link = &(*link)->next) {
        if (*link == f) {
            *link = f->next;
            break;
        }
    }
}

Flight* flight_of(FlightGate* gate) { return (Flight*)((char*)gate - offsetof(Flight, gate)); }

// Fork (flight_gate.hpp): the computing thread held the property (`keep` in
// property_get), so the list lives.
const FlightKind flight_kind = {
    [](FlightGate* gate) { unlink_flight(flight_of(gate)); },
    [](FlightGate* gate, int refs) { drop_flight(flight_of(gate), refs); },
};

Flight::Flight(void* owner, CachedPropertyFields* prop, Flight* next) noexcept
    : owner(owner), gate(&flight_kind), prop(prop), next(next) {}

bool is_slotted(PyObject* self) {
    PyTypeObject* tp = Py_TYPE(self);
    if (tp == SlottedCachedProperty_Type) return true;
    return tp != CachedProperty_Type && PyType_IsSubtype(tp, SlottedCachedProperty_Type);
}

// type(obj).__name__, as functools' messages name the owner.
PyObject* type_name(PyObject* obj) {
    PyTypeObject* tp = Py_TYPE(obj);
#if PY_VERSION_HEX >= 0x030B0000
    return PyType_GetName(tp);
#else
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) return Py_NewRef(((PyHeapTypeObject*)tp)->ht_name);
    const char* dot = strrchr(tp->tp_name, '.');
    return PyUnicode_FromString(dot ? dot + 1 : tp->tp_name);
#endif
}

PyObject* no_dict_error(PyObject* obj, PyObject* name, const char* hint) {
    Ref tname(type_name(obj));
    if (!tname) return nullptr;
    PyErr_Format(PyExc_TypeError, "No '__dict__' attribute on %R instance to cache %R property.%s", tname.get(), name,
                 hint);
    return nullptr;
}

// A class, through a property of its metaclass. Its __dict__ is the type's
// own namespace, behind the interpreter's type attribute cache: a value put
// there directly would leave stale (later freed) objects in that cache.
// functools refuses (the mappingproxy takes no item); so does this, before
// computing anything.
PyObject* class_owner_error(PyObject* obj, PyObject* name) {
    Ref tname(type_name(obj));
    if (!tname) return nullptr;
    PyErr_Format(PyExc_TypeError,
                 "The '__dict__' attribute on %R instance does not support item assignment for caching %R property.",
                 tname.get(), name);
    return nullptr;
}

// An owner whose class has no __dict__, no '__boundcache__' slot and no weak
// references: the slotted variant has nowhere to keep its value.
bool nowhere_to_store(PyObject* obj) {
    PyTypeObject* tp = Py_TYPE(obj);
    return !type_has_dict(tp) && !PyType_SUPPORTS_WEAKREFS(tp) && !_PyType_Lookup(tp, g.str_boundcache);
}

// The slotted variant's refusal: functools' message, then the fix that
// boundcache's method caches name for the same class.
PyObject* nowhere_to_store_error(PyObject* obj, PyObject* name) {
    Ref hint(storage_hint(Py_TYPE(obj)));
    Ref tname(hint ? type_name(obj) : nullptr);
    if (!tname) return nullptr;
    PyErr_Format(PyExc_TypeError, "No '__dict__' attribute on %R instance to cache %R property. %U", tname.get(), name,
                 hint.get());
    return nullptr;
}
// The stored value as a new reference; NULL without exception when absent.
PyObject* stored_value(PyObject* self, PyObject* obj, PyObject* name) {
    if (is_slotted(self)) {
        Ref c(find_instance_caches(obj));
        if (!c) return nullptr;
        PropertyValue* pv = find_property_value((InstanceCachesObject*)c.get(), name);
        return pv ? Py_NewRef(pv->value) : nullptr;
    }
    if (!type_has_dict(Py_TYPE(obj))) return no_dict_error(obj, name, "");
    Ref dict(PyObject_GenericGetDict(obj, nullptr));
    if (!dict) return nullptr;
    PyObject* v = PyDict_GetItemWithError(dict.get(), name);
    return Py_XNewRef(v);
}

int store_value(PyObject* self, PyObject* obj, PyObject* name, PyObject* value) {
    if (is_slotted(self)) {
        Ref c(instance_caches_for(obj));
        if (!c) return -1;
        return set_property_value((InstanceCachesObject*)c.get(), name, value);
    }
    Ref dict(PyObject_GenericGetDict(obj, nullptr));
    if (!dict) return -1;
    return PyDict_SetItem(dict.get(), name, value);
}

PyObject* compute(PyObject* self, PyObject* obj, PyObject* name, bool register_flight) {
    CachedPropertyFields* p = fields(self);
    Ref func = Ref::borrow(p->func);
    if (!func) {
        PyErr_SetString(PyExc_ReferenceError,
                        "this cached_property has no function: cleared by the garbage collector, or never "
                        "initialised");
        return nullptr;
    }
    // Refused before the function runs, as functools does.
    if (is_slotted(self) && nowhere_to_store(obj)) return nowhere_to_store_error(obj, name);
    Flight* f = nullptr;
    if (register_flight) {
        void* mem = PyMem_Malloc(sizeof(Flight));
        if (!mem) return PyErr_NoMemory();
        f = new (mem) Flight(obj, p, p->flights);
        p->flights = f;
    }
    Ref value(PyObject_CallOneArg(func.get(), obj));
    int stored = value ? store_value(self, obj, name, value.get()) : -1;
    if (f) {
        unlink_flight(f);
        f->gate.finish();
        drop_flight(f);
    }
    return stored == 0 ? value.release() : nullptr;
}

PyObject* attrname_or_error(PyObject* self) {
    PyObject* name = fields(self)->attrname;
    if (!name) {
        PyErr_SetString(PyExc_TypeError, "Cannot use cached_property instance without calling __set_name__ on it.");
        return nullptr;
    }
    return Py_NewRef(name);
}

}  // namespace

// The function is given to __init__, as functools' is, so that subclasses
// may take other arguments and call super().__init__(func).
static int property_init(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", nullptr};
    PyObject* func;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:cached_property", (char**)kwlist, &func)) return -1;
    CachedPropertyFields* p = fields(self);
    // A computation in progress holds its own references to both.
    Py_XSETREF(p->func, Py_NewRef(func));
    Py_CLEAR(p->attrname);
    // __doc__ and __module__ follow the function, as in functools.
    for (const char* name : {"__doc__", "__module__"}) {
        Ref v(get_optional_attr(func, name));
        if (!v && PyErr_Occurred()) return -1;
        if (v && PyObject_SetAttrString(self, name, v.get()) < 0) return -1;
    }
    return 0;
}

static PyObject* property_get(PyObject* self, PyObject* obj, PyObject*) {
    if (!obj || obj == Py_None) return Py_NewRef(self);
    CachedPropertyFields* p = fields(self);
    // Held for the whole read: the function may reinitialise the descriptor.
    Ref name(attrname_or_error(self));
    if (!name) return nullptr;
    if (PyType_Check(obj)) {
        // As functools: a value already in the class's own namespace is
        // returned (reachable only through a subclass defining __set__);
        // nothing is ever stored there.
        PyObject* ns = ((PyTypeObject*)obj)->tp_dict;  // NULL for static builtin types from 3.12
        PyObject* v = ns ? PyDict_GetItemWithError(ns, name.get()) : nullptr;
        if (v || PyErr_Occurred()) return Py_XNewRef(v);
        return class_owner_error(obj, name.get());
    }
    Ref keep = Ref::borrow(self);  // flights live in this object
    for (;;) {
        PyObject* v = stored_value(self, obj, name.get());
        if (v || PyErr_Occurred()) return v;
        Flight* f = p->flights;
        while (f && f->owner != obj) f = f->next;
        if (!f) return compute(self, obj, name.get(), true);
        if (f->gate.computing_here()) return compute(self, obj, name.get(), false);
        // No user code from the search to the wait: f is not orphaned (a
        // fork detaches orphans from the list), and a fork while waiting
        // leaves this thread behind.
        f->refs++;
        bool waited = f->gate.wait();
        drop_flight(f);
        if (!waited) return nullptr;
    }
}

// Assignment and deletion, for the slotted variant only.
static int property_set(PyObject* self, PyObject* obj, PyObject* value) {
    Ref name(attrname_or_error(self));
    if (!name) return -1;
    if (PyType_Check(obj)) {
        class_owner_error(obj, name.get());
        return -1;
    }
    if (value) {
        if (nowhere_to_store(obj)) {
            nowhere_to_store_error(obj, name.get());
            return -1;
        }
        Ref c(instance_caches_for(obj));
        if (!c) return -1;
        return set_property_value((InstanceCachesObject*)c.get(), name.get(), value);
    }
    Ref c(find_instance_caches(obj));
    if (!c && PyErr_Occurred()) return -1;
    if (!c || !remove_property_value((InstanceCachesObject*)c.get(), name.get())) {
        PyErr_SetObject(PyExc_AttributeError, name.get());
        return -1;
    }
    return 0;
}

// For a Python subclass of cached_property used on a class without
// __dict__: class(Sub, SlottedCachedProperty), named as Sub. Its instances
// are data descriptors, as the slotted variant must be, and Sub's own
// methods still come first. Made for each such use (class creation time).
static PyObject* slotted_subclass(PyTypeObject* sub) {
    Ref name(PyObject_GetAttrString((PyObject*)sub, "__name__"));
    Ref qualname(PyObject_GetAttrString((PyObject*)sub, "__qualname__"));
    Ref module(get_optional_attr((PyObject*)sub, "__module__"));
    if (!name || !qualname || (!module && PyErr_Occurred())) return nullptr;
    Ref ns(Py_BuildValue("{s:(),s:O}", "__slots__", "__qualname__", qualname.get()));
    if (!ns || (module && PyDict_SetItemString(ns.get(), "__module__", module.get()) < 0)) return nullptr;
    Ref bases(PyTuple_Pack(2, (PyObject*)sub, (PyObject*)SlottedCachedProperty_Type));
    if (!bases) return nullptr;
    return PyObject_CallFunctionObjArgs((PyObject*)&PyType_Type, name.get(), bases.get(), ns.get(), nullptr);
}

// No instance __dict__ to hold the value: keep it in the instance's
// container, with a data descriptor so that set and delete reach it.
static bool become_slotted(PyObject* self) {
    PyTypeObject* tp = Py_TYPE(self);
    if (tp == CachedProperty_Type) {
        // Same layout; __class__ assignment would refuse (immutable types).
        // The instance attributes (__doc__, __module__) must first be in a
        // dict of their own: 3.11 and 3.12 keep them as values laid out by
        // the type's shared keys, which the other type does not share (3.13+
        // would keep them inline, which make_type rules out).
        Ref dict(PyObject_GenericGetDict(self, nullptr));
        if (!dict) return false;
        // Both types live as long as the process (module globals), so the
        // instance's reference moves from one to the other.
        Py_SET_TYPE(self, (PyTypeObject*)Py_NewRef(SlottedCachedProperty_Type));
        Py_DECREF(tp);
        return true;
    }
    Ref slotted(slotted_subclass(tp));
    if (!slotted) return false;
    if (is_slotted(self)) return true;  // made so by the code that made the class
    // Checks that the layouts agree and moves the type references.
    Ref attr(PyUnicode_FromString("__class__"));
    return attr && PyObject_GenericSetAttr(self, attr.get(), slotted.get()) == 0;
}
#if PY_VERSION_HEX >= 0x030C0000
constexpr int object_ex_member = Py_T_OBJECT_EX;
constexpr int readonly_member = Py_READONLY;
#else
constexpr int object_ex_member = T_OBJECT_EX;
constexpr int readonly_member = READONLY;
#endif

// The type a twin of `self` of the other kind takes: for a slotted twin the
// slotted variant of self's type; for a plain one, the nearest class in
// self's MRO that is not slotted and has its layout. NULL without an
// exception if there is none (a class deriving from the slotted type alone).
static PyObject* twin_type(PyObject* self, bool slotted) {
    PyTypeObject* tp = Py_TYPE(self);
    if (slotted) return tp == CachedProperty_Type ? Py_NewRef((PyObject*)SlottedCachedProperty_Type) : slotted_subclass(tp);
    PyObject* mro = tp->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        auto* t = (PyTypeObject*)PyTuple_GET_ITEM(mro, i);
        if (PyType_IsSubtype(t, CachedProperty_Type) && !PyType_IsSubtype(t, SlottedCachedProperty_Type) &&
            t->tp_basicsize == tp->tp_basicsize)
            return Py_NewRef((PyObject*)t);
    }
    return nullptr;
}

// A copy of `self` of the other kind, for a class that needs that kind while
// `self` already serves a class of the first (contract 4: one object placed
// in a __dict__ class and in a __slots__ class behaves in each as it would
// alone). Its object members (func, attrname, a subclass's __slots__) and
// its __dict__ (__doc__, __module__) are copied; the types share a layout.
static PyObject* make_twin(PyObject* self, bool slotted) {
    Ref type(twin_type(self, slotted));
    if (!type) return nullptr;
    auto* tp = (PyTypeObject*)type.get();
    Ref twin(tp->tp_alloc(tp, 0));
    if (!twin) return nullptr;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tp->tp_mro); i++) {
        auto* t = (PyTypeObject*)PyTuple_GET_ITEM(tp->tp_mro, i);
        for (PyMemberDef* m = t->tp_members; m && m->name; m++) {
            if (m->type != object_ex_member || (m->flags & readonly_member)) continue;
            auto* from = (PyObject**)((char*)self + m->offset);
            auto* to = (PyObject**)((char*)twin.get() + m->offset);
            Py_XSETREF(*to, Py_XNewRef(*from));
        }
    }
    Ref dict(PyObject_GenericGetDict(self, nullptr));
    Ref copy(dict ? PyDict_Copy(dict.get()) : nullptr);
    if (!copy || PyObject_GenericSetDict(twin.get(), copy.get(), nullptr) < 0) return nullptr;
    return twin.release();
}

static PyObject* property_set_name(PyObject* self, PyObject* args) {
    PyObject *owner, *name;
    if (!PyArg_ParseTuple(args, "OO:__set_name__", &owner, &name)) return nullptr;
    CachedPropertyFields* p = fields(self);
    bool named = p->attrname != nullptr;
    if (named) {
        int same = PyObject_RichCompareBool(name, p->attrname, Py_EQ);
        if (same < 0) return nullptr;
        if (!same) {
            PyErr_Format(PyExc_TypeError,
                         "Cannot assign the same cached_property to two different names (%R and %R).",
                         p->attrname, name);
            return nullptr;
        }
    }
    bool needs_slotted = PyType_Check(owner) && !type_has_dict((PyTypeObject*)owner);
    // The slotted variant files values by name, compared as str (no user
    // code in that comparison); an instance __dict__ would take any key.
    if ((needs_slotted || is_slotted(self)) && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError,
                     "cached_property on a class without __dict__ needs a str attribute name, not %.100s",
                     Py_TYPE(name)->tp_name);
        return nullptr;
    }
    if (needs_slotted == is_slotted(self)) {
        if (!named) p->attrname = Py_NewRef(name);
        Py_RETURN_NONE;
    }
    if (!named && needs_slotted) {
        // Its first class: it becomes what that class needs.
        p->attrname = Py_NewRef(name);
        if (!become_slotted(self)) return nullptr;
        Py_RETURN_NONE;
    }
    // It already serves a class of the other kind, whose instances must keep
    // finding it as it is: this class gets a twin of the kind it needs,
    // through type's own setattro (no metaclass __setattr__). type_new calls
    // __set_name__ over a copy of the namespace, so replacing the entry is
    // safe there. A class deriving from the slotted type alone has no plain
    // twin: it stays shared, as before.
    Ref twin(make_twin(self, needs_slotted));
    if (!twin) {
        if (PyErr_Occurred()) return nullptr;
        if (!named) p->attrname = Py_NewRef(name);
        Py_RETURN_NONE;
    }
    if (!named) Py_XSETREF(fields(twin.get())->attrname, Py_NewRef(name));
    if (PyType_Type.tp_setattro(owner, name, twin.get()) < 0) return nullptr;
    Py_RETURN_NONE;
}

static PyObject* property_get_func(PyObject* self, void*) {
    CachedPropertyFields* p = fields(self);
    return Py_NewRef(p->func ? p->func : Py_None);
}

static PyObject* property_get_attrname(PyObject* self, void*) {
    CachedPropertyFields* p = fields(self);
    return Py_NewRef(p->attrname ? p->attrname : Py_None);
}

// Plain attributes in functools; subclasses may set them.
static int property_set_func(PyObject* self, PyObject* value, void*) {
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a cached_property's func");
        return -1;
    }
    Py_XSETREF(fields(self)->func, Py_NewRef(value));
    return 0;
}

static int property_set_attrname(PyObject* self, PyObject* value, void*) {
    if (value == Py_None) value = nullptr;  // None: not named yet
    if (value && is_slotted(self) && !PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "cached_property on a class without __dict__ needs a str attribute name, not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XSETREF(fields(self)->attrname, Py_XNewRef(value));
    return 0;
}

static PyMethodDef property_methods[] = {
    {"__set_name__", property_set_name, METH_VARARGS, nullptr},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

static PyGetSetDef property_getset[] = {
    {"func", property_get_func, property_set_func, "The function computing the value.", nullptr},
    {"attrname", property_get_attrname, property_set_attrname, "The attribute name, set by __set_name__.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};


// func and attrname as members, for subtype_dealloc/traverse/clear alone:
// their descriptors are taken out of the namespace once the type is made,
// so that the getsets above stay the attributes' only face. Not READONLY:
// subtype_clear and subtype_dealloc clear only writable object members.
// Offsets are filled in at import (property_offset).
static PyMemberDef property_members[] = {
    {"_boundcache_func", object_ex_member, 0, 0, nullptr},
    {"_boundcache_attrname", object_ex_member, 0, 0, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

static const char property_doc[] =
    "Compute an attribute once per instance and keep it; `del obj.attr` recomputes it.";

// Python classes may derive from either type (contract 4): they inherit
// tp_descr_get unless they define __get__, and subtype_dealloc/traverse/
// clear handle their part and this one alike.
static PyType_Slot property_slots[] = {
    {Py_tp_doc, (void*)property_doc},
    {Py_tp_new, (void*)PyType_GenericNew},
    {Py_tp_init, (void*)property_init},
    {Py_tp_descr_get, (void*)property_get},
    {Py_tp_methods, property_methods},
    {Py_tp_getset, property_getset},
    {Py_tp_members, property_members},
    {0, nullptr},
};

// A subclass of the above that adds assignment and deletion; everything
// else (new, init, get, the methods and attributes) it inherits. No members
// of its own: the base's cover the fields, one layout, so that
// become_slotted can switch.
static PyType_Slot slotted_property_slots[] = {
    {Py_tp_doc, (void*)property_doc},
    {Py_tp_descr_set, (void*)property_set},
    {0, nullptr},
};

// Not HAVE_GC: with neither the flag nor traverse/clear given, the GC flag
// and subtype_traverse/subtype_clear are inherited together from the base.
// Not IMMUTABLETYPE either: CPython refuses to make an immutable type over a
// mutable base (deprecated in 3.12, an error from 3.14); make_type sets it
// afterwards.
static PyType_Spec property_spec = {
    "functools.boundcache_cached_property", 0, 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, property_slots,
};

static PyType_Spec slotted_property_spec = {
    "functools.boundcache_SlottedCachedProperty", 0, 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    slotted_property_slots,
};

// The GC and teardown of the fields rest on the slots inherited from the
// Python base (see CachedPropertyFields), and on the heap type's member
// array, whose length is its Py_SIZE: refuse to run without them.
static bool check_inherited_slots(PyTypeObject* t, PyTypeObject* base, Py_ssize_t members) {
    if (t->tp_dealloc == base->tp_dealloc && t->tp_traverse == base->tp_traverse && t->tp_clear == base->tp_clear &&
        PyType_IS_GC(t) && Py_SIZE(t) == members)
        return true;
    PyErr_Format(PyExc_SystemError, "%s: unexpected layout over functools.cached_property", t->tp_name);
    return false;
}

static PyTypeObject* make_type(PyType_Spec* spec, PyTypeObject* base) {
    Ref bases(PyTuple_Pack(1, (PyObject*)base));
    if (!bases) return nullptr;
    auto* t = (PyTypeObject*)PyType_FromSpecWithBases(spec, bases.get());
    if (!t) return nullptr;
    // Immutable, as the static types they replace were (no attribute set on
    // them, no instance's __class__ reassigned), and for the reason CacheInfo
    // is (module.cpp): legacy subinterpreters share these types, and from
    // 3.12 only an immutable type takes its method-cache version tag from
    // the process-wide counter; a per-interpreter tag could be handed to an
    // unrelated class of another interpreter. The flag comes after creation,
    // which CPython's rule against mutable bases does not see: changes to
    // functools.cached_property still reach these types, since
    // PyType_Modified invalidates every subclass whatever its flags.
    t->tp_flags |= Py_TPFLAGS_IMMUTABLETYPE;
#ifdef Py_TPFLAGS_INLINE_VALUES
    // 3.14+ (and 3.13 for types without fields of their own) lays instance
    // attributes out after tp_basicsize, by the type's own shared keys: an
    // instance could not then change type in become_slotted. A managed dict
    // without inline values is what CPython itself gives the types whose
    // layout rules them out (variable-size ones, 3.13's subclasses with
    // slots).
    t->tp_flags &= ~Py_TPFLAGS_INLINE_VALUES;
#endif
    PyType_Modified(t);
    return t;
}

// Made once per process (module.cpp); the types then live as long as the
// process, in these globals, as the static types did.
bool init_cached_property_types() {
    Ref functools(PyImport_ImportModule("functools"));
    Ref base_obj(functools ? PyObject_GetAttrString(functools.get(), "cached_property") : nullptr);
    if (!base_obj) return false;
    auto* base = (PyTypeObject*)base_obj.get();
    if (!PyType_Check(base) || !(base->tp_flags & Py_TPFLAGS_HEAPTYPE) || base->tp_itemsize != 0) {
        PyErr_SetString(PyExc_SystemError, "functools.cached_property is not the Python class boundcache expects");
        return false;
    }
    constexpr Py_ssize_t align = alignof(CachedPropertyFields);
    property_offset = (base->tp_basicsize + align - 1) / align * align;
    property_members[0].offset = property_offset + offsetof(CachedPropertyFields, func);
    property_members[1].offset = property_offset + offsetof(CachedPropertyFields, attrname);
    property_spec.basicsize = (int)(property_offset + sizeof(CachedPropertyFields));

    Ref cp((PyObject*)make_type(&property_spec, base));
    if (!cp) return false;
    auto* cpt = (PyTypeObject*)cp.get();
    for (PyMemberDef* m = property_members; m->name; m++) {
        if (PyDict_DelItemString(cpt->tp_dict, m->name) < 0) return false;
    }
    PyType_Modified(cpt);
    Ref slotted((PyObject*)make_type(&slotted_property_spec, cpt));
    if (!slotted) return false;
    auto* st = (PyTypeObject*)slotted.get();
    if (!check_inherited_slots(cpt, base, 2) || !check_inherited_slots(st, base, 0)) return false;
    if (cpt->tp_basicsize != property_spec.basicsize || st->tp_basicsize != cpt->tp_basicsize) {
        PyErr_SetString(PyExc_SystemError, "boundcache cached_property: unexpected basic size");
        return false;
    }
    // A first lookup tags the types now, and with them any base without a
    // tag (functools.cached_property) from this interpreter's counter, whose
    // class it is, rather than from whichever interpreter looks first.
    Ref set_name(PyUnicode_InternFromString("__set_name__"));
    if (!set_name) return false;
    for (PyTypeObject* t : {cpt, st}) (void)_PyType_Lookup(t, set_name.get());
    CachedProperty_Type = (PyTypeObject*)cp.release();
    SlottedCachedProperty_Type = (PyTypeObject*)slotted.release();
    return true;
}

}  // namespace bc
