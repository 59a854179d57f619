// The boundcache._core module: readies the types and the module-wide objects.
//
// Single-phase initialisation with static types, and two heap types made
// once (cached_property, a subclass of functools.cached_property): the module
// is shared by the legacy subinterpreters of a process and refuses to load in
// an interpreter with its own GIL (CPython raises a clear ImportError there).
#include "flight_gate.hpp"
#include "objects.hpp"

namespace bc {
void init_instance_caches_type();
void init_caches_ticket_type();
void init_wrapper_types();
void init_bound_method_type();
bool init_cached_property_types();
void init_flight_type();
PyObject* make_owner_died_callback();
PyObject* weak_table_containers(PyObject*, PyObject*);
}  // namespace bc

using namespace bc;

static PyObject* make_cache_info_type() {
    Ref collections(PyImport_ImportModule("collections"));
    if (!collections) return nullptr;
    Ref fields(Py_BuildValue("[ssss]", "hits", "misses", "maxsize", "currsize"));
    if (!fields) return nullptr;
    Ref namedtuple(PyObject_GetAttrString(collections.get(), "namedtuple"));
    if (!namedtuple) return nullptr;
    Ref args(Py_BuildValue("(sO)", "CacheInfo", fields.get()));
    Ref kwargs(Py_BuildValue("{ss}", "module", "boundcache"));
    if (!args || !kwargs) return nullptr;
    PyObject* type = PyObject_Call(namedtuple.get(), args.get(), kwargs.get());
    if (!type) return nullptr;
    // Every interpreter of the process shares this class (single-phase
    // init). From 3.12 a mutable heap type takes its method-cache version tag
    // from the counter of the interpreter that looks it up first, which
    // another interpreter may then hand to an unrelated class: lookups on
    // that class would find CacheInfo's attributes. Immutable types take
    // their tags from the process-wide counter; drop the tag already given.
    ((PyTypeObject*)type)->tp_flags |= Py_TPFLAGS_IMMUTABLETYPE;
    PyType_Modified((PyTypeObject*)type);
    return type;
}

// os.register_at_fork(after_in_child=...), from the package: the child starts
// with no computation in flight but its own (flight_gate.hpp).
static PyObject* after_fork_child(PyObject*, PyObject*) {
    FlightGate::after_fork_child();
    Py_RETURN_NONE;
}

static PyMethodDef core_functions[] = {
    {"_after_fork_child", after_fork_child, METH_NOARGS,
     "_after_fork_child($module, /)\n--\n\nForget the computations of threads that a fork left behind."},
    {"_weak_table_containers", weak_table_containers, METH_NOARGS,
     "The containers of the weak table (owners with neither __dict__ nor __boundcache__ slot), as a new list."},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "boundcache._core",
    "The C++ core of boundcache: wrappers, per-instance storage and the LRU store.",
    -1,
    core_functions,
};

// Types and module-wide objects are set up once per process: a second
// initialisation (a legacy subinterpreter) must not reset flags that
// PyType_Ready already set.
static bool init_process_state() {
    if (g.str_boundcache) return true;
    init_instance_caches_type();
    init_caches_ticket_type();
    init_wrapper_types();
    init_bound_method_type();
    init_flight_type();
    for (PyTypeObject* t : {&InstanceCaches_Type, &CachesTicket_Type, &CachedFunction_Type, &CachedMethod_Type, &BoundCachedMethod_Type,
                            &Flight_Type}) {
        if (PyType_Ready(t) < 0) return false;
    }
    if (!CachedProperty_Type && !init_cached_property_types()) return false;
    g_kwd_mark = PyObject_CallNoArgs((PyObject*)&PyBaseObject_Type);
    g.cache_info_type = make_cache_info_type();
    g.owner_died = make_owner_died_callback();
    g.weakref_args = PyTuple_New(2);
    if (!g_kwd_mark || !g.cache_info_type || !g.owner_died || !g.weakref_args) return false;
    // CPython's tp_finalize for a class that defines __del__, read off one.
    Ref with_del(PyObject_CallFunction((PyObject*)&PyType_Type, "s(){sO}", "_with_del", "__del__", g.owner_died));
    if (!with_del) return false;
    g.slot_finalize = ((PyTypeObject*)with_del.get())->tp_finalize;
    PyObject_GC_UnTrack(g.weakref_args);  // holds borrowed references only, briefly
#if PY_VERSION_HEX >= 0x030B0000
    Ref probe(PyWeakref_NewRef(g.cache_info_type, nullptr));
    if (!probe) return false;
    g.weakref_vectorcall = ((PyWeakReference*)probe.get())->vectorcall;
#endif
    // Set last: it marks the state as complete.
    g.str_boundcache = PyUnicode_InternFromString("__boundcache__");
    return g.str_boundcache != nullptr;
}

PyMODINIT_FUNC PyInit__core(void) {
    if (!init_process_state()) return nullptr;
    Ref m(PyModule_Create(&core_module));
    if (!m) return nullptr;
    struct {
        const char* name;
        PyObject* obj;
    } exports[] = {
        {"CachedFunction", (PyObject*)&CachedFunction_Type},
        {"CachedMethod", (PyObject*)&CachedMethod_Type},
        {"BoundCachedMethod", (PyObject*)&BoundCachedMethod_Type},
        {"InstanceCaches", (PyObject*)&InstanceCaches_Type},
        {"cached_property", (PyObject*)CachedProperty_Type},
        {"SlottedCachedProperty", (PyObject*)SlottedCachedProperty_Type},
        {"CacheInfo", g.cache_info_type},
    };
    for (auto& e : exports) {
        if (PyModule_AddObjectRef(m.get(), e.name, e.obj) < 0) return nullptr;
    }
    return m.release();
}
