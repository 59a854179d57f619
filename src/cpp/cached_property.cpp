// cached_property: as functools.cached_property (the value is computed once
// per instance and stored in the instance __dict__ under the attribute's
// name, so later reads are plain attribute lookups; `del obj.attr`
// recomputes), and also for classes without a __dict__: there the value
// lives in the instance's __boundcache__ container, and the descriptor
// becomes a data descriptor (SlottedCachedProperty) so that assignment and
// deletion reach it.
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

namespace bc {

struct CachedPropertyObject;

namespace {

struct Flight {
    Flight(void* owner, CachedPropertyObject* prop, Flight* next) noexcept;
    void* owner;
    FlightGate gate;
    CachedPropertyObject* prop;  // whose `flights` list this is in; alive while the flight is
    int refs = 1;  // the computing thread and every waiter
    Flight* next;
};

}  // namespace

struct CachedPropertyObject {
    PyObject_HEAD
    PyObject* func;
    PyObject* attrname;
    PyObject* dict;
    Flight* flights;
};

namespace {

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

Flight::Flight(void* owner, CachedPropertyObject* prop, Flight* next) noexcept
    : owner(owner), gate(&flight_kind), prop(prop), next(next) {}

bool is_slotted(PyObject* self) {
    PyTypeObject* tp = Py_TYPE(self);
    if (tp == &SlottedCachedProperty_Type) return true;
    return tp != &CachedProperty_Type && PyType_IsSubtype(tp, &SlottedCachedProperty_Type);
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

PyObject* compute(CachedPropertyObject* p, PyObject* obj, PyObject* name, bool register_flight) {
    Ref func = Ref::borrow(p->func);
    if (!func) {
        PyErr_SetString(PyExc_ReferenceError,
                        "this cached_property has no function: cleared by the garbage collector, or never "
                        "initialised");
        return nullptr;
    }
    // Refused before the function runs, as functools does.
    if (is_slotted((PyObject*)p) && nowhere_to_store(obj)) return nowhere_to_store_error(obj, name);
    Flight* f = nullptr;
    if (register_flight) {
        void* mem = PyMem_Malloc(sizeof(Flight));
        if (!mem) return PyErr_NoMemory();
        f = new (mem) Flight(obj, p, p->flights);
        p->flights = f;
    }
    Ref value(PyObject_CallOneArg(func.get(), obj));
    int stored = value ? store_value((PyObject*)p, obj, name, value.get()) : -1;
    if (f) {
        unlink_flight(f);
        f->gate.finish();
        drop_flight(f);
    }
    return stored == 0 ? value.release() : nullptr;
}

PyObject* attrname_or_error(PyObject* self) {
    PyObject* name = ((CachedPropertyObject*)self)->attrname;
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
    auto* p = (CachedPropertyObject*)self;
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
    auto* p = (CachedPropertyObject*)self;
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
        if (!f) return compute(p, obj, name.get(), true);
        if (f->gate.computing_here()) return compute(p, obj, name.get(), false);
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
    Ref bases(PyTuple_Pack(2, (PyObject*)sub, (PyObject*)&SlottedCachedProperty_Type));
    if (!bases) return nullptr;
    return PyObject_CallFunctionObjArgs((PyObject*)&PyType_Type, name.get(), bases.get(), ns.get(), nullptr);
}

// No instance __dict__ to hold the value: keep it in the instance's
// container, with a data descriptor so that set and delete reach it.
static bool become_slotted(PyObject* self) {
    PyTypeObject* tp = Py_TYPE(self);
    if (tp == &CachedProperty_Type) {
        Py_SET_TYPE(self, &SlottedCachedProperty_Type);  // static types, same layout
        return true;
    }
    Ref slotted(slotted_subclass(tp));
    if (!slotted) return false;
    if (is_slotted(self)) return true;  // made so by the code that made the class
    // Checks that the layouts agree and moves the type references.
    Ref attr(PyUnicode_FromString("__class__"));
    return attr && PyObject_GenericSetAttr(self, attr.get(), slotted.get()) == 0;
}
static PyObject* property_set_name(PyObject* self, PyObject* args) {
    PyObject *owner, *name;
    if (!PyArg_ParseTuple(args, "OO:__set_name__", &owner, &name)) return nullptr;
    auto* p = (CachedPropertyObject*)self;
    if (p->attrname) {
        int same = PyObject_RichCompareBool(name, p->attrname, Py_EQ);
        if (same < 0) return nullptr;
        if (!same) {
            PyErr_Format(PyExc_TypeError,
                         "Cannot assign the same cached_property to two different names (%R and %R).",
                         p->attrname, name);
            return nullptr;
        }
    }
    bool slotted = is_slotted(self) || (PyType_Check(owner) && !type_has_dict((PyTypeObject*)owner));
    // The slotted variant files values by name, compared as str (no user
    // code in that comparison); an instance __dict__ would take any key.
    if (slotted && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError,
                     "cached_property on a class without __dict__ needs a str attribute name, not %.100s",
                     Py_TYPE(name)->tp_name);
        return nullptr;
    }
    if (!p->attrname) p->attrname = Py_NewRef(name);
    if (slotted && !is_slotted(self) && !become_slotted(self)) return nullptr;
    Py_RETURN_NONE;
}

static int property_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* p = (CachedPropertyObject*)self;
    Py_VISIT(p->func);
    Py_VISIT(p->attrname);
    Py_VISIT(p->dict);
    return 0;
}

static int property_clear(PyObject* self) {
    auto* p = (CachedPropertyObject*)self;
    Py_CLEAR(p->func);
    Py_CLEAR(p->attrname);
    Py_CLEAR(p->dict);
    return 0;
}

// A computation in progress holds the property (property_get), so no flight
// is left here. Python subclasses come here from subtype_dealloc, which has
// untracked the object and drops the heap type's reference itself.
// Releasing the function and the name runs user code (finalizers, a
// closure's __del__); the property is untracked at refcount 0 and holds no
// values (they live on the instances), so that code cannot reach it.
static void property_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    property_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyObject* property_get_func(PyObject* self, void*) {
    auto* p = (CachedPropertyObject*)self;
    return Py_NewRef(p->func ? p->func : Py_None);
}

static PyObject* property_get_attrname(PyObject* self, void*) {
    auto* p = (CachedPropertyObject*)self;
    return Py_NewRef(p->attrname ? p->attrname : Py_None);
}

// Plain attributes in functools; subclasses may set them.
static int property_set_func(PyObject* self, PyObject* value, void*) {
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a cached_property's func");
        return -1;
    }
    Py_XSETREF(((CachedPropertyObject*)self)->func, Py_NewRef(value));
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
    Py_XSETREF(((CachedPropertyObject*)self)->attrname, Py_XNewRef(value));
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
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject CachedProperty_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.boundcache_cached_property",
    sizeof(CachedPropertyObject),
};

PyTypeObject SlottedCachedProperty_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.boundcache_SlottedCachedProperty",
    sizeof(CachedPropertyObject),
};

static void init_property_type(PyTypeObject& t) {
    // Subclasses: Python classes may derive from either (contract 4). They
    // inherit tp_descr_get unless they define __get__; their instances keep
    // this layout (a subclass adds at most __weakref__ and its own slots),
    // and subtype_dealloc/traverse/clear run the functions below after their
    // own part.
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE;
    t.tp_doc = "Compute an attribute once per instance and keep it; `del obj.attr` recomputes it.";
    t.tp_dealloc = property_dealloc;
    t.tp_traverse = property_traverse;
    t.tp_clear = property_clear;
    t.tp_new = PyType_GenericNew;
    t.tp_init = property_init;
    t.tp_descr_get = property_get;
    t.tp_dictoffset = offsetof(CachedPropertyObject, dict);
    t.tp_methods = property_methods;
    t.tp_getset = property_getset;
}

void init_cached_property_types() {
    init_property_type(CachedProperty_Type);
    init_property_type(SlottedCachedProperty_Type);
    SlottedCachedProperty_Type.tp_descr_set = property_set;
    SlottedCachedProperty_Type.tp_base = &CachedProperty_Type;
}

}  // namespace bc
