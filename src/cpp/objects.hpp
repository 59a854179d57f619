// Object layouts shared by the extension's files, and the module-wide state.
#pragma once
#include "lru_store.hpp"

namespace bc {

// A node of the circular list through which a wrapper reaches the caches that
// instances hold for it (for Cls.m.cache_info() and Cls.m.cache_clear()),
// without holding those instances.
struct LiveLink {
    LiveLink* prev;
    LiveLink* next;
};

struct CachedFunctionObject;
class FlightMap;

// The keyword options of lru_cache beyond functools' (options.cpp). Only
// wrappers made with one of them have an Options, and only they run the
// vectorcalls that read it.
struct Options {
    bool has_ttl = false;
    double ttl = 0;             // seconds an entry lives after it is stored
    PyObject* timer = nullptr;  // strong; NULL: the monotonic clock, read in C
    PyObject* key = nullptr;    // strong; NULL: functools' key rules
    Py_ssize_t max_total = 0;   // 0: no bound across instances
    TotalLru total;             // recency of every entry, when max_total > 0
    FlightMap* flights = nullptr;  // lock=True: the calls in progress (options.cpp)
    uint64_t flight_changes = 0;  // bumped whenever a flight is filed or removed
};

// One cached method's cache on one owner. Owned by the owner's
// InstanceCaches container; lives exactly as long as that container.
//
// Its wrapper is borrowed, not owned: the container must hold nothing that
// could lead back to the owner (the wrapper's function may close over it),
// or an owner kept in the weak table, which is a root, could never be
// freed. A wrapper that dies first detaches its caches: it empties them and
// sets `wrapper` to NULL, so no later wrapper at the same address matches
// (and the place may serve another wrapper).
struct MethodCache {
    LiveLink link;                  // first member: LiveLink* <-> MethodCache*
    CachedFunctionObject* wrapper;  // borrowed; NULL once the wrapper died
    Table table;
    // The table's tail (Table::kTailBytes): its first entries, or for a
    // wrapper with max_total=, the TotalLru.
    alignas(Entry) unsigned char table_tail[Table::kTailBytes];

    MethodCache() noexcept { table.use_inline_entries(); }
};
static_assert(offsetof(MethodCache, table_tail) == offsetof(MethodCache, table) + sizeof(Table),
              "a Table finds its tail right after itself");

// The wrapper returned by lru_cache. CachedMethod is a subclass type with the
// same layout that adds Py_TPFLAGS_METHOD_DESCRIPTOR.
struct CachedFunctionObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;   // chosen at decoration time: function or method semantics
    vectorcallfunc method_call;  // method semantics (args[0] is the owner), for bound calls
    PyObject* func;
    PyObject* dict;
    PyObject* weakreflist;
    Py_ssize_t maxsize;    // -1: unbounded
    bool typed;
    bool promote_on_set_name;  // __set_name__ makes a function wrapper a method wrapper
    Table table;           // the cache of calls with function semantics
    TotalLru* table_tail;  // its tail: the TotalLru of max_total= (Table::enable_options)
    LiveLink live;         // sentinel of the list of MethodCaches for this wrapper
    // Statistics of per-owner caches that died or were cleared on their own,
    // so that Cls.m.cache_info() sums over every instance.
    Py_ssize_t retired_hits;
    Py_ssize_t retired_misses;
    Options* options;  // NULL unless made with ttl=, key=, max_total= or lock=
    // Weak references to the classes this wrapper has warned about
    // (PinningWarning, once per class); NULL until the first.
    PyObject* pinning_warned;
};

static_assert(offsetof(CachedFunctionObject, table_tail) == offsetof(CachedFunctionObject, table) + sizeof(Table),
              "a Table finds its tail right after itself");

// The bound object `obj.m`.
struct BoundCachedMethodObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    CachedFunctionObject* wrapper;
    PyObject* self;
};

// A cached_property value kept outside the instance __dict__ (slots
// classes), under its attribute name as it would be in a __dict__ (and, as
// for the wrappers above, without a reference to the descriptor).
struct PropertyValue {
    PyObject* name;   // strong, a str
    PyObject* value;  // strong
};

// What only some containers need, kept apart so that the common one (an
// owner with a __dict__ and weak references, one cached method) stays small.
struct CachesExtra {
    // An owner without weak references (a __boundcache__ slot only, or a
    // ticket): its address, never dereferenced; NULL once it is nobody's.
    void* owner;
    MethodCache** more;  // the caches of the second and later methods
    uint32_t n_more, cap_more;
    PropertyValue* props;  // cached_property values, for owners without a __dict__
    uint32_t n_props, cap_props;
    bool in_weak_table;
    // Made for an owner without weak references, so never linked to one: a
    // cleared referent means nothing (see owner_died).
    bool unlinked;
    // Reached only through a ticket (owners without weak references): found
    // directly under __boundcache__, it was put there by someone else.
    bool ticketed;
    // Its ticket still holds it (cleared when the ticket lets it go).
    bool held_by_ticket;
};

// The per-owner container stored under __boundcache__: every cache that
// boundcache keeps for one owner. It is itself a weak reference to its owner
// (a weakref.ref subtype), never a strong one: when the owner dies, the
// weakref callback empties it and clears its referent, even if a shallow
// copy of the owner still shares it, so a dead owner's entries never outlive
// it and no object later allocated at the same address is mistaken for it.
// Its referent is how a lookup knows its owner (wr_object == owner).
// Owners without weak reference support get a container that is a dead
// weakref from birth, whose owner is in `extra`; those with a __dict__ reach
// it through a ticket (CachesTicketObject) that tells them apart by more
// than their address, the others (a __boundcache__ slot only) by address
// alone.
//
// 208 bytes (224 with the GC header) for one method with one entry: the
// first method's cache lives inside (most owners use one cached method),
// so a fresh instance's first call costs one allocation; the rest is in
// `extra`. What a call reads (the referent, the first cache's wrapper and
// table) and what a collection reads (the callback, `extra`, the table's
// flags) come first.
struct InstanceCachesObject {
    PyWeakReference weakref;
    CachesExtra* extra;  // NULL for most containers
    alignas(MethodCache) unsigned char first_cache[sizeof(MethodCache)];  // in use once its wrapper is set
};

inline MethodCache* first_cache(InstanceCachesObject* c) { return reinterpret_cast<MethodCache*>(c->first_cache); }

// Calls f(MethodCache*) for each cache in use in `c`.
template <class F>
void for_each_cache(InstanceCachesObject* c, F&& f) {
    MethodCache* first = first_cache(c);
    if (first->wrapper) f(first);
    if (CachesExtra* x = c->extra) {
        for (uint32_t i = 0; i < x->n_more; i++)
            if (x->more[i]->wrapper) f(x->more[i]);
    }
}

// What an owner without weak references keeps under "__boundcache__" in its
// __dict__ (CPython 3.12+ only): a ticket to its container, never the
// container itself. The ticket is referenced only by dicts (and briefly by a
// lookup), while calls in progress hold the container: so a ticket held
// twice means that a shallow copy's dict shares it, which a container's own
// refcount could not tell from a recursive call.
//
// Such an owner's death is seen through its class's finalizer, which
// boundcache hooks (instance_storage.cpp), and its dict's through a dict
// watcher. The ticket also records what the owner is: its dict, its class
// and an exact copy of its builtin value (the int, str, bytes or tuple it
// derives from), so that an object at a dead owner's address differing in
// any of them is never served the owner's entries, whatever way the owner
// died (docs/design.md, "Owners without weak references").
struct CachesTicketObject {
    PyObject_HEAD
    PyObject* caches;       // strong: an InstanceCaches, ticketed; NULL once cleared
    void* owner_dict;       // never dereferenced; NULL once the container is nobody's
    PyObject* owner_type;   // strong: the owner's class when the ticket was made
    PyObject* owner_value;  // strong: an exact int, str, bytes or tuple equal to the owner's value
    uint64_t epoch;         // the finalizer hooks' epoch it was made in (instance_storage.cpp)
};

// The owner's __dict__ as a borrowed pointer, for comparison only (NULL if
// it has none). On 3.11+ a dict not yet materialised from inline values is
// made now, which allocates (so may run the GC): callers hold what they
// compare it with. Only owners without weak references come here, and their
// dict was materialised when their container was attached.
inline PyObject* owner_dict_of(PyObject* owner) {
    PyObject** p = _PyObject_GetDictPtr(owner);
    return p ? *p : nullptr;
}

extern PyTypeObject CachedFunction_Type;
extern PyTypeObject CachedMethod_Type;
extern PyTypeObject BoundCachedMethod_Type;
extern PyTypeObject InstanceCaches_Type;
extern PyTypeObject CachesTicket_Type;
// Heap types, subclasses of functools.cached_property, made at import and
// kept for the life of the process (cached_property.cpp).
extern PyTypeObject* CachedProperty_Type;
extern PyTypeObject* SlottedCachedProperty_Type;

// Module-wide objects, created once at import.
struct Globals {
    PyObject* str_boundcache;   // "__boundcache__"
    PyObject* cache_info_type;  // CacheInfo named tuple
    PyObject* owner_died;       // the containers' weakref callback
    PyObject* weakref_args;     // (owner, owner_died) for weakref.ref's constructor, reused
#if PY_VERSION_HEX >= 0x030B0000
    vectorcallfunc weakref_vectorcall;  // weakref.ref's own, for containers linked without its constructor
#endif
    destructor slot_finalize;   // tp_finalize of classes that define __del__ (CPython's slot_tp_finalize)
};
extern Globals g;

inline bool type_has_dict(PyTypeObject* tp) {
#ifdef Py_TPFLAGS_MANAGED_DICT
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) return true;
#endif
    return tp->tp_dictoffset != 0;
}

// --- per-owner storage (instance_storage.cpp) ---

// The owner's container if the weak table has it (owners with neither
// __dict__ nor slot), as a new reference; NULL without an exception if not;
// NULL with an exception on error.
PyObject* find_in_weak_table(PyObject* owner);

// The container behind a ticket found in `owner`'s __dict__ (new reference),
// or NULL without an exception if it is not (or no longer) this owner's.
PyObject* caches_from_ticket(PyObject* ticket, PyObject* owner);

// The owner's container if it has one, wherever it is kept; same returns.
// What is found under __boundcache__ is user-reachable (vars(obj), slots,
// gc.get_referrers) and may be anything: it is used only if it is a
// container whose owner is this object, or a ticket to one (owners without
// weak references, whose containers are never stored directly).
inline PyObject* find_instance_caches(PyObject* owner) {
    PyObject* c = _PyObject_GenericGetAttrWithDict(owner, g.str_boundcache, nullptr, 1);
    if (c) {
        auto* ic = (InstanceCachesObject*)c;
        if (Py_IS_TYPE(c, &InstanceCaches_Type) &&
            (ic->weakref.wr_object == owner || (ic->extra && ic->extra->unlinked && !ic->extra->ticketed &&
                                                ic->extra->owner == owner)))
            return c;
        PyObject* behind = Py_IS_TYPE(c, &CachesTicket_Type) ? caches_from_ticket(c, owner) : nullptr;
        Py_DECREF(c);
        if (behind) return behind;
    } else if (PyErr_Occurred()) {
        return nullptr;
    }
    return find_in_weak_table(owner);
}

// Whether calls on `owner` that find no container are served as functools
// serves them (contract 3.5): by the wrapper's own table, keyed on every
// argument, self included. True for owners that have nowhere to keep a
// container (no __dict__, no __boundcache__ slot, no weak references) or
// whose death boundcache cannot observe (a __dict__ but no weak references,
// where no dict watcher serves, or whose dict something else holds too),
// and for classes that define __boundcache__ as something other than a
// slot. Runs no user code; asked again at each call that finds no container.
bool served_as_functools(PyObject* owner);

// The owner's container, created and attached if needed (new reference);
// for an owner served as functools, NULL with a TypeError saying why
// (cached_property's refusal).
PyObject* instance_caches_for(PyObject* owner);
// A new container attached to an owner known to have none (new reference);
// NULL without an exception if the owner is served as functools.
PyObject* attach_instance_caches(PyObject* owner);
// The message of the TypeError for an owner with nowhere to keep caches,
// naming a fix in its class's own terms (boundcache._storage_hint); a new
// str, NULL only on memory error.
PyObject* storage_hint(PyTypeObject* tp);

// The MethodCache for `wrapper` in container `c`, added if missing.
MethodCache* method_cache_in(InstanceCachesObject* c, CachedFunctionObject* wrapper);

inline MethodCache* find_method_cache(InstanceCachesObject* c, CachedFunctionObject* wrapper) {
    MethodCache* first = first_cache(c);
    if (first->wrapper == wrapper) return first;
    if (CachesExtra* x = c->extra) {
        for (uint32_t i = 0; i < x->n_more; i++)
            if (x->more[i]->wrapper == wrapper) return x->more[i];
    }
    return nullptr;
}

// The first call of `wrapper` on an owner served as functools: warns
// (PinningWarning) once per class if the owner is hashed by identity.
// False with the warning's exception set if it was turned into an error.
bool note_functools_owner(CachedFunctionObject* wrapper, PyObject* owner);

// Empties a ticketed container that was retired while calls were using it,
// once the last of them lets it go (see CallHold). Runs user code.
void release_retired(InstanceCachesObject* c);

// The owner's container, held for the length of a call, so that the
// MethodCache the call uses outlives anything the call runs. A ticketed
// container retired meanwhile (a copy, a foreign holder of the owner's dict:
// its entries were spared for the calls using them) is nobody's, yet a
// copy's dict may keep its ticket for long: the last call to let it go
// empties it, so that its entries die now and Cls.m.cache_info() stops
// counting them.
class CallHold {
public:
    CallHold() noexcept = default;
    CallHold(const CallHold&) = delete;
    CallHold& operator=(const CallHold&) = delete;
    ~CallHold() {
        auto* c = (InstanceCachesObject*)ref_.get();
        CachesExtra* x = c ? c->extra : nullptr;
        if (x && x->ticketed && !x->owner && Py_REFCNT((PyObject*)c) == 1 + x->held_by_ticket) release_retired(c);
    }
    void reset(PyObject* c) noexcept { ref_.reset(c); }
    PyObject* get() const noexcept { return ref_.get(); }

private:
    Ref ref_;
};

// Hot path of every method call: the owner's cache for `wrapper`. `holder`
// receives the container, which the caller keeps for the whole call so that
// the MethodCache outlives anything the call runs. NULL without an
// exception: the owner is served as functools, by the wrapper's own table.
inline MethodCache* method_cache_for(PyObject* owner, CachedFunctionObject* wrapper, CallHold& holder) {
    PyObject* c = find_instance_caches(owner);
    if (!c) {
        if (PyErr_Occurred()) return nullptr;
        c = attach_instance_caches(owner);
        if (!c) {
            if (!PyErr_Occurred()) note_functools_owner(wrapper, owner);
            return nullptr;
        }
    }
    holder.reset(c);
    auto* ic = (InstanceCachesObject*)c;
    if (MethodCache* mc = find_method_cache(ic, wrapper)) return mc;
    return method_cache_in(ic, wrapper);
}

// Value slots for cached_property on owners without a __dict__.
PropertyValue* find_property_value(InstanceCachesObject* c, PyObject* name);
int set_property_value(InstanceCachesObject* c, PyObject* name, PyObject* value);  // steals nothing
bool remove_property_value(InstanceCachesObject* c, PyObject* name);

inline PyObject* call_function(CachedFunctionObject* w, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    // func is NULL only after the GC cleared an unreachable wrapper that a
    // finalizer still calls.
    if (!w->func) {
        PyErr_SetString(PyExc_ReferenceError, "this boundcache wrapper has been cleared by the garbage collector");
        return nullptr;
    }
    return PyObject_Vectorcall(w->func, args, nargsf, kwnames);
}

// --- keyword options (options.cpp) ---

// Parses the options given to the wrapper's constructor into w->options
// (left NULL if none is set); false with an exception set.
bool parse_options(CachedFunctionObject* w, PyObject* ttl, PyObject* timer, PyObject* key, PyObject* max_total,
                   int lock);
// The vectorcall for a wrapper with options.
vectorcallfunc options_vectorcall(CachedFunctionObject* w, bool method);
// Readies a new per-owner table of a wrapper with options.
void configure_table(CachedFunctionObject* w, Table& t);
// The wrapper's clock (ttl=); false with an exception set. May run user code.
bool read_clock(Options* o, double& now);
// Drops the expired entries of a ttl= table, so that its size counts live
// ones. Runs no user code (the graveyard does, when released).
void purge_expired(CachedFunctionObject* w, Table& t, double now, Graveyard& graveyard);
int traverse_options(Options* o, visitproc visit, void* arg);
void free_options(CachedFunctionObject* w);
// cache_parameters() entries for the options.
int add_option_parameters(CachedFunctionObject* w, PyObject* params);
PyObject* wrapper_discard(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
// cache_delete(*args, **kwargs) of a wrapper (method: the owner comes first),
// and of CachedFunction's method table; _delete_key(key) for key= wrappers.
PyObject* cache_delete(CachedFunctionObject* w, bool method, PyObject* const* args, Py_ssize_t nargs,
                       PyObject* kwnames);
PyObject* wrapper_cache_delete(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* wrapper_delete_key(PyObject* self, PyObject* key);
void init_flight_type();
extern PyTypeObject Flight_Type;

// --- wrappers (wrapper.cpp, bound_method.cpp) ---
PyObject* bound_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames);
// [(key, value), ...] of a table (introspection for audit()).
PyObject* table_items(const Table& t);
PyObject* make_cache_info(Py_ssize_t hits, Py_ssize_t misses, Py_ssize_t maxsize, Py_ssize_t currsize);
// Adds a dying or cleared per-owner cache's statistics to its wrapper's sums.
void retire_method_cache(MethodCache* mc);
void unlink_method_cache(MethodCache* mc);
// Empties and detaches every per-owner cache of a dying wrapper, burying
// what they held in `graveyard`; runs no user code.
void detach_method_caches(CachedFunctionObject* w, Graveyard& graveyard);
void link_method_cache(CachedFunctionObject* w, MethodCache* mc);

}  // namespace bc
