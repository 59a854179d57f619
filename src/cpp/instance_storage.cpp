// Per-owner storage (contract 3.5): one InstanceCaches container per owner,
// kept in the owner's __dict__ under "__boundcache__", or in a "__boundcache__"
// slot, or, for owners with neither that support weak references, in a
// module-level table keyed by identity and emptied by a weakref callback.
//
// The container holds only a weak reference to its owner, so an owner's
// refcount alone decides when it dies, and its caches die with it. A result that refers back
// to the owner makes a cycle through the owner's __dict__ or slot, which the
// cyclic GC collects as it would any attribute; only in the weak table does
// such a result keep its owner alive (the table is a root), as documented.
#include "compat.hpp"
#include "objects.hpp"

namespace bc {

// ---- the container type ----

static void init_fields(InstanceCachesObject* c, void* owner) {
    c->owner = owner;
    c->in_weak_table = false;
    c->caches = nullptr;
    c->n_props = c->cap_props = 0;
    c->props = nullptr;
}

// A container for `owner`, or for nobody (owner NULL: unpickled or copied).
static InstanceCachesObject* new_instance_caches(PyObject* owner) {
    InstanceCachesObject* c;
    if (owner && PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) {
        // weakref.ref's constructor links us into the owner's weakref list.
        // It takes its arguments as a tuple; one tuple serves every call
        // (it costs a fifth of the first call otherwise). It is not tracked
        // by the GC and holds borrowed references only until the
        // constructor has unpacked them, which it does before anything that
        // could run other code; a nested use (a finalizer run by the
        // allocation) finds it free again.
        PyObject* args = g.weakref_args;
        PyTuple_SET_ITEM(args, 0, owner);
        PyTuple_SET_ITEM(args, 1, g.owner_died);
        c = (InstanceCachesObject*)_PyWeakref_RefType.tp_new(&InstanceCaches_Type, args, nullptr);
        PyTuple_SET_ITEM(args, 0, nullptr);
        PyTuple_SET_ITEM(args, 1, nullptr);
    } else {
        // A weakref that is dead from birth (what weakref.ref makes of a
        // referent that died: wr_object is None, borrowed).
        c = (InstanceCachesObject*)PyType_GenericAlloc(&InstanceCaches_Type, 0);
        if (c) {
            c->weakref.wr_object = Py_None;
            c->weakref.hash = -1;
        }
    }
    if (c) init_fields(c, owner);
    return c;
}

// Detaches and frees every cache of the container. Statistics go to the
// wrappers first, and the container is empty before any reference is
// released, since releasing one can run code that reaches this container.
static void release_contents(InstanceCachesObject* c) {
    if (!c->caches && !c->props) return;  // e.g. emptied when its owner died
    MethodCache* caches = c->caches;
    PropertyValue* props = c->props;
    uint32_t n_props = c->n_props;
    c->caches = nullptr;
    c->props = nullptr;
    c->n_props = c->cap_props = 0;

    Graveyard graveyard;
    for (MethodCache* mc = caches; mc; mc = mc->next) {
        if (mc->wrapper) {
            retire_method_cache(mc);
            unlink_method_cache(mc);
        }
        mc->table.take_all(graveyard);
    }
    for (MethodCache* mc = caches; mc;) {
        MethodCache* next = mc->next;
        mc->~MethodCache();
        if ((void*)mc != (void*)c->first_cache) PyMem_Free(mc);
        mc = next;
    }
    for (uint32_t i = 0; i < n_props; i++) graveyard.bury(props[i].name, props[i].value);
    PyMem_Free(props);
    graveyard.release();
}

static int instance_caches_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* c = (InstanceCachesObject*)self;
    if (int r = _PyWeakref_RefType.tp_traverse(self, visit, arg)) return r;
    for (MethodCache* mc = c->caches; mc; mc = mc->next) {
        if (int r = mc->table.traverse(visit, arg)) return r;
    }
    for (uint32_t i = 0; i < c->n_props; i++) Py_VISIT(c->props[i].value);
    return 0;
}

static int instance_caches_clear(PyObject* self) {
    // Unlink from the owner first: no callback may reach a container whose
    // contents are being released.
    _PyWeakref_RefType.tp_clear(self);
    release_contents((InstanceCachesObject*)self);
    return 0;
}

static void instance_caches_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    instance_caches_clear(self);
    _PyWeakref_RefType.tp_dealloc(self);
}

// The weakref callback: the owner is dying. Empty the container now, even
// if something else (a shallow copy's __dict__) still holds it, and forget
// the owner's address.
static PyObject* owner_died(PyObject*, PyObject* ref) {
    if (!Py_IS_TYPE(ref, &InstanceCaches_Type)) Py_RETURN_NONE;
    Ref keep = Ref::borrow(ref);  // dropping it from the weak table may free it
    auto* c = (InstanceCachesObject*)ref;
    void* owner = c->owner;
    c->owner = nullptr;
    release_contents(c);
    if (c->in_weak_table) {
        c->in_weak_table = false;
        Ref key(PyLong_FromVoidPtr(owner));
        if (!key || PyDict_DelItem(g.weak_table, key.get()) < 0) return nullptr;
    }
    Py_RETURN_NONE;
}
static PyMethodDef owner_died_def = {"_owner_died", owner_died, METH_O, nullptr};

PyObject* make_owner_died_callback() { return PyCFunction_New(&owner_died_def, nullptr); }

static Py_hash_t instance_caches_hash(PyObject* self) { return hash_pointer(self); }

// Identity comparison, not weakref.ref's (which compares the referents).
static PyObject* instance_caches_richcompare(PyObject*, PyObject*, int) { Py_RETURN_NOTIMPLEMENTED; }

// Unpickling, copy.copy and copy.deepcopy give an empty container that
// belongs to nobody: the copied instance builds its own on first use
// (contract 3.4: a copy starts with an empty cache).
static PyObject* instance_caches_new(PyTypeObject*, PyObject* args, PyObject* kwds) {
    // Not weakref.ref's constructor: a container has no referent to give.
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "InstanceCaches() takes no arguments");
        return nullptr;
    }
    return (PyObject*)new_instance_caches(nullptr);
}

// weakref.ref.__init__ wants a referent; a container made by Python has none.
static int instance_caches_init(PyObject*, PyObject*, PyObject*) { return 0; }

static PyObject* instance_caches_reduce(PyObject* self, PyObject*) {
    return Py_BuildValue("(O())", (PyObject*)Py_TYPE(self));
}

static PyObject* instance_caches_copy(PyObject*, PyObject*) {
    return (PyObject*)new_instance_caches(nullptr);
}

static PyObject* instance_caches_repr(PyObject* self) {
    auto* c = (InstanceCachesObject*)self;
    Py_ssize_t entries = 0;
    unsigned methods = 0;
    for (MethodCache* mc = c->caches; mc; mc = mc->next, methods++) entries += mc->table.size();
    return PyUnicode_FromFormat("<boundcache caches: %u methods, %zd entries, %u properties>", methods,
                                entries, c->n_props);
}

// Introspection for audit(): [(wrapper, [(key, value), ...]), ...] and the
// owner when it is known to be alive (weak-table owners only).
static PyObject* instance_caches_contents(PyObject* self, PyObject*) {
    auto* c = (InstanceCachesObject*)self;
    // Take the wrappers first: building the rows can run finalizers that
    // empty this container.
    Ref wrappers(PyList_New(0));
    if (!wrappers) return nullptr;
    for (MethodCache* mc = c->caches; mc; mc = mc->next) {
        PyObject* w = (PyObject*)mc->wrapper;
        if (w && PyList_Append(wrappers.get(), w) < 0) return nullptr;  // no allocation runs code here
    }
    Ref out(PyList_New(0));
    if (!out) return nullptr;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(wrappers.get()); i++) {
        PyObject* wrapper = PyList_GET_ITEM(wrappers.get(), i);
        MethodCache* mc = find_method_cache(c, (CachedFunctionObject*)wrapper);
        if (!mc) continue;
        Ref items(table_items(mc->table));
        if (!items) return nullptr;
        Ref row(PyTuple_Pack(2, wrapper, items.get()));
        if (!row || PyList_Append(out.get(), row.get()) < 0) return nullptr;
    }
    return out.release();
}

// The owner, if this container is in the weak table and the owner lives.
static PyObject* instance_caches_get_owner(PyObject* self, void*) {
    auto* c = (InstanceCachesObject*)self;
    PyObject* o = c->weakref.wr_object;
    if (c->in_weak_table && o && o != Py_None && Py_REFCNT(o) > 0) return Py_NewRef(o);
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
    t.tp_base = &_PyWeakref_RefType;
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    t.tp_hash = instance_caches_hash;
    t.tp_richcompare = instance_caches_richcompare;
    t.tp_doc = "The caches boundcache keeps for one object (its __boundcache__ attribute).";
    t.tp_dealloc = instance_caches_dealloc;
    t.tp_traverse = instance_caches_traverse;
    t.tp_clear = instance_caches_clear;
    t.tp_new = instance_caches_new;
    t.tp_init = instance_caches_init;
    t.tp_repr = instance_caches_repr;
    t.tp_methods = instance_caches_methods;
    t.tp_getset = instance_caches_getset;
}

// ---- the weak table ----

PyObject* find_in_weak_table(PyObject* owner) {
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

// The container is already a weak reference to the owner, whose callback
// (owner_died) removes it from the table.
static PyObject* attach_weakly(PyObject* owner, InstanceCachesObject* c) {
    if (!PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) return no_storage_error(owner);
    Ref key(PyLong_FromVoidPtr(owner));
    if (!key) return nullptr;
    if (PyDict_SetItem(g.weak_table, key.get(), (PyObject*)c) < 0) return nullptr;
    c->in_weak_table = true;
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
    if (PyObject* found = find_instance_caches(owner)) return found;
    if (PyErr_Occurred()) return nullptr;
    return attach_instance_caches(owner);
}

PyObject* attach_instance_caches(PyObject* owner) {
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
    void* mem = c->caches ? PyMem_Malloc(sizeof(MethodCache)) : c->first_cache;
    if (!mem) {
        PyErr_NoMemory();
        return nullptr;
    }
    auto* mc = new (mem) MethodCache();
    mc->wrapper = wrapper;
    if (wrapper->options) configure_table(wrapper, mc->table);
    mc->table.prepare_small(wrapper->maxsize);
    link_method_cache(wrapper, mc);
    // The first cache stays at the head; later ones follow it, newest first.
    if (c->caches) {
        mc->next = c->caches->next;
        c->caches->next = mc;
    } else {
        c->caches = mc;
    }
    return mc;
}

// ---- cached_property values for owners without a __dict__ ----

PropertyValue* find_property_value(InstanceCachesObject* c, PyObject* name) {
    for (uint32_t i = 0; i < c->n_props; i++) {
        PyObject* n = c->props[i].name;
        if (n == name || PyUnicode_Compare(n, name) == 0) return &c->props[i];  // str: no user code
    }
    return nullptr;
}

int set_property_value(InstanceCachesObject* c, PyObject* name, PyObject* value) {
    if (PropertyValue* pv = find_property_value(c, name)) {
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
    c->props[c->n_props++] = PropertyValue{Py_NewRef(name), Py_NewRef(value)};
    return 0;
}

bool remove_property_value(InstanceCachesObject* c, PyObject* name) {
    PropertyValue* pv = find_property_value(c, name);
    if (!pv) return false;
    PropertyValue removed = *pv;
    *pv = c->props[--c->n_props];
    Py_DECREF(removed.name);
    Py_XDECREF(removed.value);
    return true;
}

}  // namespace bc
