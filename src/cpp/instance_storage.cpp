// Per-owner storage (contract 3.5): one InstanceCaches container per owner,
// kept in the owner's __dict__ under "__boundcache__", or in a "__boundcache__"
// slot, or, for owners with neither that support weak references, in a
// process-wide table keyed by identity and emptied by a weakref callback. That
// table is a C++ map, not a Python object: user code cannot reach it (a dict
// was found by gc.get_referrers of a container and filled with other
// objects, which lookups then took for containers).
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
    c->owner_dict = nullptr;
    c->linked = false;
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
    if (c) {
        bool linked = c->weakref.wr_object != Py_None;
        init_fields(c, owner);
        c->linked = linked;
    }
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

// The GC clears a container that is cyclic garbage (with its owner, or in a
// shallow copy's dict). Unlinking it from its owner first means the
// weakref callback can no longer reach it; releasing its contents then
// runs user code (finalizers of keys and results), which may still reach
// the container (it is alive) but finds it empty and consistent.
static int instance_caches_clear(PyObject* self) {
    _PyWeakref_RefType.tp_clear(self);
    release_contents((InstanceCachesObject*)self);
    return 0;
}

// A container dying by reference count: no dict, slot or weak-table entry
// holds it any more (the weak table holds a reference), it is untracked, and
// a container cannot itself be weakly referenced, so user code has no path
// to it. tp_clear unlinks it from its owner's weakref list (runs no code:
// the callback is owner_died, which lives for ever) before the contents are
// released, which runs the finalizers of keys and results.
static void instance_caches_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    instance_caches_clear(self);
    _PyWeakref_RefType.tp_dealloc(self);
}

// ---- the weak table ----

// Owner address -> container (a strong reference), for owners with neither
// __dict__ nor __boundcache__ slot, and for classes whose own dict must not
// hold their cache (a cached classmethod on a class that inherits a
// __boundcache__ slot). A root, as a module-level dict was: an owner kept
// here is freed when it dies (owner_died removes its container), but a
// cached result that refers back to it keeps it alive (documented).
//
// Linear probing with backward-shift deletion, memory from PyMem. No
// operation runs user code: callers release the containers they remove or
// replace after the table is consistent again.
class WeakTable {
public:
    size_t size() const noexcept { return used_; }

    PyObject* get(const void* key) const noexcept {  // borrowed
        if (!used_) return nullptr;
        for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
            if (slots_[i].key == key) return slots_[i].value;
            if (!slots_[i].key) return nullptr;
        }
    }

    // Stores a new reference to `value` under `key`; the value it replaces,
    // if any, is returned for the caller to release. -1 on memory error.
    int put(void* key, PyObject* value, PyObject** replaced) noexcept {
        *replaced = nullptr;
        if (2 * (used_ + 1) > capacity() && !grow()) return -1;
        size_t i = slot_of(key);
        while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask_;
        if (slots_[i].key) {
            *replaced = slots_[i].value;
        } else {
            slots_[i].key = key;
            used_++;
        }
        slots_[i].value = Py_NewRef(value);
        return 0;
    }

    // Removes `key` if it maps to `value`; returns the table's reference to
    // it (for the caller to release), or NULL.
    PyObject* take(const void* key, PyObject* value) noexcept {
        if (!used_) return nullptr;
        size_t i = slot_of(key);
        while (slots_[i].key != key) {
            if (!slots_[i].key) return nullptr;
            i = (i + 1) & mask_;
        }
        if (slots_[i].value != value) return nullptr;
        PyObject* out = slots_[i].value;
        // Backward-shift deletion: later entries of the run move up into
        // the hole when their home slot allows it.
        size_t hole = i;
        for (size_t j = (i + 1) & mask_; slots_[j].key; j = (j + 1) & mask_) {
            size_t home = slot_of(slots_[j].key);
            if (((j - home) & mask_) >= ((j - hole) & mask_)) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole] = Slot{};
        used_--;
        return out;
    }

    // New references to every container, into `out` (PyMem, `size()`
    // long); allocates nothing the GC could run code from.
    void copy_values(PyObject** out) const noexcept {
        for (size_t i = 0, n = 0; i < capacity(); i++)
            if (slots_[i].key) out[n++] = Py_NewRef(slots_[i].value);
    }

private:
    struct Slot {
        const void* key;
        PyObject* value;
    };
    size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }
    size_t slot_of(const void* key) const noexcept {
        uint64_t x = (uint64_t)(uintptr_t)key;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return (size_t)x & mask_;
    }
    bool grow() noexcept {
        size_t cap = capacity() ? 2 * capacity() : 16;
        auto* fresh = (Slot*)PyMem_Calloc(cap, sizeof(Slot));
        if (!fresh) {
            PyErr_NoMemory();
            return false;
        }
        Slot* old = slots_;
        size_t old_cap = capacity();
        slots_ = fresh;
        mask_ = cap - 1;
        for (size_t i = 0; i < old_cap; i++) {
            if (!old[i].key) continue;
            size_t j = slot_of(old[i].key);
            while (slots_[j].key) j = (j + 1) & mask_;
            slots_[j] = old[i];
        }
        PyMem_Free(old);
        return true;
    }
    Slot* slots_ = nullptr;
    size_t mask_ = 0;
    size_t used_ = 0;
};

static WeakTable weak_table;

// The weakref callback. CPython calls it once the owner is dying, after
// clearing the weak reference (wr_object is None then), from the owner's
// dealloc or from the GC; it empties the container now, even if something
// else (a shallow copy's __dict__) still holds it, and forgets the owner's
// address. Anyone can also call it by hand (container.__callback__), with
// any argument, at any time, even during a call that is using the
// container's caches: so it acts only on a container that weakref.ref's
// constructor linked to an owner and whose reference has been cleared since,
// which happens once, when that owner dies. A call in progress holds its
// owner, so the caches a call uses are never freed here.
//
// User code runs when the contents are released (finalizers): it may reach
// the container (a copy's dict, gc.get_objects()), but finds it empty and
// belonging to nobody, so no lookup uses it again.
static PyObject* owner_died(PyObject*, PyObject* ref) {
    if (!Py_IS_TYPE(ref, &InstanceCaches_Type)) Py_RETURN_NONE;
    auto* c = (InstanceCachesObject*)ref;
    if (!c->linked || c->weakref.wr_object != Py_None || !c->owner) Py_RETURN_NONE;
    Ref keep = Ref::borrow(ref);  // dropping it from the weak table may free it
    void* owner = c->owner;
    c->owner = nullptr;
    if (c->in_weak_table) {
        c->in_weak_table = false;
        Ref taken(weak_table.take(owner, ref));
    }
    release_contents(c);
    Py_RETURN_NONE;
}
static PyMethodDef owner_died_def = {"_owner_died", owner_died, METH_O, nullptr};

PyObject* make_owner_died_callback() { return PyCFunction_New(&owner_died_def, nullptr); }

// _core._weak_table_containers(): the containers in the weak table, for
// audit() and tests (a new list; the table itself is not a Python object).
PyObject* weak_table_containers(PyObject*, PyObject*) {
    size_t n = weak_table.size();
    PyObject** items = n ? (PyObject**)PyMem_Malloc(n * sizeof(PyObject*)) : nullptr;
    if (n && !items) return PyErr_NoMemory();
    weak_table.copy_values(items);
    // PyList_New may run the GC, and finalizers may change the table: the
    // copy above holds its own references.
    PyObject* out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) {
        if (out) {
            PyList_SET_ITEM(out, (Py_ssize_t)i, items[i]);
        } else {
            Py_DECREF(items[i]);
        }
    }
    PyMem_Free(items);
    return out;
}

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

// Introspection for audit(): [(name, value), ...], the cached_property
// values kept here (owners without a __dict__).
static PyObject* instance_caches_properties(PyObject* self, PyObject*) {
    auto* c = (InstanceCachesObject*)self;
    Ref out(PyList_New(0));
    if (!out) return nullptr;
    // Allocating a pair may run the GC and a finalizer that changes this
    // container: hold the pair's items first, and read n_props and props
    // afresh at every step.
    for (uint32_t i = 0; i < c->n_props; i++) {
        Ref name = Ref::borrow(c->props[i].name);
        Ref value = Ref::borrow(c->props[i].value ? c->props[i].value : Py_None);
        Ref pair(PyTuple_Pack(2, name.get(), value.get()));
        if (!pair || PyList_Append(out.get(), pair.get()) < 0) return nullptr;
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
    {"_properties", instance_caches_properties, METH_NOARGS,
     "[(name, value), ...] for every cached_property value kept in this container."},
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

// True for a pydantic model class configured with extra="forbid" or
// extra="allow" whose instances support weak references. pydantic reads such
// a model's __dict__ as its input when it revalidates an instance
// (revalidate_instances) or validates an assignment, so a "__boundcache__"
// key there would fail validation as a forbidden extra, or be copied into
// the model's extras and dumped. Their containers go to the weak table
// instead (no trace in __dict__; a result that refers back to its owner then
// keeps it alive, as for any weak-table owner). Plain dict lookups on the
// class's namespace: no user code runs.
static bool keeps_dict_for_fields(PyTypeObject* tp) {
    static PyObject* s_extra_slot = PyUnicode_InternFromString("__pydantic_extra__");
    static PyObject* s_config = PyUnicode_InternFromString("model_config");
    static PyObject* s_extra = PyUnicode_InternFromString("extra");
    if (!s_extra_slot || !s_config || !s_extra) {
        PyErr_Clear();
        return false;
    }
    if (!PyType_SUPPORTS_WEAKREFS(tp) || !_PyType_Lookup(tp, s_extra_slot)) return false;
    PyObject* config = _PyType_Lookup(tp, s_config);  // borrowed
    if (!config || !PyDict_CheckExact(config)) return false;
    PyObject* extra = PyDict_GetItemWithError(config, s_extra);  // borrowed; str keys run no user code
    if (!extra) {
        PyErr_Clear();
        return false;
    }
    return PyUnicode_Check(extra) &&
           (PyUnicode_CompareWithASCIIString(extra, "forbid") == 0 || PyUnicode_CompareWithASCIIString(extra, "allow") == 0);
}

PyObject* find_in_weak_table(PyObject* owner) {
    if (!weak_table.size()) return nullptr;
    // Owners with no weak references are never in the table. Others are
    // looked up without asking why their __dict__ or slot had nothing: the
    // entry of a dead owner is gone before its address can be reused, and
    // the owner check below rejects any other.
    if (!PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) return nullptr;
    PyObject* c = weak_table.get(owner);  // borrowed; only containers are stored
    if (!c || ((InstanceCachesObject*)c)->owner != owner) return nullptr;
    return Py_NewRef(c);
}

// The fix the message names depends on what made the class (a dataclass,
// attrs, a named tuple): boundcache._storage_hint words it. A rare error
// path, so Python is fine here; if the helper fails, a generic message.
PyObject* storage_hint(PyTypeObject* tp, const char* hint_name) {
    Ref hint(PyImport_ImportModule("boundcache._storage_hint"));
    Ref msg(hint ? PyObject_CallMethod(hint.get(), hint_name, "O", (PyObject*)tp) : nullptr);
    if (msg && PyUnicode_Check(msg.get())) return msg.release();
    PyErr_Clear();
    return PyUnicode_FromFormat(
        "boundcache cannot cache methods of %.200s instances: they have no __dict__, no "
        "'__boundcache__' slot and no '__weakref__' slot. Add '__boundcache__' (or "
        "'__weakref__') to %.200s.__slots__.",
        tp->tp_name, tp->tp_name);
}

static PyObject* no_storage_error(PyObject* owner, const char* hint_name = "no_storage_message") {
    Ref msg(storage_hint(Py_TYPE(owner), hint_name));
    if (msg) PyErr_SetObject(PyExc_TypeError, msg.get());
    return nullptr;
}

// The container is already a weak reference to the owner, whose callback
// (owner_died) removes it from the table.
static PyObject* attach_weakly(PyObject* owner, InstanceCachesObject* c) {
    if (!PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) return no_storage_error(owner);
    PyObject* replaced;
    if (weak_table.put(owner, (PyObject*)c, &replaced) < 0) return nullptr;
    c->in_weak_table = true;
    // A container left by a finalizer's nested first call (see
    // attach_instance_caches), released now that the table is consistent.
    if (replaced) {
        ((InstanceCachesObject*)replaced)->in_weak_table = false;
        Py_DECREF(replaced);
    }
    return Py_NewRef((PyObject*)c);
}

// Stores `c` as the owner's __boundcache__ without running the owner's
// __setattr__ (frozen dataclasses): generic attribute assignment reaches a
// __boundcache__ slot or the instance __dict__ (inline values stay inline).
// Returns 1 if stored, 0 if the owner has neither, -1 on error.
static int attach_directly(PyObject* owner, PyObject* c) {
    int r;
    if (PyType_Check(owner)) {
        // A class (a cached classmethod): its own namespace, unless the name
        // means something else there or in a base (the "__boundcache__" slot
        // of its instances, or anything else that is not a class-level
        // container): a container in the class's dict would hide it from the
        // instances, and their cached methods would find no storage. Types
        // support weak references, so the weak table serves instead.
        // (_PyType_Lookup runs no code; its result is only compared.)
        PyObject* inherited = _PyType_Lookup((PyTypeObject*)owner, g.str_boundcache);
        if (inherited && !Py_IS_TYPE(inherited, &InstanceCaches_Type)) return 0;
        // type's own setattro: no metaclass __setattr__, and the type's
        // attribute cache is invalidated (PyType_Modified).
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

// ---- owners with a __dict__ but no weak references ----
//
// copy.copy(owner) copies its __dict__ shallowly, container included, and no
// weakref callback says when such an owner dies. The container records the
// owner's dict (owner_dict) besides its address: a copy has a dict of its
// own, so its lookups ignore the shared container and attach a fresh one.
// From 3.12 a dict watcher also learns when that dict dies (with its owner,
// or replaced by `owner.__dict__ = ...`) or stops holding the container:
// the container is then marked dead (owner and owner_dict NULL), and on the
// dict's death emptied, so the entries die with their owner even while a
// copy still holds the container, and no dict later allocated at the same
// address can match. Before 3.12 there is no such signal (docs/design.md,
// "Teardown and callbacks", says what remains).

// The ticket (CachesTicketObject, objects.hpp). User code reaches it through
// vars(owner) and the GC; it can only pickle, copy or print it.
static int ticket_traverse(PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(((CachesTicketObject*)self)->caches);
    return 0;
}

// Runs user code when the container dies with it (its entries' finalizers);
// by then the ticket is emptied, and when dying untracked with refcount 0.
static int ticket_clear(PyObject* self) {
    Py_CLEAR(((CachesTicketObject*)self)->caches);
    return 0;
}

static void ticket_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    ticket_clear(self);
    PyObject_GC_Del(self);
}

static PyObject* ticket_repr(PyObject* self) {
    PyObject* c = ((CachesTicketObject*)self)->caches;
    if (!c) return PyUnicode_FromString("<boundcache caches: cleared>");
    Ref keep = Ref::borrow(c);
    return instance_caches_repr(c);
}

// Pickles as an empty container of nobody (the ticket type is not
// importable): the unpickled owner attaches its own on its first call.
static PyObject* ticket_reduce(PyObject*, PyObject*) {
    return Py_BuildValue("(O())", (PyObject*)&InstanceCaches_Type);
}

static PyMethodDef ticket_methods[] = {
    // A copy or an unpickled owner starts with an empty container of nobody.
    {"__reduce__", ticket_reduce, METH_NOARGS, nullptr},
    {"__copy__", instance_caches_copy, METH_NOARGS, nullptr},
    {"__deepcopy__", instance_caches_copy, METH_O, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject CachesTicket_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "boundcache._core.CachesTicket",
    sizeof(CachesTicketObject),
};

void init_caches_ticket_type() {
    PyTypeObject& t = CachesTicket_Type;
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    t.tp_doc = "Where an object without weak references keeps its boundcache caches (its __boundcache__).";
    t.tp_dealloc = ticket_dealloc;
    t.tp_traverse = ticket_traverse;
    t.tp_clear = ticket_clear;
    t.tp_repr = ticket_repr;
    t.tp_methods = ticket_methods;
}

static PyObject* new_ticket(PyObject* caches) {
    auto* t = PyObject_GC_New(CachesTicketObject, &CachesTicket_Type);
    if (!t) return nullptr;
    t->caches = Py_NewRef(caches);
    PyObject_GC_Track(t);
    return (PyObject*)t;
}

// Marks a container as nobody's: no lookup will use it again. Its entries
// stay until it dies (it may be in use by a call in progress).
static void disown(InstanceCachesObject* c) {
    c->owner = nullptr;
    c->owner_dict = nullptr;
}

PyObject* caches_from_ticket(PyObject* ticket, PyObject* owner) {
    // First, as it may allocate: the caller holds the ticket meanwhile.
    PyObject* dict = owner_dict_of(owner);
    auto* c = (InstanceCachesObject*)((CachesTicketObject*)ticket)->caches;
    if (!c || c->owner != owner) return nullptr;
    // The dict it was found in holds the ticket once, the caller once. Any
    // other holder is a shallow copy's dict (or user code): this owner and
    // the copy cannot be told apart for sure (the copy may sit at the
    // address of this container's dead owner, its dict at that of the dead
    // owner's dict), so the container is nobody's from now on, and whoever
    // looked starts afresh. The same if the dict is not the recorded one.
    if (Py_REFCNT(ticket) != 2 || c->owner_dict != dict) {
        disown(c);
        return nullptr;
    }
    return Py_NewRef((PyObject*)c);
}

#if PY_VERSION_HEX >= 0x030C0000
static bool is_boundcache_key(PyObject* k) {
    return k == g.str_boundcache || (PyUnicode_CheckExact(k) && PyUnicode_Compare(k, g.str_boundcache) == 0);
}

// The container in `dict` under "__boundcache__" that records `dict` as its
// owner's dict, found without running code (no __eq__ of other keys).
static InstanceCachesObject* container_recording(PyObject* dict) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!is_boundcache_key(k)) continue;
        PyObject* c = Py_IS_TYPE(v, &CachesTicket_Type) ? ((CachesTicketObject*)v)->caches : nullptr;
        if (c && ((InstanceCachesObject*)c)->owner_dict == dict) return (InstanceCachesObject*)c;
        return nullptr;
    }
    return nullptr;
}

// Called by CPython before a watched dict changes or dies. A watcher must not
// change the dict it is called for, so a container that merely leaves it
// (replaced, deleted, cleared) is only disowned; its entries go when it does.
// On DEALLOCATED the dict is intact (CPython holds it at refcount 1 and
// allows resurrection): the contents are released there if nothing but the
// ticket holds the container (a call in progress would be using them; its
// owner's dict can die under it, `self.__dict__ = {}`). That runs
// finalizers, which find the container empty and nobody's.
static int owner_dict_watcher(PyDict_WatchEvent event, PyObject* dict, PyObject* key, PyObject*) {
    bool dies = event == PyDict_EVENT_DEALLOCATED;
    if (!dies && event != PyDict_EVENT_CLEARED &&
        !((event == PyDict_EVENT_MODIFIED || event == PyDict_EVENT_DELETED) && key && is_boundcache_key(key)))
        return 0;
    InstanceCachesObject* c = container_recording(dict);
    if (!c) return 0;
    disown(c);
    if (dies && Py_REFCNT((PyObject*)c) == 1) {
        Ref keep = Ref::borrow((PyObject*)c);
        PyObject *type, *value, *tb;  // an exception may be propagating through this dealloc
        PyErr_Fetch(&type, &value, &tb);
        release_contents(c);
        PyErr_Restore(type, value, tb);
    }
    return 0;
}

// One watcher per interpreter (the module is shared by legacy
// subinterpreters); -1 if none could be registered (then only the
// dict-and-address check protects such owners, as before 3.12).
static int dict_watcher_id() {
    static struct {
        int64_t interp;
        int id;
    } known[16];
    static unsigned n_known, next_victim;
    int64_t interp = PyInterpreterState_GetID(PyInterpreterState_Get());
    for (unsigned i = 0; i < n_known; i++)
        if (known[i].interp == interp) return known[i].id;
    int id = PyDict_AddWatcher(owner_dict_watcher);
    if (id < 0) {
        PyErr_Clear();
        return -1;
    }
    unsigned slot = n_known < 16 ? n_known++ : next_victim++ % 16;
    known[slot].interp = interp;
    known[slot].id = id;
    return id;
}
#endif

// The data descriptor that `__boundcache__` names on the owner's type, if it
// is not a slot: it would run user code on every lookup and decide where the
// container goes (a read-only property drops it: nothing would ever hit).
static PyObject* refuse_descriptor(PyObject* owner, PyObject* descr) {
    PyTypeObject* tp = Py_TYPE(owner);
    PyErr_Format(PyExc_TypeError,
                 "boundcache cannot cache methods of %.200s %s: %.200s.__boundcache__ is a %.200s, and "
                 "boundcache keeps its caches under that name. Rename that attribute (or, for a "
                 "__slots__ class, list '__boundcache__' in __slots__ instead).",
                 PyType_Check(owner) ? ((PyTypeObject*)owner)->tp_name : tp->tp_name,
                 PyType_Check(owner) ? "(a class with a metaclass that defines __boundcache__)" : "instances",
                 tp->tp_name, Py_TYPE(descr)->tp_name);
    return nullptr;
}

PyObject* instance_caches_for(PyObject* owner) {
    if (PyObject* found = find_instance_caches(owner)) return found;
    if (PyErr_Occurred()) return nullptr;
    return attach_instance_caches(owner);
}

PyObject* attach_instance_caches(PyObject* owner) {
    PyTypeObject* tp = Py_TYPE(owner);
    // Borrowed, and only inspected: _PyType_Lookup runs no code.
    PyObject* descr = _PyType_Lookup(tp, g.str_boundcache);
    bool slot = descr && Py_IS_TYPE(descr, &PyMemberDescr_Type);
    if (descr && !slot && Py_TYPE(descr)->tp_descr_set) return refuse_descriptor(owner, descr);
    // An owner without weak references keeps its container in its __dict__,
    // materialised now if it was inline values, so that it has an identity.
    Ref dict;
    if (!slot && !PyType_SUPPORTS_WEAKREFS(tp) && type_has_dict(tp) && !PyType_Check(owner)) {
#if PY_VERSION_HEX < 0x030C0000
        // Before 3.12 nothing tells when such an owner dies (no weak
        // reference, no dict watcher): a shallow copy sharing its container
        // could outlive it and be served its entries at its reused address.
        // Refused rather than ever answering wrongly (docs/methods.md).
        return no_storage_error(owner, "no_death_signal_message");
#endif
        dict.reset(PyObject_GenericGetDict(owner, nullptr));
        if (!dict) return nullptr;
    }
    // Allocating may run the GC, and a finalizer may then call into this
    // owner's cache and attach a container of its own. Ours replaces it: the
    // only loss is that cache's entries (its statistics go to the wrapper's
    // sums when it dies), never a wrong result.
    Ref c((PyObject*)new_instance_caches(owner));
    if (!c) return nullptr;
    Ref ticket;
    if (dict) {
        ((InstanceCachesObject*)c.get())->owner_dict = dict.get();
        ticket.reset(new_ticket(c.get()));
        if (!ticket) return nullptr;
#if PY_VERSION_HEX >= 0x030C0000
        int id = dict_watcher_id();
        if (id >= 0 && PyDict_Watch(id, dict.get()) < 0) return nullptr;
#endif
    }
    // Strict pydantic models without a slot go to the weak table (see
    // keeps_dict_for_fields).
    int r = !slot && !PyType_Check(owner) && keeps_dict_for_fields(tp)
                ? 0
                : attach_directly(owner, ticket ? ticket.get() : c.get());
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
