// BoundCachedMethod: what `obj.m` returns. It holds the instance only for as
// long as the bound object itself lives (like a bound method); the cache it
// reaches is the instance's own, so obj.m.cache_info() and
// obj.m.cache_clear() see that one instance.
#include "compat.hpp"
#include "objects.hpp"

namespace bc {

// f(args with `first` before them), for a vectorcall that may not borrow
// args[-1]: the keyword values follow the positional ones.
template <class F>
static PyObject* prepending(PyObject* first, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, F&& f) {
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject* small[8];
    PyObject** with_first = total + 1 <= 8 ? small : (PyObject**)PyMem_Malloc((total + 1) * sizeof(PyObject*));
    if (!with_first) return PyErr_NoMemory();
    with_first[0] = first;
    for (Py_ssize_t i = 0; i < total; i++) with_first[i + 1] = args[i];
    PyObject* result = f(with_first);
    if (with_first != small) PyMem_Free(with_first);
    return result;
}

// Calls the wrapper's method-semantics entry with the instance prepended.
PyObject* bound_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* b = (BoundCachedMethodObject*)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject* wrapper = (PyObject*)b->wrapper;
    vectorcallfunc call = b->wrapper->method_call;
    if (nargsf & PY_VECTORCALL_ARGUMENTS_OFFSET) {
        // The caller lets us borrow args[-1]; restore it afterwards.
        auto** with_self = const_cast<PyObject**>(args) - 1;
        PyObject* saved = with_self[0];
        with_self[0] = b->self;
        PyObject* result = call(wrapper, with_self, nargs + 1, kwnames);
        with_self[0] = saved;
        return result;
    }
    return prepending(b->self, args, nargs, kwnames,
                      [&](PyObject* const* with_self) { return call(wrapper, with_self, nargs + 1, kwnames); });
}

static int bound_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* b = (BoundCachedMethodObject*)self;
    Py_VISIT((PyObject*)b->wrapper);
    Py_VISIT(b->self);
    return 0;
}

static int bound_clear(PyObject* self) {
    auto* b = (BoundCachedMethodObject*)self;
    Py_CLEAR(b->wrapper);
    Py_CLEAR(b->self);
    return 0;
}

// Releasing the wrapper and the instance runs user code (the instance's
// finalizer, the wrapper's dealloc): by then this object is untracked with
// refcount 0 and nothing refers to it, so that code cannot reach it.
static void bound_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    bound_clear(self);
    Py_TYPE(self)->tp_free(self);
}

// The instance's cache for this method, if it has one yet.
static MethodCache* own_cache(BoundCachedMethodObject* b, Ref& holder) {
    holder.reset(find_instance_caches(b->self));
    if (!holder) return nullptr;
    return find_method_cache((InstanceCachesObject*)holder.get(), b->wrapper);
}

// key=: the cache is the class's own, and obj.m reports and clears that one.
static bool class_wide(BoundCachedMethodObject* b) { return b->wrapper->options && b->wrapper->options->key; }

// The table obj.m reports: the instance's own cache, or for an owner served
// as functools the wrapper's one table, as functools' obj.m reports it.
// NULL without an exception if the instance has no cache yet.
static Table* own_table(BoundCachedMethodObject* b, Ref& holder) {
    if (MethodCache* mc = own_cache(b, holder)) return &mc->table;
    if (PyErr_Occurred() || !served_as_functools(b->self)) return nullptr;
    return &b->wrapper->table;  // b holds the wrapper
}

static PyObject* bound_cache_info(PyObject* self, PyObject*) {
    auto* b = (BoundCachedMethodObject*)self;
    if (class_wide(b)) return PyObject_CallMethod((PyObject*)b->wrapper, "cache_info", nullptr);
    Ref holder;
    Table* t = own_table(b, holder);
    if (!t) return PyErr_Occurred() ? nullptr : make_cache_info(0, 0, b->wrapper->maxsize, 0);
    if (Options* o = b->wrapper->options; o && o->has_ttl) {
        double now;  // ttl=: currsize counts live entries only
        if (!read_clock(o, now)) return nullptr;
        t = own_table(b, holder);  // the timer may have cleared or replaced it
        if (!t) return PyErr_Occurred() ? nullptr : make_cache_info(0, 0, b->wrapper->maxsize, 0);
        Graveyard graveyard;
        purge_expired(b->wrapper, *t, now, graveyard);
    }
    return make_cache_info(t->hits(), t->misses(), b->wrapper->maxsize, t->size());
}

static PyObject* bound_cache_clear(PyObject* self, PyObject*) {
    auto* b = (BoundCachedMethodObject*)self;
    if (class_wide(b)) return PyObject_CallMethod((PyObject*)b->wrapper, "cache_clear", nullptr);
    Ref holder;
    Graveyard graveyard;  // released last, once the table is empty
    if (MethodCache* mc = own_cache(b, holder)) {
        retire_method_cache(mc);  // the per-class sums keep counting them
        mc->table.take_all(graveyard);
    } else if (PyErr_Occurred()) {
        return nullptr;
    } else if (served_as_functools(b->self)) {
        // functools' obj.m.cache_clear(): the one cache, statistics included.
        b->wrapper->table.take_all(graveyard);
        b->wrapper->table.reset_stats();
    }
    graveyard.release();
    Py_RETURN_NONE;
}

// obj.m.cache_delete(*args, **kwargs): the entry of obj.m(*args, **kwargs).
// With key= the cache is the class's: the wrapper's own cache_delete decides
// (a Redis tier replaces it), given the instance first.
static PyObject* bound_cache_delete(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    auto* b = (BoundCachedMethodObject*)self;
    Ref method;
    if (class_wide(b)) {
        method.reset(PyObject_GetAttrString((PyObject*)b->wrapper, "cache_delete"));
        if (!method) return nullptr;
    }
    return prepending(b->self, args, nargs, kwnames, [&](PyObject* const* with_self) {
        return method ? PyObject_Vectorcall(method.get(), with_self, nargs + 1, kwnames)
                      : cache_delete(b->wrapper, true, with_self, nargs + 1, kwnames);
    });
}

static PyObject* bound_cache_parameters(PyObject* self, PyObject*) {
    return PyObject_CallMethod((PyObject*)((BoundCachedMethodObject*)self)->wrapper, "cache_parameters", nullptr);
}

static PyObject* bound_reduce(PyObject* self, PyObject*) {
    auto* b = (BoundCachedMethodObject*)self;
    Ref name(PyObject_GetAttrString((PyObject*)b->wrapper, "__name__"));
    if (!name) return nullptr;
    PyObject* builtins = PyEval_GetBuiltins();  // borrowed
    PyObject* getattr = builtins ? PyDict_GetItemString(builtins, "getattr") : nullptr;
    if (!getattr) {
        PyErr_SetString(PyExc_RuntimeError, "builtins.getattr not found");
        return nullptr;
    }
    return Py_BuildValue("O(OO)", getattr, b->self, name.get());
}

static PyObject* bound_get_self(PyObject* self, void*) { return Py_NewRef(((BoundCachedMethodObject*)self)->self); }

static PyObject* bound_get_wrapped(PyObject* self, void*) {
    return PyObject_GetAttrString((PyObject*)((BoundCachedMethodObject*)self)->wrapper, "__wrapped__");
}

static PyObject* bound_get_doc(PyObject* self, void*) {
    return PyObject_GetAttrString((PyObject*)((BoundCachedMethodObject*)self)->wrapper, "__doc__");
}

// inspect.signature(obj.m): the function's signature without its first
// parameter, as for a bound method.
static PyObject* bound_get_signature(PyObject* self, void*) {
    auto* b = (BoundCachedMethodObject*)self;
    Ref inspect(PyImport_ImportModule("inspect"));
    if (!inspect) return nullptr;
    Ref sig(PyObject_CallMethod(inspect.get(), "signature", "O", (PyObject*)b->wrapper));
    if (!sig) return nullptr;
    Ref params(PyObject_GetAttrString(sig.get(), "parameters"));
    if (!params) return nullptr;
    Ref values(PyObject_CallMethod(params.get(), "values", nullptr));
    if (!values) return nullptr;
    Ref list(PySequence_List(values.get()));
    if (!list) return nullptr;
    Py_ssize_t n = PyList_GET_SIZE(list.get());
    Ref rest(PyList_GetSlice(list.get(), n ? 1 : 0, n));
    if (!rest) return nullptr;
    Ref replace(PyObject_GetAttrString(sig.get(), "replace"));
    if (!replace) return nullptr;
    Ref kwargs(Py_BuildValue("{sO}", "parameters", rest.get()));
    if (!kwargs) return nullptr;
    Ref empty(PyTuple_New(0));
    if (!empty) return nullptr;
    return PyObject_Call(replace.get(), empty.get(), kwargs.get());
}

// Everything else (__name__, __qualname__, __module__, ...) comes from the
// wrapper, as a bound method forwards to its function.
static PyObject* bound_getattro(PyObject* self, PyObject* name) {
    PyObject* r = _PyObject_GenericGetAttrWithDict(self, name, nullptr, 1);
    if (r || PyErr_Occurred()) return r;
    return PyObject_GetAttr((PyObject*)((BoundCachedMethodObject*)self)->wrapper, name);
}

static PyObject* bound_richcompare(PyObject* a, PyObject* b, int op) {
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(b, &BoundCachedMethod_Type)) Py_RETURN_NOTIMPLEMENTED;
    auto* x = (BoundCachedMethodObject*)a;
    auto* y = (BoundCachedMethodObject*)b;
    bool eq = x->wrapper == y->wrapper && x->self == y->self;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t bound_hash(PyObject* self) {
    auto* b = (BoundCachedMethodObject*)self;
    Py_hash_t h = hash_pointer(b->self) ^ hash_pointer(b->wrapper);
    return h == -1 ? -2 : h;
}

static PyObject* bound_repr(PyObject* self) {
    auto* b = (BoundCachedMethodObject*)self;
    Ref qualname(PyObject_GetAttrString((PyObject*)b->wrapper, "__qualname__"));
    if (!qualname) {
        PyErr_Clear();
        qualname.reset(PyUnicode_FromString("?"));
        if (!qualname) return nullptr;
    }
    return PyUnicode_FromFormat("<bound cached method %U of %R>", qualname.get(), b->self);
}

static PyMethodDef bound_methods[] = {
    // "name($self, /)\n--\n\n" gives inspect.signature() its "()", as
    // functools' methods have (3.13 infers it for METH_NOARGS; 3.10-3.12 do not).
    {"cache_info", bound_cache_info, METH_NOARGS,
     "cache_info($self, /)\n--\n\nReport this instance's cache statistics."},
    {"cache_clear", bound_cache_clear, METH_NOARGS,
     "cache_clear($self, /)\n--\n\nClear this instance's cache and statistics."},
    {"cache_parameters", bound_cache_parameters, METH_NOARGS,
     "cache_parameters($self, /)\n--\n\n{'maxsize': ..., 'typed': ...}"},
    {"cache_delete", (PyCFunction)(void (*)(void))bound_cache_delete, METH_FASTCALL | METH_KEYWORDS,
     "cache_delete($self, /, *args, **kwargs)\n--\n\nRemove the entry this call would use from this instance's "
     "cache; True if there was one."},
    {"__reduce__", bound_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

static PyGetSetDef bound_getset[] = {
    {"__self__", bound_get_self, nullptr, "The instance whose cache this is.", nullptr},
    {"__wrapped__", bound_get_wrapped, nullptr, "The memoized function.", nullptr},
    {"__doc__", bound_get_doc, nullptr, nullptr, nullptr},
    {"__signature__", bound_get_signature, nullptr, "The signature without its first parameter.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject BoundCachedMethod_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "boundcache.BoundCachedMethod",
    sizeof(BoundCachedMethodObject),
};

void init_bound_method_type() {
    PyTypeObject& t = BoundCachedMethod_Type;
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
    t.tp_doc = "A cached method bound to an instance: obj.m.";
    t.tp_dealloc = bound_dealloc;
    t.tp_traverse = bound_traverse;
    t.tp_clear = bound_clear;
    t.tp_repr = bound_repr;
    t.tp_hash = bound_hash;
    t.tp_richcompare = bound_richcompare;
    t.tp_getattro = bound_getattro;
    t.tp_call = PyVectorcall_Call;
    t.tp_vectorcall_offset = offsetof(BoundCachedMethodObject, vectorcall);
    t.tp_methods = bound_methods;
    t.tp_getset = bound_getset;
}

}  // namespace bc
