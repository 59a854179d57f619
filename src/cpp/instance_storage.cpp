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

// The container's CachesExtra, made if missing; NULL with MemoryError set.
static CachesExtra* extra_of(InstanceCachesObject* c) {
    if (!c->extra) {
        c->extra = (CachesExtra*)PyMem_Calloc(1, sizeof(CachesExtra));
        if (!c->extra) PyErr_NoMemory();
    }
    return c->extra;
}

// Links `c` into the list of weak references of `owner`, an object that
// supports them and is not a type, with owner_died as its callback: what
// weakref.ref(owner, owner_died) does for a subtype, without its argument
// tuple and parsing (a fifth of a fresh instance's first call). CPython
// keeps the shared callback-less weakref.ref and proxy, if any, at the head
// of the list; other references go after them.
static void link_to_owner(InstanceCachesObject* c, PyObject* owner) {
    PyWeakReference* self = &c->weakref;
    self->wr_object = owner;
    self->wr_callback = Py_NewRef(g.owner_died);
    self->hash = -1;
    auto** list = (PyWeakReference**)((char*)owner + Py_TYPE(owner)->tp_weaklistoffset);
    PyWeakReference* prev = nullptr;
    PyWeakReference* head = *list;
    if (head && !head->wr_callback) {
        if (PyWeakref_CheckRefExact((PyObject*)head)) {
            prev = head;
            head = head->wr_next;
        }
        if (head && !head->wr_callback && PyWeakref_CheckProxy((PyObject*)head)) prev = head;
    }
    PyWeakReference* next = prev ? prev->wr_next : *list;
    self->wr_prev = prev;
    self->wr_next = next;
    if (next) next->wr_prev = self;
    if (prev) {
        prev->wr_next = self;
    } else {
        *list = self;
    }
}

// A container for `owner`, or for nobody (owner NULL: unpickled or copied).
static InstanceCachesObject* new_instance_caches(PyObject* owner) {
    InstanceCachesObject* c;
    bool weakly = owner && PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner));
#ifndef Py_GIL_DISABLED
    if (weakly && !PyType_Check(owner)) {
        // Zeroed and tracked; no code runs before it is linked.
        c = (InstanceCachesObject*)PyType_GenericAlloc(&InstanceCaches_Type, 0);
        if (!c) return nullptr;
        link_to_owner(c, owner);
    } else
#endif
    if (weakly) {
        // A class (a cached classmethod): weakref.ref's constructor finds
        // where CPython keeps the weak references of static types. It takes
        // its arguments as a tuple; one tuple serves every call. It is not
        // tracked by the GC and holds borrowed references only until the
        // constructor has unpacked them, which it does before anything that
        // could run other code; a nested use (a finalizer run by the
        // allocation) finds it free again.
        PyObject* args = g.weakref_args;
        PyTuple_SET_ITEM(args, 0, owner);
        PyTuple_SET_ITEM(args, 1, g.owner_died);
        c = (InstanceCachesObject*)_PyWeakref_RefType.tp_new(&InstanceCaches_Type, args, nullptr);
        PyTuple_SET_ITEM(args, 0, nullptr);
        PyTuple_SET_ITEM(args, 1, nullptr);
        if (!c) return nullptr;
    } else {
        // A weakref that is dead from birth (what weakref.ref makes of a
        // referent that died: wr_object is None, borrowed).
        c = (InstanceCachesObject*)PyType_GenericAlloc(&InstanceCaches_Type, 0);
        if (!c) return nullptr;
        c->weakref.wr_object = Py_None;
        c->weakref.hash = -1;
        if (owner) {
            CachesExtra* x = extra_of(c);
            if (!x) {
                Py_DECREF(c);
                return nullptr;
            }
            x->owner = owner;
            x->unlinked = true;
        }
    }
#if PY_VERSION_HEX >= 0x030B0000
    c->weakref.vectorcall = g.weakref_vectorcall;  // calling it answers as weakref.ref does
#endif
    return c;
}

// Empties and detaches one cache (statistics to its wrapper), burying what
// it held; runs no user code. It may serve another wrapper afterwards.
static void empty_cache(MethodCache* mc, Graveyard& graveyard) {
    if (mc->wrapper) {
        retire_method_cache(mc);
        unlink_method_cache(mc);
        mc->wrapper = nullptr;
    }
    mc->table.take_all(graveyard);
}

// Detaches and frees every cache of the container. Statistics go to the
// wrappers first, and the container is empty before any reference is
// released, since releasing one can run code that reaches this container.
// What tells whose container it is (the referent, `extra`'s owner and flags)
// stays.
static void release_contents(InstanceCachesObject* c) {
    Graveyard graveyard;
    empty_cache(first_cache(c), graveyard);
    if (CachesExtra* x = c->extra) {
        MethodCache** more = x->more;
        uint32_t n_more = x->n_more;
        PropertyValue* props = x->props;
        uint32_t n_props = x->n_props;
        x->more = nullptr;
        x->n_more = x->cap_more = 0;
        x->props = nullptr;
        x->n_props = x->cap_props = 0;
        for (uint32_t i = 0; i < n_more; i++) {
            empty_cache(more[i], graveyard);
            more[i]->~MethodCache();
            PyMem_Free(more[i]);
        }
        PyMem_Free(more);
        for (uint32_t i = 0; i < n_props; i++) graveyard.bury(props[i].name, props[i].value);
        PyMem_Free(props);
    }
    graveyard.release();
}

static int instance_caches_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* c = (InstanceCachesObject*)self;
    if (int r = _PyWeakref_RefType.tp_traverse(self, visit, arg)) return r;
    if (int r = first_cache(c)->table.traverse(visit, arg)) return r;  // zeroed or emptied: nothing
    if (CachesExtra* x = c->extra) {
        for (uint32_t i = 0; i < x->n_more; i++) {
            if (int r = x->more[i]->table.traverse(visit, arg)) return r;
        }
        for (uint32_t i = 0; i < x->n_props; i++) Py_VISIT(x->props[i].value);
    }
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
    auto* c = (InstanceCachesObject*)self;
    PyMem_Free(c->extra);
    c->extra = nullptr;
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
    CachesExtra* x = c->extra;
    // A container made for an owner without weak references has no referent
    // from birth, and may be in use.
    if (c->weakref.wr_object != Py_None || (x && x->unlinked)) Py_RETURN_NONE;
    Ref keep = Ref::borrow(ref);  // dropping it from the weak table may free it
    if (x && x->in_weak_table) {
        x->in_weak_table = false;
        Ref taken(weak_table.take(x->owner, ref));
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
    for_each_cache(c, [&](MethodCache* mc) {
        methods++;
        entries += mc->table.size();
    });
    return PyUnicode_FromFormat("<boundcache caches: %u methods, %zd entries, %u properties>", methods,
                                entries, c->extra ? c->extra->n_props : 0);
}

// Introspection for audit(): [(wrapper, [(key, value), ...]), ...] and the
// owner when it is known to be alive (weak-table owners only).
static PyObject* instance_caches_contents(PyObject* self, PyObject*) {
    auto* c = (InstanceCachesObject*)self;
    // Take the wrappers first: building the rows can run finalizers that
    // empty this container.
    Ref wrappers(PyList_New(0));
    if (!wrappers) return nullptr;
    bool failed = false;
    for_each_cache(c, [&](MethodCache* mc) {
        // no allocation runs code here
        if (!failed && PyList_Append(wrappers.get(), (PyObject*)mc->wrapper) < 0) failed = true;
    });
    if (failed) return nullptr;
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
    for (uint32_t i = 0; c->extra && i < c->extra->n_props; i++) {
        PropertyValue& pv = c->extra->props[i];
        Ref name = Ref::borrow(pv.name);
        Ref value = Ref::borrow(pv.value ? pv.value : Py_None);
        Ref pair(PyTuple_Pack(2, name.get(), value.get()));
        if (!pair || PyList_Append(out.get(), pair.get()) < 0) return nullptr;
    }
    return out.release();
}

// The owner, if this container is in the weak table and the owner lives.
static PyObject* instance_caches_get_owner(PyObject* self, void*) {
    auto* c = (InstanceCachesObject*)self;
    PyObject* o = c->weakref.wr_object;
    if (c->extra && c->extra->in_weak_table && o && o != Py_None && Py_REFCNT(o) > 0) return Py_NewRef(o);
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
// Whether tp looks like a pydantic model (has a __pydantic_extra__ slot);
// runs no code.
static bool has_pydantic_extra(PyTypeObject* tp) {
    static PyObject* s_extra_slot = PyUnicode_InternFromString("__pydantic_extra__");
    if (!s_extra_slot) {
        PyErr_Clear();
        return false;
    }
    return _PyType_Lookup(tp, s_extra_slot) != nullptr;
}

static bool keeps_dict_for_fields(PyTypeObject* tp) {
    static PyObject* s_config = PyUnicode_InternFromString("model_config");
    static PyObject* s_extra = PyUnicode_InternFromString("extra");
    if (!s_config || !s_extra) {
        PyErr_Clear();
        return false;
    }
    if (!PyType_SUPPORTS_WEAKREFS(tp) || !has_pydantic_extra(tp)) return false;
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
    if (!c || ((InstanceCachesObject*)c)->weakref.wr_object != owner) return nullptr;
    return Py_NewRef(c);
}

// The fix a message names depends on what made the class (a dataclass,
// attrs, a named tuple): boundcache._storage_hint words it. A rare error
// path, so Python is fine here; if the helper fails, a generic message.
PyObject* storage_hint(PyTypeObject* tp) {
    Ref hint(PyImport_ImportModule("boundcache._storage_hint"));
    Ref msg(hint ? PyObject_CallMethod(hint.get(), "no_storage_message", "O", (PyObject*)tp) : nullptr);
    if (msg && PyUnicode_Check(msg.get())) return msg.release();
    PyErr_Clear();
    return PyUnicode_FromFormat(
        "They have no __dict__, no '__boundcache__' slot and no '__weakref__' slot. Add '__boundcache__' "
        "(or '__weakref__') to %.200s.__slots__.",
        tp->tp_name);
}

static PyObject* no_storage_error(PyObject* owner) {
    Ref msg(storage_hint(Py_TYPE(owner)));
    if (msg) PyErr_SetObject(PyExc_TypeError, msg.get());
    return nullptr;
}

// Whether `classes` (a list of weak references to classes, or NULL) names `tp`.
static bool names_class(PyObject* classes, PyTypeObject* tp) {
    for (Py_ssize_t i = 0; classes && i < PyList_GET_SIZE(classes); i++)
        if (((PyWeakReference*)PyList_GET_ITEM(classes, i))->wr_object == (PyObject*)tp) return true;
    return false;
}

// Adds `tp` to `*classes` (made if NULL), dropping the classes that died.
static bool remember_class(PyObject** classes, PyTypeObject* tp) {
    Ref alive(PyList_New(0));
    Ref ref(alive ? PyWeakref_NewRef((PyObject*)tp, nullptr) : nullptr);
    if (!ref || PyList_Append(alive.get(), ref.get()) < 0) return false;
    for (Py_ssize_t i = 0; *classes && i < PyList_GET_SIZE(*classes); i++) {
        PyObject* r = PyList_GET_ITEM(*classes, i);
        if (((PyWeakReference*)r)->wr_object != Py_None && PyList_Append(alive.get(), r) < 0) return false;
    }
    Py_XSETREF(*classes, alive.release());
    return true;
}

// Owners hashed by value (named tuples, classes defining __hash__, int and
// str subclasses) are rightly cached by value: no warning. Unhashable ones
// get functools' own TypeError from the key. Only object.__hash__ is the
// trap: each instance is an entry of its own, alive as long as its entry.
bool note_functools_owner(CachedFunctionObject* w, PyObject* owner) {
    PyTypeObject* tp = Py_TYPE(owner);
    if (tp->tp_hash != PyBaseObject_Type.tp_hash || names_class(w->pinning_warned, tp)) return true;
    // The first such call of this wrapper for this class; Python words the
    // message in the class's own terms. The warning may run any code
    // (filters, showwarning): the caller holds the wrapper and the owner.
    Ref hint(PyImport_ImportModule("boundcache._storage_hint"));
    Ref category(hint ? PyObject_GetAttrString(hint.get(), "PinningWarning") : nullptr);
    Ref msg(category ? PyObject_CallMethod(hint.get(), "pinning_message", "OO", (PyObject*)tp, (PyObject*)w) : nullptr);
    const char* text = msg ? PyUnicode_AsUTF8(msg.get()) : nullptr;
    if (!text || PyErr_WarnEx(category.get(), text, 1) < 0) return false;
    // Recorded once given, so that an error filter refuses every such call.
    return remember_class(&w->pinning_warned, tp);
}

// The container is already a weak reference to the owner, whose callback
// (owner_died) removes it from the table. An owner without weak references
// has nowhere left: NULL without an exception (served as functools).
static PyObject* attach_weakly(PyObject* owner, InstanceCachesObject* c) {
    if (!PyType_SUPPORTS_WEAKREFS(Py_TYPE(owner))) return nullptr;
    CachesExtra* x = extra_of(c);
    if (!x) return nullptr;
    PyObject* replaced;
    if (weak_table.put(owner, (PyObject*)c, &replaced) < 0) return nullptr;
    x->in_weak_table = true;
    x->owner = owner;  // to leave the table once the referent is cleared
    // A container left by a finalizer's nested first call (see
    // attach_instance_caches), released now that the table is consistent.
    if (replaced) {
        ((InstanceCachesObject*)replaced)->extra->in_weak_table = false;
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

// ---- owners with a __dict__ but no weak references (3.12+) ----
//
// copy.copy(owner) copies its __dict__ shallowly, ticket included, and no
// weakref callback says when such an owner dies. Its class's finalizer
// does (ticket_owner_finalize, below), and a dict watcher learns when the
// owner's dict dies (with its owner, or replaced by `owner.__dict__ = ...`)
// or stops holding the ticket: the container is then nobody's, and emptied
// unless a call is using it, so the entries die with their owner even while
// a copy still holds the ticket. The ticket records the owner's dict, class
// and value besides its address (CachesTicketObject): a copy has a dict of
// its own. Before 3.12, or where no watcher or hook can be had, such owners
// are served as functools (served_as_functools).

// The ticket (CachesTicketObject, objects.hpp). User code reaches it through
// vars(owner) and the GC; it can only pickle, copy or print it.
static int ticket_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* t = (CachesTicketObject*)self;
    Py_VISIT(t->caches);
    Py_VISIT(t->owner_type);
    Py_VISIT(t->owner_value);
    return 0;
}

// Runs user code when the container dies with it (its entries' finalizers);
// by then the ticket is emptied, and when dying untracked with refcount 0.
static int ticket_clear(PyObject* self) {
    auto* t = (CachesTicketObject*)self;
    t->owner_dict = nullptr;
    if (t->caches) ((InstanceCachesObject*)t->caches)->extra->held_by_ticket = false;
    Py_CLEAR(t->caches);
    Py_CLEAR(t->owner_type);
    Py_CLEAR(t->owner_value);
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

// Raised when a class's finalizer is hooked again (see ticket_owner_finalize):
// tickets made before then are retired.
static uint64_t ticket_epoch = 1;
static PyObject* hooked_classes;  // weak references to every class hooked so far

// An exact copy of the builtin value an instance of `tp` carries (its int,
// str, bytes or tuple part), made without running user code; NULL without
// an exception if `tp` derives from none of them.
[[maybe_unused]] static PyObject* builtin_value(PyObject* owner) {
    if (PyLong_Check(owner)) return PyLong_Type.tp_as_number->nb_int(owner);  // int(owner), not __int__
    if (PyUnicode_Check(owner)) return PyUnicode_Substring(owner, 0, PyUnicode_GET_LENGTH(owner));
    if (PyBytes_Check(owner)) return PyBytes_FromStringAndSize(PyBytes_AS_STRING(owner), PyBytes_GET_SIZE(owner));
    if (PyTuple_Check(owner)) return PyTuple_GetSlice(owner, 0, PyTuple_GET_SIZE(owner));
    return nullptr;
}

[[maybe_unused]] static bool has_builtin_value(PyTypeObject* tp) {
    return PyType_FastSubclass(tp, Py_TPFLAGS_LONG_SUBCLASS | Py_TPFLAGS_UNICODE_SUBCLASS |
                                       Py_TPFLAGS_BYTES_SUBCLASS | Py_TPFLAGS_TUPLE_SUBCLASS);
}

// Whether `owner` carries the value `copy` was made from. Compares the
// builtin parts only (digits, characters, bytes, the items' identities):
// no __eq__ runs. `copy` is an exact int, str, bytes or tuple.
static bool same_builtin_value(PyObject* owner, PyObject* copy) {
    if (PyLong_CheckExact(copy)) {
        if (!PyLong_Check(owner)) return false;
        Ref eq(PyLong_Type.tp_richcompare(owner, copy, Py_EQ));
        PyErr_Clear();  // cannot fail for two ints
        return eq.get() == Py_True;
    }
    if (PyUnicode_CheckExact(copy)) return PyUnicode_Check(owner) && PyUnicode_Compare(owner, copy) == 0;
    if (PyBytes_CheckExact(copy)) {
        Py_ssize_t n = PyBytes_GET_SIZE(copy);
        return PyBytes_Check(owner) && PyBytes_GET_SIZE(owner) == n &&
               memcmp(PyBytes_AS_STRING(owner), PyBytes_AS_STRING(copy), (size_t)n) == 0;
    }
    if (!PyTuple_Check(owner) || PyTuple_GET_SIZE(owner) != PyTuple_GET_SIZE(copy)) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(copy); i++)
        if (PyTuple_GET_ITEM(owner, i) != PyTuple_GET_ITEM(copy, i)) return false;
    return true;
}

static PyObject* new_ticket(PyObject* caches, PyObject* owner, PyObject* dict) {
    Ref value(builtin_value(owner));
    if (!value) return nullptr;
    auto* t = PyObject_GC_New(CachesTicketObject, &CachesTicket_Type);
    if (!t) return nullptr;
    t->caches = Py_NewRef(caches);
    t->owner_dict = dict;
    t->owner_type = Py_NewRef((PyObject*)Py_TYPE(owner));
    t->owner_value = value.release();
    t->epoch = ticket_epoch;
    ((InstanceCachesObject*)caches)->extra->ticketed = true;  // made for an owner without weak references
    ((InstanceCachesObject*)caches)->extra->held_by_ticket = true;
    PyObject_GC_Track(t);
    return (PyObject*)t;
}

// Marks a ticket's container as nobody's: no lookup will use it again. Its
// entries stay until it dies (it may be in use by a call in progress).
static void disown(CachesTicketObject* t) {
    if (t->caches) ((InstanceCachesObject*)t->caches)->extra->owner = nullptr;
    t->owner_dict = nullptr;
}

// Disowns the ticket's container and, unless a call in progress holds it,
// releases its entries now: no lookup can reach them again, though the
// ticket may live on in a copy's dict. Runs user code (finalizers), which
// finds the container empty and nobody's; an exception being raised (this
// may run in a dealloc) is kept.
static void retire(CachesTicketObject* t) {
    auto* c = (InstanceCachesObject*)t->caches;
    disown(t);
    if (c && Py_REFCNT((PyObject*)c) == 1) {
        Ref keep = Ref::borrow((PyObject*)c);
        release_retired(c);
    }
}

void release_retired(InstanceCachesObject* c) {
    PyObject *type, *value, *tb;  // a call may be returning an exception through CallHold
    PyErr_Fetch(&type, &value, &tb);
    release_contents(c);
    PyErr_Restore(type, value, tb);
}

static bool is_boundcache_key(PyObject* k) {
    return k == g.str_boundcache || (PyUnicode_CheckExact(k) && PyUnicode_Compare(k, g.str_boundcache) == 0);
}

// The ticket in `dict` under "__boundcache__" that records `dict` as its
// owner's dict, found without running code (no __eq__ of other keys).
static CachesTicketObject* ticket_recording(PyObject* dict) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!is_boundcache_key(k)) continue;
        auto* t = Py_IS_TYPE(v, &CachesTicket_Type) ? (CachesTicketObject*)v : nullptr;
        return t && t->caches && t->owner_dict == dict ? t : nullptr;
    }
    return nullptr;
}

// ---- the death of an owner without weak references ----
//
// Its dict can outlive it (kept by someone, then given to a new object at
// the owner's address), so the dict watcher alone cannot tell when it died.
// Its class's finalizer can: when a ticket is first made for an instance of
// a class, that class's tp_finalize becomes ticket_owner_finalize, which
// runs the class's own __del__ as CPython would and then disowns the dying
// owner's container and releases its entries. A class whose finalizer is
// replaced later (__del__ assigned or deleted) may lose deaths meanwhile:
// lookups through it distrust every ticket until it is hooked again, and
// hooking a class again starts a new epoch that retires every older ticket.
// (subtype_dealloc calls tp_finalize itself; tp_dealloc cannot be hooked
// so, since subtype_dealloc walks the bases by comparing their tp_dealloc.)

static void ticket_owner_finalize(PyObject* self) {
    g.slot_finalize(self);  // the class's __del__, if any, looked up as CPython does
    // Resurrected by __del__, the owner simply starts afresh.
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject** dictptr = _PyObject_GetDictPtr(self);
    PyObject* dict = dictptr ? *dictptr : nullptr;
    if (!dict) PyErr_Clear();
    CachesTicketObject* t = dict ? ticket_recording(dict) : nullptr;
    if (t && ((InstanceCachesObject*)t->caches)->extra->owner == self) retire(t);  // even if the dict lives on
    PyErr_Restore(type, value, tb);
}

// Whether instances of `tp` can keep tickets as far as their finalizer goes:
// a class defined in Python, with no finalizer or CPython's for __del__.
[[maybe_unused]] static bool finalizer_hookable(PyTypeObject* tp) {
    destructor f = tp->tp_finalize;
    return (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
           (!f || f == g.slot_finalize || f == ticket_owner_finalize);
}

static bool hook_finalizer(PyTypeObject* tp) {
    if (tp->tp_finalize == ticket_owner_finalize && names_class(hooked_classes, tp)) return true;
    // Hooked before, then replaced: deaths may have gone unseen since.
    if (names_class(hooked_classes, tp)) {
        ticket_epoch++;
    } else if (!remember_class(&hooked_classes, tp)) {
        return false;
    }
    tp->tp_finalize = ticket_owner_finalize;
    return true;
}

PyObject* caches_from_ticket(PyObject* ticket, PyObject* owner) {
    // First, as it may allocate: the caller holds the ticket meanwhile.
    PyObject* dict = owner_dict_of(owner);
    auto* t = (CachesTicketObject*)ticket;
    auto* c = (InstanceCachesObject*)t->caches;
    if (!c || c->extra->owner != owner) return nullptr;
    // The dict it was found in holds the ticket once, the caller once. Any
    // other holder is a shallow copy's dict (or user code): this owner and
    // the copy cannot be told apart for sure (the copy may sit at the
    // address of this container's dead owner, its dict at that of the dead
    // owner's dict), so the container is nobody's from now on, and whoever
    // looked starts afresh. The same if the dict is not the recorded one, if
    // something else holds it too (it may outlive the owner, and be given to
    // a new object at the owner's address), if the owner's class may have
    // lost deaths (its finalizer not hooked, or hooked again since), or if
    // the object at the owner's address is not the owner (class or value).
    if (Py_REFCNT(ticket) != 2 || !dict || t->owner_dict != dict || Py_REFCNT(dict) != 1 || t->epoch != ticket_epoch ||
        Py_TYPE(owner)->tp_finalize != ticket_owner_finalize || (PyObject*)Py_TYPE(owner) != t->owner_type ||
        !same_builtin_value(owner, t->owner_value)) {
        retire(t);
        return nullptr;
    }
    return Py_NewRef((PyObject*)c);
}

#if PY_VERSION_HEX >= 0x030C0000
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
    CachesTicketObject* t = ticket_recording(dict);
    if (!t) return 0;
    if (dies) {
        retire(t);
    } else {
        disown(t);
    }
    return 0;
}

// One watcher per interpreter (the module is shared by legacy
// subinterpreters); -1 if none could be registered (other extensions took
// them all): such owners are then served as functools.
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
    if (id < 0) PyErr_Clear();  // remembered: the same owners are served the same way for good
    unsigned slot = n_known < 16 ? n_known++ : next_victim++ % 16;
    known[slot].interp = interp;
    known[slot].id = id;
    return id;
}
#endif

// The data descriptor that `__boundcache__` names on the owner's type, if it
// is not a slot: it would run user code on every lookup and decide where the
// container goes (a read-only property drops it: nothing would ever hit).
// Method caches serve such owners as functools; cached_property refuses.
static PyObject* refuse_descriptor(PyObject* owner, PyObject* descr) {
    PyTypeObject* tp = Py_TYPE(owner);
    PyErr_Format(PyExc_TypeError,
                 "boundcache cannot keep cached_property values for %.200s %s: %.200s.__boundcache__ is a "
                 "%.200s, and boundcache keeps them under that name. Rename that attribute (or, for a "
                 "__slots__ class, list '__boundcache__' in __slots__ instead).",
                 PyType_Check(owner) ? ((PyTypeObject*)owner)->tp_name : tp->tp_name,
                 PyType_Check(owner) ? "(a class with a metaclass that defines __boundcache__)" : "instances",
                 tp->tp_name, Py_TYPE(descr)->tp_name);
    return nullptr;
}

// A class whose instances have a __dict__ but no weak references, and whose
// death a dict watcher can observe: per-instance caches through a ticket.
static bool ticket_owner_type(PyTypeObject* tp) {
#if PY_VERSION_HEX >= 0x030C0000
    return has_builtin_value(tp) && finalizer_hookable(tp) && dict_watcher_id() >= 0;
#else
    (void)tp;
    return false;
#endif
}

// How instances of a class keep their caches, from what the class is alone.
enum class Placement { Slot, DictOrWeakTable, Ticket, Functools };

static Placement placement_of(PyTypeObject* tp) {
    // Borrowed, and only inspected: _PyType_Lookup runs no code.
    PyObject* descr = _PyType_Lookup(tp, g.str_boundcache);
    if (descr && Py_IS_TYPE(descr, &PyMemberDescr_Type)) return Placement::Slot;
    if (descr && Py_TYPE(descr)->tp_descr_set) return Placement::Functools;  // a property or the like owns the name
    if (PyType_SUPPORTS_WEAKREFS(tp)) return Placement::DictOrWeakTable;
    return type_has_dict(tp) && ticket_owner_type(tp) ? Placement::Ticket : Placement::Functools;
}

bool served_as_functools(PyObject* owner) {
    switch (placement_of(Py_TYPE(owner))) {
        case Placement::Functools:
            return true;
        case Placement::Ticket: {
            // Its death is seen only if its __dict__ dies with it, which no
            // other holder may prevent (a Borg class's shared dict, a dict
            // kept to be given to another object, a caller's vars(owner)).
            PyObject* dict = owner_dict_of(owner);  // materialised if need be: may fail
            if (!dict) PyErr_Clear();               // then attaching reports it
            return dict && Py_REFCNT(dict) != 1;
        }
        default:
            return false;
    }
}

PyObject* instance_caches_for(PyObject* owner) {
    if (PyObject* found = find_instance_caches(owner)) return found;
    if (PyErr_Occurred()) return nullptr;
    PyObject* c = attach_instance_caches(owner);
    if (c || PyErr_Occurred()) return c;
    // Only cached_property comes here, which (as functools) refuses owners
    // it cannot store a value on.
    PyObject* descr = _PyType_Lookup(Py_TYPE(owner), g.str_boundcache);
    return descr && !Py_IS_TYPE(descr, &PyMemberDescr_Type) ? refuse_descriptor(owner, descr) : no_storage_error(owner);
}

// The last type whose instances were found to keep their container in
// their own __dict__ (or the weak table): placement_of said
// DictOrWeakTable and it is no pydantic model, both read from the type's
// attributes. CPython zeroes a type's version tag whenever an attribute of
// it or of a base changes, and hands out every later tag from a counter
// that only grows (checked on 3.10-3.15), so the same nonzero tag means the
// same answers, even for another type now at that address. It saves the
// two type lookups of every fresh instance of a class in use (bench/NOTES.md,
// "Issue 26").
static PyTypeObject* plain_type = nullptr;
static unsigned int plain_version = 0;

PyObject* attach_instance_caches(PyObject* owner) {
    PyTypeObject* tp = Py_TYPE(owner);
    bool plain = tp == plain_type && tp->tp_version_tag == plain_version;
    Placement where = plain ? Placement::DictOrWeakTable : placement_of(tp);
    if (where == Placement::Functools) return nullptr;
    if (!plain && where == Placement::DictOrWeakTable && !PyType_Check(owner) && !has_pydantic_extra(tp) &&
        tp->tp_version_tag != 0) {
        // Recorded before anything can run code (allocation below): a change
        // made by such code gives the type another tag.
        plain_type = tp;
        plain_version = tp->tp_version_tag;
        plain = true;
    }
    bool slot = where == Placement::Slot;
    // An owner without weak references keeps a ticket in its __dict__,
    // materialised now if it was inline values, so that it has an identity;
    // unless something else holds that dict too (served_as_functools).
    Ref dict;
    if (where == Placement::Ticket) {
        dict.reset(PyObject_GenericGetDict(owner, nullptr));
        if (!dict) return nullptr;
        if (Py_REFCNT(dict.get()) != 2) return nullptr;  // the owner's reference and ours
        if (!hook_finalizer(tp)) return nullptr;
    }
    // Allocating may run the GC, and a finalizer may then call into this
    // owner's cache and attach a container of its own. Ours replaces it: the
    // only loss is that cache's entries (its statistics go to the wrapper's
    // sums when it dies), never a wrong result.
    Ref c((PyObject*)new_instance_caches(owner));
    if (!c) return nullptr;
    Ref ticket;
    if (dict) {
        ticket.reset(new_ticket(c.get(), owner, dict.get()));
        if (!ticket) return nullptr;
#if PY_VERSION_HEX >= 0x030C0000
        if (PyDict_Watch(dict_watcher_id(), dict.get()) < 0) return nullptr;
#endif
    }
    // Strict pydantic models without a slot go to the weak table (see
    // keeps_dict_for_fields).
    int r = !plain && !slot && !PyType_Check(owner) && keeps_dict_for_fields(tp)
                ? 0
                : attach_directly(owner, ticket ? ticket.get() : c.get());
    if (r < 0) return nullptr;
    if (r > 0) return c.release();
    return attach_weakly(owner, (InstanceCachesObject*)c.get());
}

MethodCache* method_cache_in(InstanceCachesObject* c, CachedFunctionObject* wrapper) {
    // The first place free (never used, or left by a wrapper that died), or a new one.
    MethodCache* mc = first_cache(c);
    if (mc->wrapper) {
        CachesExtra* x = extra_of(c);
        if (!x) return nullptr;
        uint32_t i = 0;
        while (i < x->n_more && x->more[i]->wrapper) i++;
        if (i < x->n_more) {
            mc = x->more[i];
        } else {
            if (x->n_more == x->cap_more) {
                uint32_t cap = x->cap_more ? 2 * x->cap_more : 2;
                auto* grown = (MethodCache**)PyMem_Realloc(x->more, cap * sizeof(MethodCache*));
                if (!grown) {
                    PyErr_NoMemory();
                    return nullptr;
                }
                x->more = grown;
                x->cap_more = cap;
            }
            mc = (MethodCache*)PyMem_Malloc(sizeof(MethodCache));
            if (!mc) {
                PyErr_NoMemory();
                return nullptr;
            }
            x->more[x->n_more++] = mc;
        }
    }
    // Empty and owning nothing: made afresh.
    mc = new (mc) MethodCache();
    mc->wrapper = wrapper;
    if (wrapper->options) configure_table(wrapper, mc->table);
    mc->table.prepare_inline();
    link_method_cache(wrapper, mc);
    return mc;
}

// ---- cached_property values for owners without a __dict__ ----

PropertyValue* find_property_value(InstanceCachesObject* c, PyObject* name) {
    CachesExtra* x = c->extra;
    for (uint32_t i = 0; x && i < x->n_props; i++) {
        PyObject* n = x->props[i].name;
        if (n == name || PyUnicode_Compare(n, name) == 0) return &x->props[i];  // str: no user code
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
    CachesExtra* x = extra_of(c);
    if (!x) return -1;
    if (x->n_props == x->cap_props) {
        uint32_t cap = x->cap_props ? 2 * x->cap_props : 2;
        auto* grown = (PropertyValue*)PyMem_Realloc(x->props, cap * sizeof(PropertyValue));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        x->props = grown;
        x->cap_props = cap;
    }
    x->props[x->n_props++] = PropertyValue{Py_NewRef(name), Py_NewRef(value)};
    return 0;
}

bool remove_property_value(InstanceCachesObject* c, PyObject* name) {
    PropertyValue* pv = find_property_value(c, name);
    if (!pv) return false;
    PropertyValue removed = *pv;
    *pv = c->extra->props[--c->extra->n_props];
    Py_DECREF(removed.name);
    Py_XDECREF(removed.value);
    return true;
}

}  // namespace bc
