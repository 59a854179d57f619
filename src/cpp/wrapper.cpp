// The wrapper returned by lru_cache (CachedFunction, and CachedMethod for
// methods defined in a class body) and the bound object `obj.m`
// (BoundCachedMethod).
//
// Behaviour is chosen once, when the wrapper is made: its vectorcall pointer
// is one of twelve specialisations (uncached / unbounded / bounded LRU,
// typed or not, function or method semantics), so a call runs no branch
// that decoration could have decided, as CPython does with its bounded,
// infinite and uncached wrappers.
//
// Function semantics key the wrapper's own table on every argument, exactly
// as functools does. Method semantics take args[0] as the owner and key the
// owner's own cache (instance_storage.cpp) on the remaining arguments; an
// owner that cannot have one (served_as_functools) is keyed in the wrapper's
// own table with every argument, self included, as functools keys it.
//
// Re-entrancy: the wrapped function, and __hash__/__eq__ of arguments, may
// call this cache again, clear it, raise, or release the GIL. A call
// therefore (1) holds the owner's container for its whole duration, so the
// MethodCache it uses cannot be freed under it; (2) looks the key up again
// after the function returns before storing; (3) never releases a reference
// while a table is inconsistent (Graveyard, lru_store.hpp).
#include "compat.hpp"
#include "objects.hpp"

#include <cstddef>

namespace bc {

Globals g;
PyObject* g_kwd_mark;

namespace {

enum class Kind { Uncached, Unbounded, Bounded };

template <Kind K, bool Typed>
PyObject* cached_call(Table& t, CachedFunctionObject* w, PyObject* const* key_args, Py_ssize_t key_nargs,
                      PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    if constexpr (K == Kind::Uncached) {
        // maxsize=0: functools counts a miss and does not even build a key,
        // so unhashable arguments are accepted.
        t.count_miss();
        return call_function(w, args, nargsf, kwnames);
    } else {
        CallKey<Typed> key(key_args, key_nargs, kwnames);
        Py_hash_t hash = key.hash();
        if (hash == -1) return nullptr;
        // Taken before the first lookup, whose __eq__ calls may use the
        // cache too: then the key is looked up again before storing, as
        // functools' dict insert would compare it again.
        uint64_t mutations = t.mutations();
        int64_t ix = t.find_as<K == Kind::Bounded>(key, hash);
        if (ix >= 0) {
            t.count_hit();
            if constexpr (K == Kind::Bounded) t.move_to_front((uint32_t)ix);
            return Py_NewRef(t.value_at(ix));
        }
        if (ix == Table::kError) return nullptr;
        t.count_miss();
        Ref result(call_function(w, args, nargsf, kwnames));
        if (!result) return nullptr;
        // Build the stored key before the second lookup: allocating it can
        // run the GC, and so finalizers that use this cache.
        Ref stored(key.materialize());
        if (!stored) return nullptr;
        // The call may have stored this key (recursion), cleared or evicted
        // entries: then look again. Between this point and the insert no
        // user code runs.
        if (t.mutations() != mutations) {
            ix = t.find_as<K == Kind::Bounded>(key, hash);
            if (ix == Table::kError) return nullptr;
        }
        Graveyard graveyard;  // what the insert evicts or replaces, released last
        if (ix >= 0) {
            // As functools: the bounded cache keeps the entry already there,
            // the unbounded one stores the newer result over it.
            if constexpr (K == Kind::Unbounded) t.replace_value(ix, Py_NewRef(result.get()), graveyard);
            return result.release();
        }
        if (t.insert(hash, stored.release(), Py_NewRef(result.get()), K == Kind::Bounded ? w->maxsize : -1,
                     graveyard) < 0)
            return nullptr;
        return result.release();
    }
}

template <Kind K, bool Typed>
PyObject* function_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* w = (CachedFunctionObject*)self;
    return cached_call<K, Typed>(w->table, w, args, PyVectorcall_NARGS(nargsf), args, nargsf, kwnames);
}

template <Kind K, bool Typed>
PyObject* method_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* w = (CachedFunctionObject*)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    // No positional owner: nothing to cache on; the function itself reports
    // the missing argument (or accepts the call).
    if (nargs == 0) return call_function(w, args, nargsf, kwnames);
    CallHold holder;
    MethodCache* mc = method_cache_for(args[0], w, holder);
    if (mc) return cached_call<K, Typed>(mc->table, w, args + 1, nargs - 1, args, nargsf, kwnames);
    if (PyErr_Occurred()) return nullptr;
    return cached_call<K, Typed>(w->table, w, args, nargs, args, nargsf, kwnames);
}

template <bool Method, bool Typed>
vectorcallfunc pick(Kind kind) {
    switch (kind) {
        case Kind::Uncached:
            return Method ? method_vectorcall<Kind::Uncached, Typed> : function_vectorcall<Kind::Uncached, Typed>;
        case Kind::Unbounded:
            return Method ? method_vectorcall<Kind::Unbounded, Typed> : function_vectorcall<Kind::Unbounded, Typed>;
        default:
            return Method ? method_vectorcall<Kind::Bounded, Typed> : function_vectorcall<Kind::Bounded, Typed>;
    }
}

vectorcallfunc pick(Kind kind, bool typed, bool method) {
    if (method) return typed ? pick<true, true>(kind) : pick<true, false>(kind);
    return typed ? pick<false, true>(kind) : pick<false, false>(kind);
}

Kind kind_of(Py_ssize_t maxsize) { return maxsize < 0 ? Kind::Unbounded : maxsize == 0 ? Kind::Uncached : Kind::Bounded; }

PyObject* maxsize_object(Py_ssize_t maxsize) { return maxsize < 0 ? Py_NewRef(Py_None) : PyLong_FromSsize_t(maxsize); }

}  // namespace

// ---- per-owner cache bookkeeping ----

void link_method_cache(CachedFunctionObject* w, MethodCache* mc) {
    LiveLink* head = &w->live;
    mc->link.prev = head->prev;
    mc->link.next = head;
    head->prev->next = &mc->link;
    head->prev = &mc->link;
}

void unlink_method_cache(MethodCache* mc) {
    mc->link.prev->next = mc->link.next;
    mc->link.next->prev = mc->link.prev;
    mc->link.prev = mc->link.next = &mc->link;
}

void detach_method_caches(CachedFunctionObject* w, Graveyard& graveyard) {
    // Runs no user code: what the caches held goes to the caller's graveyard.
    while (w->live.next != &w->live) {
        auto* mc = reinterpret_cast<MethodCache*>(w->live.next);
        unlink_method_cache(mc);
        mc->wrapper = nullptr;
        mc->table.take_all(graveyard);
        mc->table.detach_total();
        mc->table.reset_stats();
    }
}

void retire_method_cache(MethodCache* mc) {
    mc->wrapper->retired_hits += mc->table.hits();
    mc->wrapper->retired_misses += mc->table.misses();
    mc->table.reset_stats();
}

template <class F>
static void for_each_live(CachedFunctionObject* w, F&& f) {
    for (LiveLink* l = w->live.next; l != &w->live; l = l->next) f(reinterpret_cast<MethodCache*>(l));
}

PyObject* make_cache_info(Py_ssize_t hits, Py_ssize_t misses, Py_ssize_t maxsize, Py_ssize_t currsize) {
    Ref max(maxsize_object(maxsize));
    if (!max) return nullptr;
    return PyObject_CallFunction(g.cache_info_type, "nnOn", hits, misses, max.get(), currsize);
}

// ---- CachedFunction / CachedMethod ----

static PyObject* wrapper_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", "maxsize", "typed", "promote_on_set_name", "ttl", "timer",
                                   "key", "max_total", "lock", nullptr};
    PyObject* func;
    PyObject* maxsize_obj = Py_None;
    int typed = 0, promote = 0, lock = 0;
    PyObject *ttl = Py_None, *timer = Py_None, *key = Py_None, *max_total = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|Opp$OOOOp:CachedFunction", (char**)kwlist, &func, &maxsize_obj,
                                     &typed, &promote, &ttl, &timer, &key, &max_total, &lock))
        return nullptr;
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "the first argument must be callable");
        return nullptr;
    }
    Py_ssize_t maxsize;
    if (maxsize_obj == Py_None) {
        maxsize = -1;
    } else if (PyLong_Check(maxsize_obj)) {
        maxsize = PyLong_AsSsize_t(maxsize_obj);
        if (maxsize == -1 && PyErr_Occurred()) {
            // Larger than any table can be: unbounded in practice, as in functools.
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return nullptr;
            PyErr_Clear();
            maxsize = long_sign(maxsize_obj) < 0 ? 0 : PY_SSIZE_T_MAX;
        }
        if (maxsize < 0) maxsize = 0;
    } else {
        PyErr_SetString(PyExc_TypeError, "maxsize should be an integer or None");
        return nullptr;
    }
    auto* w = (CachedFunctionObject*)type->tp_alloc(type, 0);
    if (!w) return nullptr;
    new (&w->table) Table();
    w->live.prev = w->live.next = &w->live;
    w->func = Py_NewRef(func);
    w->maxsize = maxsize;
    w->typed = typed;
    w->promote_on_set_name = promote;
    Ref owned((PyObject*)w);
    if (!parse_options(w, ttl, timer, key, max_total, lock)) return nullptr;
    Kind kind = kind_of(maxsize);
    bool method = type == &CachedMethod_Type;
    if (w->options && kind != Kind::Uncached) {
        w->method_call = options_vectorcall(w, true);
        w->vectorcall = options_vectorcall(w, method);
    } else {
        // Without options, or with maxsize=0 (nothing is kept, so no
        // option has anything to act on): the core's own specialisations.
        w->method_call = pick(kind, typed, true);
        w->vectorcall = pick(kind, typed, method);
    }
    return owned.release();
}

static int wrapper_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* w = (CachedFunctionObject*)self;
    Py_VISIT(w->func);
    Py_VISIT(w->dict);
    Py_VISIT(w->pinning_warned);
    if (int r = traverse_options(w->options, visit, arg)) return r;
    return w->table.traverse(visit, arg);
}

// The GC clears a wrapper that is cyclic garbage: it is still alive (its
// refcount is not 0) and its instances' caches still borrow it. User code runs
// when the function, the dict and the entries are released (finalizers); it
// may call the wrapper, which then raises ReferenceError (call_function), or
// use its caches, which stay consistent: each field is emptied before the
// reference it held is released.
static int wrapper_clear(PyObject* self) {
    auto* w = (CachedFunctionObject*)self;
    Graveyard graveyard;
    w->table.take_all(graveyard);
    Py_CLEAR(w->func);
    Py_CLEAR(w->dict);
    Py_CLEAR(w->pinning_warned);
    return 0;
}

// A wrapper dying by reference count. User code runs at three points: the
// weak references' callbacks (weakref.finalize on the wrapper), the
// finalizers of the entries released (its own table's and its instances'
// caches' for it), and those of the function (its closure, its defaults),
// its __dict__ and its options (timer=, key=). Before any of them runs,
// every path from user code to this wrapper is cut, so that nothing can
// take a new reference to it and free it a second time:
// - it is untracked, so gc.get_objects() and gc.get_referrers() miss it;
// - the instances' caches borrow it (MethodCache::wrapper, which audit()
//   reads through InstanceCaches._contents() and which a call compares):
//   they are detached first, which runs no user code;
// - weak references to it return None from here on (its refcount is 0),
//   and a BoundCachedMethod owns a reference, so none is left.
// The entries are released only once every table is empty and detached.
// Modelled on CPython's subtype_dealloc and functools' lru_cache_dealloc.
static void wrapper_dealloc(PyObject* self) {
    auto* w = (CachedFunctionObject*)self;
    PyObject_GC_UnTrack(self);
    Graveyard graveyard;
    detach_method_caches(w, graveyard);
    w->table.take_all(graveyard);
    PyObject* func = w->func;
    PyObject* dict = w->dict;
    PyObject* warned = w->pinning_warned;
    w->func = w->dict = w->pinning_warned = nullptr;
    // User code from here on; none of it can reach this wrapper.
    if (w->weakreflist) PyObject_ClearWeakRefs(self);
    graveyard.release();
    Py_XDECREF(func);
    Py_XDECREF(dict);
    Py_XDECREF(warned);
    w->table.~Table();
    free_options(w);  // releases timer= and key=: user code again
    Py_TYPE(self)->tp_free(self);
}

static PyObject* wrapper_descr_get(PyObject* self, PyObject* obj, PyObject*) {
    if (!obj || obj == Py_None) return Py_NewRef(self);
    auto* b = PyObject_GC_New(BoundCachedMethodObject, &BoundCachedMethod_Type);
    if (!b) return nullptr;
    b->wrapper = (CachedFunctionObject*)Py_NewRef(self);
    b->self = Py_NewRef(obj);
    b->vectorcall = bound_vectorcall;
    PyObject_GC_Track(b);
    return (PyObject*)b;
}

static PyObject* wrapper_cache_info(PyObject* self, PyObject*) {
    auto* w = (CachedFunctionObject*)self;
    if (w->options && w->options->has_ttl) {
        // currsize counts live entries only. The clock is read once, before
        // the walk: a timer run for each table could free the instance whose
        // cache the walk is at, and its MethodCache with it.
        double now;
        if (!read_clock(w->options, now)) return nullptr;
        Graveyard graveyard;  // released once every table was purged
        purge_expired(w, w->table, now, graveyard);
        for_each_live(w, [&](MethodCache* mc) { purge_expired(w, mc->table, now, graveyard); });
    }
    Py_ssize_t hits = w->table.hits() + w->retired_hits;
    Py_ssize_t misses = w->table.misses() + w->retired_misses;
    Py_ssize_t size = w->table.size();
    for_each_live(w, [&](MethodCache* mc) {
        hits += mc->table.hits();
        misses += mc->table.misses();
        size += mc->table.size();
    });
    return make_cache_info(hits, misses, w->maxsize, size);
}

static PyObject* wrapper_cache_clear(PyObject* self, PyObject*) {
    auto* w = (CachedFunctionObject*)self;
    Graveyard graveyard;  // released once every cache is empty
    w->table.take_all(graveyard);
    w->table.reset_stats();
    w->retired_hits = w->retired_misses = 0;
    for_each_live(w, [&](MethodCache* mc) {
        mc->table.take_all(graveyard);
        mc->table.reset_stats();
    });
    graveyard.release();
    Py_RETURN_NONE;
}

static PyObject* wrapper_cache_parameters(PyObject* self, PyObject*) {
    auto* w = (CachedFunctionObject*)self;
    Ref max(maxsize_object(w->maxsize));
    if (!max) return nullptr;
    Ref params(Py_BuildValue("{sOsO}", "maxsize", max.get(), "typed", w->typed ? Py_True : Py_False));
    if (!params || (w->options && add_option_parameters(w, params.get()) < 0)) return nullptr;
    return params.release();
}

// Pickled by reference, like functions and functools' wrapper.
static PyObject* wrapper_reduce(PyObject* self, PyObject*) {
    return PyObject_GetAttrString(self, "__qualname__");
}

static PyObject* wrapper_copy(PyObject* self, PyObject*) { return Py_NewRef(self); }

// Defined in a class body (`m = lru_cache(helper)`): calls with the instance
// first get method semantics from now on. The Python layer decides at
// decoration time whether a __set_name__ may do this (promote_on_set_name),
// so that aliasing a module-level cached function into a class keeps its
// function semantics.
static PyObject* wrapper_set_name(PyObject* self, PyObject* args) {
    PyObject *owner, *name;
    if (!PyArg_ParseTuple(args, "OO:__set_name__", &owner, &name)) return nullptr;
    auto* w = (CachedFunctionObject*)self;
    if (Py_IS_TYPE(self, &CachedFunction_Type) && w->promote_on_set_name) {
        // Same layout, static types: the interpreter allows such a switch
        // for __class__ assignment too.
        Py_SET_TYPE(self, &CachedMethod_Type);
        w->vectorcall = w->method_call;
    }
    Py_RETURN_NONE;
}

PyObject* table_items(const Table& t) {
    // Snapshot first: building the list allocates, which can run the GC and
    // finalizers that clear or evict from this very table.
    Py_ssize_t n = t.size();
    PyObject** items = t.snapshot();
    if (!items && PyErr_Occurred()) return nullptr;
    PyObject* out = PyList_New(n);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject* pair = out ? PyTuple_Pack(2, items[2 * i], items[2 * i + 1]) : nullptr;
        if (pair) {
            PyList_SET_ITEM(out, i, pair);
        } else {
            Py_CLEAR(out);
        }
    }
    for (Py_ssize_t i = 0; i < 2 * n; i++) Py_DECREF(items[i]);
    PyMem_Free(items);
    return out;
}

// Introspection for audit(): the (key, value) pairs of the function-semantics
// table, most recently used first.
static PyObject* wrapper_entries(PyObject* self, PyObject*) {
    return table_items(((CachedFunctionObject*)self)->table);
}

static PyObject* wrapper_repr(PyObject* self) {
    Ref qualname(PyObject_GetAttrString(self, "__qualname__"));
    if (!qualname) {
        PyErr_Clear();
        return PyUnicode_FromFormat("<%s object at %p>", Py_TYPE(self)->tp_name, self);
    }
    return PyUnicode_FromFormat("<%s %S>", Py_IS_TYPE(self, &CachedMethod_Type) ? "cached method" : "cached function",
                                qualname.get());
}

// "name($self, /)\n--\n\n": the text signature, as functools' methods have
// (inspect.signature() infers none for METH_NOARGS before 3.13).
static PyMethodDef wrapper_methods[] = {
    {"cache_info", wrapper_cache_info, METH_NOARGS,
     "cache_info($self, /)\n--\n\nReport cache statistics: for a method, summed over every instance."},
    {"cache_clear", wrapper_cache_clear, METH_NOARGS,
     "cache_clear($self, /)\n--\n\nClear the cache and its statistics: for a method, every live instance's."},
    {"cache_parameters", wrapper_cache_parameters, METH_NOARGS,
     "cache_parameters($self, /)\n--\n\n{'maxsize': ..., 'typed': ...}"},
    {"__reduce__", wrapper_reduce, METH_NOARGS, nullptr},
    {"__copy__", wrapper_copy, METH_NOARGS, nullptr},
    {"__deepcopy__", wrapper_copy, METH_O, nullptr},
    {"__set_name__", wrapper_set_name, METH_VARARGS, nullptr},
    {"_entries", wrapper_entries, METH_NOARGS, "[(key, value), ...] of calls with function semantics."},
    {"_discard", (PyCFunction)(void (*)(void))wrapper_discard, METH_FASTCALL | METH_KEYWORDS,
     "_discard(value, *args, **kwargs): forget the entry of that call if it holds value."},
    {nullptr, nullptr, 0, nullptr},
};

static PyObject* wrapper_get_owner_caches(PyObject* self, void*) {
    // Number of live per-owner caches, for audit() and tests.
    Py_ssize_t n = 0;
    for_each_live((CachedFunctionObject*)self, [&](MethodCache*) { n++; });
    return PyLong_FromSsize_t(n);
}

static PyGetSetDef wrapper_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"_owner_caches", wrapper_get_owner_caches, nullptr, "Number of live per-owner caches.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject CachedFunction_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.boundcache_CachedFunction",
    sizeof(CachedFunctionObject),
};

PyTypeObject CachedMethod_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "functools.boundcache_CachedMethod",
    sizeof(CachedFunctionObject),
};

static void init_wrapper_type(PyTypeObject& t, const char* doc, unsigned long extra_flags) {
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | extra_flags;
    t.tp_doc = doc;
    t.tp_dealloc = wrapper_dealloc;
    t.tp_traverse = wrapper_traverse;
    t.tp_clear = wrapper_clear;
    t.tp_new = wrapper_new;
    t.tp_repr = wrapper_repr;
    t.tp_call = PyVectorcall_Call;
    t.tp_vectorcall_offset = offsetof(CachedFunctionObject, vectorcall);
    t.tp_descr_get = wrapper_descr_get;
    t.tp_dictoffset = offsetof(CachedFunctionObject, dict);
    t.tp_weaklistoffset = offsetof(CachedFunctionObject, weakreflist);
    t.tp_methods = wrapper_methods;
    t.tp_getset = wrapper_getset;
}

void init_wrapper_types() {
    init_wrapper_type(CachedFunction_Type,
                      "A function memoized by boundcache.lru_cache; reached through an instance, each instance "
                      "gets its own cache.",
                      0);
    // Calls through an instance pass it first (obj.m(x) == Cls.m(obj, x)),
    // so the interpreter may skip building a bound object.
    init_wrapper_type(CachedMethod_Type,
                      "A method memoized by boundcache.lru_cache: each instance owns its cache, freed with it.",
                      Py_TPFLAGS_METHOD_DESCRIPTOR);
    CachedMethod_Type.tp_base = &CachedFunction_Type;
}

}  // namespace bc
