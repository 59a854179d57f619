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

namespace {

struct Flight {
    Flight(void* owner, Flight* next) noexcept : owner(owner), next(next) {}
    void* owner;
    FlightGate gate;
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

void drop_flight(Flight* f) {
    if (--f->refs == 0) {
        f->~Flight();
        PyMem_Free(f);
    }
}

bool is_slotted(PyObject* self) { return Py_IS_TYPE(self, &SlottedCachedProperty_Type); }

// The stored value as a new reference; NULL without exception when absent.
PyObject* stored_value(CachedPropertyObject* p, PyObject* obj) {
    if (is_slotted((PyObject*)p)) {
        Ref c(find_instance_caches(obj));
        if (!c) return nullptr;
        PropertyValue* pv = find_property_value((InstanceCachesObject*)c.get(), p->attrname);
        return pv ? Py_NewRef(pv->value) : nullptr;
    }
    if (!type_has_dict(Py_TYPE(obj))) {
        PyErr_Format(PyExc_TypeError, "No '__dict__' attribute on %.200s instance to cache %R property.",
                     Py_TYPE(obj)->tp_name, p->attrname);
        return nullptr;
    }
    Ref dict(PyObject_GenericGetDict(obj, nullptr));
    if (!dict) return nullptr;
    PyObject* v = PyDict_GetItemWithError(dict.get(), p->attrname);
    return Py_XNewRef(v);
}

int store_value(CachedPropertyObject* p, PyObject* obj, PyObject* value) {
    if (is_slotted((PyObject*)p)) {
        Ref c(instance_caches_for(obj));
        if (!c) return -1;
        return set_property_value((InstanceCachesObject*)c.get(), p->attrname, value);
    }
    Ref dict(PyObject_GenericGetDict(obj, nullptr));
    if (!dict) return -1;
    return PyDict_SetItem(dict.get(), p->attrname, value);
}

PyObject* compute(CachedPropertyObject* p, PyObject* obj, bool register_flight) {
    Ref func = Ref::borrow(p->func);
    if (!func) {
        PyErr_SetString(PyExc_ReferenceError, "this cached_property has been cleared by the garbage collector");
        return nullptr;
    }
    Flight* f = nullptr;
    if (register_flight) {
        void* mem = PyMem_Malloc(sizeof(Flight));
        if (!mem) return PyErr_NoMemory();
        f = new (mem) Flight(obj, p->flights);
        p->flights = f;
    }
    Ref value(PyObject_CallOneArg(func.get(), obj));
    int stored = value ? store_value(p, obj, value.get()) : -1;
    if (f) {
        for (Flight** link = &p->flights; *link; link = &(*link)->next) {
            if (*link == f) {
                *link = f->next;
                break;
            }
        }
        f->gate.finish();
        drop_flight(f);
    }
    return stored == 0 ? value.release() : nullptr;
}

}  // namespace

static PyObject* property_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", nullptr};
    PyObject* func;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:cached_property", (char**)kwlist, &func)) return nullptr;
    auto* p = (CachedPropertyObject*)type->tp_alloc(type, 0);
    if (!p) return nullptr;
    Ref self((PyObject*)p);
    p->func = Py_NewRef(func);
    p->flights = nullptr;
    // __doc__ and __module__ follow the function, as in functools.
    for (const char* name : {"__doc__", "__module__"}) {
        Ref v(get_optional_attr(func, name));
        if (!v && PyErr_Occurred()) return nullptr;
        if (v && PyObject_SetAttrString(self.get(), name, v.get()) < 0) return nullptr;
    }
    return self.release();
}

static PyObject* property_get(PyObject* self, PyObject* obj, PyObject*) {
    if (!obj || obj == Py_None) return Py_NewRef(self);
    auto* p = (CachedPropertyObject*)self;
    if (!p->attrname) {
        PyErr_SetString(PyExc_TypeError, "Cannot use cached_property instance without calling __set_name__ on it.");
        return nullptr;
    }
    Ref keep = Ref::borrow(self);  // flights live in this object
    for (;;) {
        PyObject* v = stored_value(p, obj);
        if (v || PyErr_Occurred()) return v;
        Flight* f = p->flights;
        while (f && f->owner != obj) f = f->next;
        if (!f) return compute(p, obj, true);
        if (f->gate.computing_here()) return compute(p, obj, false);
        f->refs++;
        bool waited = f->gate.wait();
        drop_flight(f);
        if (!waited) return nullptr;
    }
}

// Assignment and deletion, for the slotted variant only.
static int property_set(PyObject* self, PyObject* obj, PyObject* value) {
    auto* p = (CachedPropertyObject*)self;
    if (!p->attrname) {
        PyErr_SetString(PyExc_TypeError, "Cannot use cached_property instance without calling __set_name__ on it.");
        return -1;
    }
    if (value) {
        Ref c(instance_caches_for(obj));
        if (!c) return -1;
        return set_property_value((InstanceCachesObject*)c.get(), p->attrname, value);
    }
    Ref c(find_instance_caches(obj));
    if (!c && PyErr_Occurred()) return -1;
    if (!c || !remove_property_value((InstanceCachesObject*)c.get(), p->attrname)) {
        PyErr_SetObject(PyExc_AttributeError, p->attrname ? p->attrname : Py_None);
        return -1;
    }
    return 0;
}

static PyObject* property_set_name(PyObject* self, PyObject* args) {
    PyObject *owner, *name;
    if (!PyArg_ParseTuple(args, "OO:__set_name__", &owner, &name)) return nullptr;
    auto* p = (CachedPropertyObject*)self;
    if (!p->attrname) {
        p->attrname = Py_NewRef(name);
    } else if (PyObject_RichCompareBool(name, p->attrname, Py_EQ) != 1) {
        if (PyErr_Occurred()) return nullptr;
        PyErr_Format(PyExc_TypeError, "Cannot assign the same cached_property to two different names (%R and %R).",
                     p->attrname, name);
        return nullptr;
    }
    // No instance __dict__ to hold the value: keep it in the instance's
    // container, with a data descriptor so that set and delete reach it.
    if (PyType_Check(owner) && !type_has_dict((PyTypeObject*)owner) && Py_IS_TYPE(self, &CachedProperty_Type))
        Py_SET_TYPE(self, &SlottedCachedProperty_Type);
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

static PyMethodDef property_methods[] = {
    {"__set_name__", property_set_name, METH_VARARGS, nullptr},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

static PyGetSetDef property_getset[] = {
    {"func", property_get_func, nullptr, "The function computing the value.", nullptr},
    {"attrname", property_get_attrname, nullptr, "The attribute name, set by __set_name__.", nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject CachedProperty_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.cached_property",
    sizeof(CachedPropertyObject),
};

PyTypeObject SlottedCachedProperty_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.SlottedCachedProperty",
    sizeof(CachedPropertyObject),
};

static void init_property_type(PyTypeObject& t) {
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    t.tp_doc = "Compute an attribute once per instance and keep it; `del obj.attr` recomputes it.";
    t.tp_dealloc = property_dealloc;
    t.tp_traverse = property_traverse;
    t.tp_clear = property_clear;
    t.tp_new = property_new;
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
