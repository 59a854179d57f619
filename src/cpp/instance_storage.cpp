// Per-owner storage (contract 3.5): one InstanceCaches container per owner,
// kept in the owner's __dict__ under "__boundcache__", or in a "__boundcache__"
// slot, or, for owners with neither that support weak references, in a
// module-level table keyed by identity and emptied by a weakref callback.
//
// The container holds no reference to its owner, so an owner's refcount alone
// decides when it dies, and its caches die with it. A result that refers back
// to the owner makes a cycle through the owner's __dict__ or slot, which the
// cyclic GC collects as it would any attribute; only in the weak table does
// such a result keep its owner alive (the table is a root), as documented.
#include "objects.hpp"

namespace bc {

// ---- the container type ----

static InstanceCachesObject* new_instance_caches(void* owner) {
    auto* c = PyObject_GC_New(InstanceCachesObject, &InstanceCaches_Type);
    if (!c) return nullptr;
    c->owner = owner;
    c->owner_weakref = nullptr;
    c->n_caches = 0;
    c->cap_caches = 2;
    c->caches = c->inline_caches;
    c->n_props = c->cap_props = 0;
    c->props = nullptr;
    PyObject_GC_Track(c);
    return c;
}

// Detaches and frees every cache of the container. Statistics go to the
// wrappers first, and the container is empty before any reference is
// released, since releasing one can run code that reaches this container.
static void release_contents(InstanceCachesObject* c) {
    MethodCache* inline_copy[2] = {c->inline_caches[0], c->inline_caches[1]};
    MethodCache** caches = c->caches == c->inline_caches ? inline_copy : c->caches;
    uint32_t n_caches = c->n_caches;
    PropertyValue* props = c->props;
    uint32_t n_props = c->n_props;
    c->caches = c->inline_caches;
    c->n_caches = 0;
    c->cap_caches = 2;
    c->props = nullptr;
    c->n_props = c->cap_props = 0;

    Graveyard graveyard;
    for (uint32_t i = 0; i < n_caches; i++) {
        MethodCache* mc = caches[i];
        retire_method_cache(mc);
        unlink_method_cache(mc);
        mc->table.take_all(graveyard);
    }
    graveyard.release();
    for (uint32_t i = 0; i < n_caches; i++) {
        MethodCache* mc = caches[i];
        PyObject* wrapper = (PyObject*)mc->wrapper;
        mc->~MethodCache();
        if ((void*)mc != (void*)c->first_cache) PyMem_Free(mc);
        Py_DECREF(wrapper);
    }
    if (caches != inline_copy) PyMem_Free(caches);
    for (uint32_t i = 0; i < n_props; i++) {
        Py_DECREF(props[i].descr);
        Py_XDECREF(props[i].value);
    }
    PyMem_Free(props);
}

static int instance_caches_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* c = (InstanceCachesObject*)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(c->owner_weakref);
    for (uint32_t i = 0; i < c->n_caches; i++) {
        Py_VISIT((PyObject*)c->caches[i]->wrapper);
        if (int r = c->caches[i]->table.traverse(visit, arg)) return r;
    }
    for (uint32_t i = 0; i < c->n_props; i++) {
        Py_VISIT(c->props[i].descr);
        Py_VISIT(c->props[i].value);
    }
    return 0;
}

static int instance_caches_clear(PyObject* self) {
    auto* c = (InstanceCachesObject*)self;
    release_contents(c);
    Py_CLEAR(c->owner_weakref);
    return 0;
}

static void instance_caches_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    instance_caches_clear(self);
    Py_TYPE(self)->tp_free(self);
}

// Unpickling, copy.copy and copy.deepcopy give an empty container that
// belongs to nobody: the copied instance builds its own on first use
// (contract 3.4: a copy starts with an empty cache).
static PyObject* instance_caches_new(PyTypeObject*, PyObject* args, PyObject* kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "InstanceCaches() takes no arguments");
        return nullptr;
    }
    return (PyObject*)new_instance_caches(nullptr);
}

static PyObject* instance_caches_reduce(PyObject* self, PyObject*) {
    return Py_BuildValue("(O())", (PyObject*)Py_TYPE(self));
}

static PyObject* instance_caches_copy(PyObject*, PyObject*) {
    return (PyObject*)new_instance_caches(nullptr);
}

static PyObject* instance_caches_repr(PyObject* self) {
    auto* c = (InstanceCachesObject*)self;
    Py_ssize_t entries = 0;
    for (uint32_t i = 0; i < c->n_caches; i++) entries += c->caches[i]->table.size();
    return PyUnicode_FromFormat("<boundcache caches: %u methods, %zd entries, %u properties>", c->n_caches,
                                entries, c->n_props);
}

// Introspection for audit(): [(wrapper, [(key, value), ...]), ...] and the
// owner when it is known to be alive (weak-table owners only).
static PyObject* instance_caches_contents(PyObject* self, PyObject*) {
    auto* c = (InstanceCachesObject*)self;
    Ref out(PyList_New(0));
    if (!out) return nullptr;
    for (uint32_t i = 0; i < c->n_caches; i++) {
        MethodCache* mc = c->caches[i];
        Ref items(PyList_New(0));
        if (!items) return nullptr;
        bool failed = false;
        mc->table.for_each([&](PyObject* k, PyObject* v) {
            if (failed) return;
            Ref pair(PyTuple_Pack(2, k, v));
            if (!pair || PyList_Append(items.get(), pair.get()) < 0) failed = true;
        });
        if (failed) return nullptr;
        Ref row(PyTuple_Pack(2, (PyObject*)mc->wrapper, items.get()));
        if (!row || PyList_Append(out.get(), row.get()) < 0) return nullptr;
    }
    return out.release();
}

static PyObject* instance_caches_get_owner(PyObject* self, void*) {
    auto* c = (InstanceCachesObject*)self;
    if (c->owner_weakref) {
#if PY_VERSION_HEX >= 0x030D0000
        PyObject* o;
        if (PyWeakref_GetRef(c->owner_weakref, &o) < 0) return nullptr;
        if (o) return o;
#else
        PyObject* o = PyWeakref_GetObject(c->owner_weakref);  // borrowed
        if (o != Py_None) return Py_NewRef(o);
#endif
    }
    Py_RETURN_NONE;
}

static PyMethodDef instance_caches_methods[] = {
    {"__reduce__", instance_caches_reduce, METH_NOARGS, nullptr},
    {"__copy__", instance_caches_copy, METH_NOARGS, nullptr},
    {"__deepcopy__", instance_caches_copy, METH_O, nullptr},
    {"_contents", instance_caches_contents, METH_NOARGS,
     "[(wrapper, [(key, value), ...]), ...] for every cached method of this owner."},
    {nullptr, nullptr, 0, nullptr},
};

static PyGetSetDef instance_caches_getset[] = {
    {"_weak_owner", instance_caches_get_owner, nullptr,
     "The owner, for containers kept in the weak table; else None.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject InstanceCaches_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "boundcache._core.InstanceCaches",  // tp_name
    sizeof(InstanceCachesObject),       // tp_basicsize
};

void init_instance_caches_type() {
    PyTypeObject& t = InstanceCaches_Type;
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    t.tp_doc = "The caches boundcache keeps for one object (its __boundcache__ attribute).";
    t.tp_dealloc = instance_caches_dealloc;
    t.tp_traverse = instance_caches_traverse;
    t.tp_clear = instance_caches_clear;
    t.tp_new = instance_caches_new;
    t.tp_repr = instance_caches_repr;
    t.tp_methods = instance_caches_methods;
    t.tp_getset = instance_caches_getset;
}

// ---- the weak table ----

// Weakref callback: drops the dead owner's container. Its `self` is the
// table key (the owner's id), so the callback references nothing that could
// form a cycle with the container.
static PyObject* weak_table_forget(PyObject* key, PyObject* /*weakref*/) {
    if (g.weak_table && PyDict_DelItem(g.weak_table, key) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) return nullptr;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}
static PyMethodDef weak_table_forget_def = {"_forget", weak_table_forget, METH_O, nullptr};

PyObject* find_instance_caches_slow(PyObject* owner) {
    // Only owners that could store it nowhere else are in the weak table.
    if (type_has_dict(Py_TYPE(owner)) && !PyType_Check(owner)) return nullptr;
    if (!g.weak_table || PyDict_GET_SIZE(g.weak_table) == 0) return nullptr;
    Ref key(PyLong_FromVoidPtr(owner));
    if (!key) return nullptr;
    PyObject* c = PyDict_GetItemWithError(g.weak_table, key.get());  // borrowed
    if (!c) return nullptr;
    if (((InstanceCachesObject*)c)->owner != owner) return nullptr;
    return Py_NewRef(c);
}

static PyObject* no_storage_error(PyObject* owner) {
    PyTypeObject* tp = Py_TYPE(owner);
    PyErr_Format(PyExc_TypeError,
                 "boundcache cannot cache methods of %.200s instances: they have no __dict__, no "
                 "'__boundcache__' slot and no '__weakref__' slot. Add '__boundcache__' (or "
                 "'__weakref__') to %.200s.__slots__.",
                 tp->tp_name, tp->tp_name);
    return nullptr;
}

static PyObject* attach_weakly(PyObject* owner, InstanceCachesObject* c) {
    if (!PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) return no_storage_error(owner);
    Ref key(PyLong_FromVoidPtr(owner));
    if (!key) return nullptr;
    Ref callback(PyCFunction_New(&weak_table_forget_def, key.get()));
    if (!callback) return nullptr;
    PyObject* wr = PyWeakref_NewRef(owner, callback.get());
    if (!wr) return nullptr;
    c->owner_weakref = wr;
    if (PyDict_SetItem(g.weak_table, key.get(), (PyObject*)c) < 0) return nullptr;
    return Py_NewRef((PyObject*)c);
}

// Stores `c` as the owner's __boundcache__ without running the owner's
// __setattr__ (frozen dataclasses): generic attribute assignment reaches a
// __boundcache__ slot or the instance __dict__ (inline values stay inline).
// Returns 1 if stored, 0 if the owner has neither, -1 on error.
static int attach_directly(PyObject* owner, PyObject* c) {
    int r;
    if (PyType_Check(owner)) {
        // A class (a cached classmethod): its own namespace, unless that
        // name already holds the "__boundcache__" slot of its instances.
        PyObject* own = ((PyTypeObject*)owner)->tp_dict;
        PyObject* present = own ? PyDict_GetItemWithError(own, g.str_boundcache) : nullptr;
        if (present && !Py_IS_TYPE(present, &InstanceCaches_Type)) return 0;
        if (PyErr_Occurred()) return -1;
        r = PyType_Type.tp_setattro(owner, g.str_boundcache, c);
    } else {
        r = PyObject_GenericSetAttr(owner, g.str_boundcache, c);
    }
    if (r == 0) return 1;
    if (PyErr_ExceptionMatches(PyExc_AttributeError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

PyObject* instance_caches_for(PyObject* owner) {
    if (PyObject* found = find_instance_caches_slow(owner)) return found;
    if (PyErr_Occurred()) return nullptr;
    // Allocating may run the GC, and a finalizer may then call into this
    // owner's cache and attach a container of its own. Ours replaces it: the
    // only loss is that cache's entries (its statistics go to the wrapper's
    // sums when it dies), never a wrong result.
    Ref c((PyObject*)new_instance_caches(owner));
    if (!c) return nullptr;
    int r = attach_directly(owner, c.get());
    if (r < 0) return nullptr;
    if (r > 0) return c.release();
    return attach_weakly(owner, (InstanceCachesObject*)c.get());
}

MethodCache* method_cache_in(InstanceCachesObject* c, CachedFunctionObject* wrapper) {
    if (c->n_caches == c->cap_caches) {
        uint32_t cap = 2 * c->cap_caches;
        bool was_inline = c->caches == c->inline_caches;
        auto* grown = (MethodCache**)PyMem_Realloc(was_inline ? nullptr : c->caches, cap * sizeof(MethodCache*));
        if (!grown) {
            PyErr_NoMemory();
            return nullptr;
        }
        if (was_inline) std::memcpy(grown, c->inline_caches, sizeof c->inline_caches);
        c->caches = grown;
        c->cap_caches = cap;
    }
    void* mem = c->n_caches == 0 ? c->first_cache : PyMem_Malloc(sizeof(MethodCache));
    if (!mem) {
        PyErr_NoMemory();
        return nullptr;
    }
    auto* mc = new (mem) MethodCache();
    mc->wrapper = (CachedFunctionObject*)Py_NewRef((PyObject*)wrapper);
    link_method_cache(wrapper, mc);
    c->caches[c->n_caches++] = mc;
    return mc;
}

// ---- cached_property values for owners without a __dict__ ----

PropertyValue* find_property_value(InstanceCachesObject* c, PyObject* descr) {
    for (uint32_t i = 0; i < c->n_props; i++)
        if (c->props[i].descr == descr) return &c->props[i];
    return nullptr;
}

int set_property_value(InstanceCachesObject* c, PyObject* descr, PyObject* value) {
    if (PropertyValue* pv = find_property_value(c, descr)) {
        PyObject* old = pv->value;
        pv->value = Py_NewRef(value);
        Py_XDECREF(old);
        return 0;
    }
    if (c->n_props == c->cap_props) {
        uint32_t cap = c->cap_props ? 2 * c->cap_props : 2;
        auto* grown = (PropertyValue*)PyMem_Realloc(c->props, cap * sizeof(PropertyValue));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        c->props = grown;
        c->cap_props = cap;
    }
    c->props[c->n_props++] = PropertyValue{Py_NewRef(descr), Py_NewRef(value)};
    return 0;
}

bool remove_property_value(InstanceCachesObject* c, PyObject* descr) {
    PropertyValue* pv = find_property_value(c, descr);
    if (!pv) return false;
    PropertyValue removed = *pv;
    *pv = c->props[--c->n_props];
    Py_DECREF(removed.descr);
    Py_XDECREF(removed.value);
    return true;
}

}  // namespace bc
