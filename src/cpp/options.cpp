// Wrappers made with lru_cache's keyword options: ttl= (with timer=), key=,
// max_total= and lock=.
//
// The default wrappers (wrapper.cpp) never read options: a wrapper gets the
// vectorcall below only when it was made with an option, so the options
// cost nothing to calls that do not use them. Here the options are a few
// flags tested per call; the key is still built in place (CallKey), or is
// the key function's result (ValueKey).
//
// Re-entrancy rules are the core's (wrapper.cpp), plus:
//  * the timer and the key function are user code: the table is looked up
//    again after them if it changed;
//  * max_total evicts from other instances' tables. Those may be suspended
//    in a find() (an __eq__ that called this method on another instance):
//    remove_at bumps the table's layout, so that find() starts over;
//  * lock=True: a flight (one call in progress for a key of a table) is in
//    the wrapper's FlightMap only while its call runs. The table's address,
//    by which the map finds it, is stable because the caller holds the
//    owner's container for the whole call; waiters hold it too.
#include "flight_gate.hpp"
#include "compat.hpp"
#include "objects.hpp"

#include <chrono>
#include <cmath>

namespace bc {

// ---- Flight: one computation in progress, for lock=True ----

// Not GC-tracked: only the wrapper's FlightMap and the threads taking part
// in the call reach a Flight, never user code, so it is in no cycle.
//
// Flights are found by (table address, hash), never by the key's own hash
// and equality, so that filing and removing one run no user code. (Filed
// under the key itself, a flight whose key's __hash__ or __eq__ raised at
// removal stayed filed for good: later misses of that key waited for it and
// got its old outcome, or, in its thread, a RuntimeError.) Flights of keys
// that share a hash are chained, and told apart with the key's equality, as
// the table does.
struct FlightObject {
    PyObject_HEAD
    FlightGate gate;
    Options* options;    // the wrapper's, whose FlightMap files this flight
    const Table* table;  // the table the outcome is for
    Py_hash_t hash;
    PyObject* key;       // strong: the key being computed
    FlightObject* next;  // strong: the next flight of the same (table, hash), while filed
    PyObject* result;    // the outcome: a result, or an exception
    PyObject* exc_type;
    PyObject* exc_value;
    PyObject* exc_tb;
};

// Releasing the key, the outcome and the next flight runs user code
// (finalizers). By then the flight is unfiled (a FlightMap holds a
// reference to each flight it files) and no thread waits on it (each waiter
// holds one): nothing that code can reach leads here.
static void flight_dealloc(PyObject* self) {
    auto* f = (FlightObject*)self;
    f->gate.~FlightGate();
    Py_XDECREF(f->key);
    Py_XDECREF((PyObject*)f->next);
    Py_XDECREF(f->result);
    Py_XDECREF(f->exc_type);
    Py_XDECREF(f->exc_value);
    Py_XDECREF(f->exc_tb);
    PyObject_Free(self);
}

PyTypeObject Flight_Type = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "boundcache._Flight",
    sizeof(FlightObject),
};

void init_flight_type() {
    Flight_Type.tp_flags = Py_TPFLAGS_DEFAULT;
    Flight_Type.tp_dealloc = flight_dealloc;
    Flight_Type.tp_doc = "A cached call in progress, which other threads wait for (lock=True).";
}

// The flights of one wrapper's calls in progress, by (table, hash): open
// addressing with linear probing and backward-shift deletion, as the
// cache's own tables. It holds a few entries at a time (one per thread
// computing, plus one per level of a recursion through the wrapper), so a
// lock=True miss files and removes its flight without allocating; only
// growing allocates, and nothing here runs user code.
class FlightMap {
public:
    FlightMap() noexcept = default;
    FlightMap(const FlightMap&) = delete;
    FlightMap& operator=(const FlightMap&) = delete;
    ~FlightMap() { PyMem_Free(slots_); }  // empty: a flight is removed before its call returns

    // The first flight of (t, hash), borrowed; NULL if none.
    FlightObject* chain(const Table* t, Py_hash_t hash) const noexcept {
        if (!slots_) return nullptr;
        for (uint32_t i = home(t, hash);; i = (i + 1) & mask_) {
            if (!slots_[i].head) return nullptr;
            if (slots_[i].table == t && slots_[i].hash == hash) return slots_[i].head;
        }
    }

    // Files f in front of its (table, hash) chain, with a new reference.
    // false with MemoryError set.
    bool file(FlightObject* f) {
        if (2 * (used_ + 1) > mask_ + 1 && !grow()) return false;
        Slot& s = slots_[find(f)];
        if (s.head) {
            f->next = s.head;  // the slot's reference moves to f
        } else {
            s.table = f->table;
            s.hash = f->hash;
            used_++;
        }
        s.head = (FlightObject*)Py_NewRef((PyObject*)f);
        return true;
    }

    // Removes filed flight f, by identity. The caller holds a reference to
    // f, so the one dropped here frees nothing.
    void unfile(FlightObject* f) noexcept {
        uint32_t i = find(f);
        FlightObject* next = f->next;  // f's reference to it moves to f's predecessor
        f->next = nullptr;
        if (slots_[i].head == f) {
            slots_[i].head = next;
            if (!next) erase(i);
        } else {
            FlightObject* p = slots_[i].head;
            while (p->next != f) p = p->next;
            p->next = next;
        }
        Py_DECREF((PyObject*)f);
    }

private:
    struct Slot {
        const Table* table;
        Py_hash_t hash;
        FlightObject* head;  // strong; NULL: an empty slot
    };

    uint32_t home(const Table* t, Py_hash_t hash) const noexcept {
        uint64_t h = (uint64_t)hash ^ (uint64_t)(uintptr_t)t;
        return (uint32_t)((h * 0x9E3779B97F4A7C15ULL) >> shift_);
    }

    // The slot of f's (table, hash), or the empty slot that would take it.
    uint32_t find(const FlightObject* f) const noexcept {
        uint32_t i = home(f->table, f->hash);
        while (slots_[i].head && !(slots_[i].table == f->table && slots_[i].hash == f->hash)) i = (i + 1) & mask_;
        return i;
    }

    bool grow() {
        uint32_t old_size = slots_ ? mask_ + 1 : 0;
        uint32_t size = old_size ? 2 * old_size : 8;
        auto* slots = (Slot*)PyMem_Calloc(size, sizeof(Slot));
        if (!slots) {
            PyErr_NoMemory();
            return false;
        }
        Slot* old = slots_;
        slots_ = slots;
        mask_ = size - 1;
        shift_ = 64 - __builtin_ctz(size);
        for (uint32_t j = 0; j < old_size; j++) {
            if (!old[j].head) continue;
            uint32_t i = home(old[j].table, old[j].hash);
            while (slots_[i].head) i = (i + 1) & mask_;
            slots_[i] = old[j];
        }
        PyMem_Free(old);
        return true;
    }

    // Backward-shift deletion: later slots of the probe run move back into
    // the hole when their home allows, so that lookups need no tombstones.
    void erase(uint32_t hole) noexcept {
        for (uint32_t j = (hole + 1) & mask_; slots_[j].head; j = (j + 1) & mask_) {
            uint32_t h = home(slots_[j].table, slots_[j].hash);
            if (((j - h) & mask_) >= ((j - hole) & mask_)) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole].head = nullptr;
        used_--;
    }

    Slot* slots_ = nullptr;
    uint32_t mask_ = 0;
    uint32_t shift_ = 64;
    uint32_t used_ = 0;
};

static FlightObject* flight_of(FlightGate* gate) {
    return (FlightObject*)((char*)gate - offsetof(FlightObject, gate));
}

// At a fork that its computing thread did not survive. The flight is filed:
// its computation files it before anything that could run user code (and so
// let another thread fork), and unfiles it right before finishing its gate.
// The wrapper, hence its map, lives: the vanished caller held it.
static void flight_detach(FlightGate* gate) {
    FlightObject* f = flight_of(gate);
    f->options->flights->unfile(f);  // frees nothing: the computing thread's reference is still counted
    f->options->flight_changes++;
}

static void flight_release(FlightGate* gate, int refs) {
    FlightObject* f = flight_of(gate);
    while (refs-- > 0) Py_DECREF((PyObject*)f);
}

static const FlightKind flight_kind = {flight_detach, flight_release};

// Steals `key`. Allocates nothing tracked by the GC, so it runs no user code.
static FlightObject* new_flight(Options* o, const Table& t, Py_hash_t hash, PyObject* key) {
    auto* f = PyObject_New(FlightObject, &Flight_Type);
    if (!f) {
        Py_DECREF(key);
        return nullptr;
    }
    new (&f->gate) FlightGate(&flight_kind);
    f->options = o;
    f->table = &t;
    f->hash = hash;
    f->key = key;
    f->next = nullptr;
    f->result = f->exc_type = f->exc_value = f->exc_tb = nullptr;
    return f;
}

namespace {

// A key given by the key= function: the object itself, with its own hash
// and equality. Same interface as CallKey.
class ValueKey {
public:
    explicit ValueKey(PyObject* key) noexcept : key_(key) {}
    PyObject* bare() const noexcept { return key_; }
    Py_hash_t hash() const { return PyObject_Hash(key_); }
    int equals(PyObject* stored) const {
        return stored == key_ ? 1 : PyObject_RichCompareBool(stored, key_, Py_EQ);
    }
    PyObject* materialize() const { return Py_NewRef(key_); }

private:
    PyObject* key_;
};

}  // namespace

// Reads the wrapper's clock; false with an exception set.
bool read_clock(Options* o, double& now) {
    if (!o->timer) {
        // time.monotonic()'s clock, without a Python call.
        now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        return true;
    }
    Ref t(PyObject_CallNoArgs(o->timer));
    if (!t) return false;
    PyNumberMethods* nb = Py_TYPE(t.get())->tp_as_number;
    if (!PyFloat_Check(t.get()) && !(nb && (nb->nb_float || nb->nb_index))) {
        PyErr_Format(PyExc_TypeError, "boundcache: timer= must return a number of seconds, not %.100s",
                     Py_TYPE(t.get())->tp_name);
        return false;
    }
    // A number's own conversion error (its __float__ raised, an int too
    // large for a float) is the caller's to see, unchanged.
    now = PyFloat_AsDouble(t.get());
    if (now == -1.0 && PyErr_Occurred()) return false;
    // Deadlines are compared with `>`: with NaN or an infinity, no entry
    // would ever be live, nor ever expire to be purged.
    if (!std::isfinite(now)) {
        PyErr_Format(PyExc_ValueError,
                     "boundcache: timer= returned %R; it must return a finite number of seconds that never "
                     "decreases, as time.monotonic() does",
                     t.get());
        return false;
    }
    return true;
}

namespace {

bool live(const Options* o, const Table& t, int64_t ix, double now) {
    return !o->has_ttl || t.deadline((uint32_t)ix) > now;
}

// Whether a key= result contains the owner (itself, or inside tuples).
bool holds_owner(PyObject* key, PyObject* owner, int depth = 0) {
    if (key == owner) return true;
    if (!PyTuple_Check(key) || depth > 64) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++)
        if (holds_owner(PyTuple_GET_ITEM(key, i), owner, depth + 1)) return true;
    return false;
}

// Evicts least recently used entries, from any instance's table, until the
// total is within max_total.
void enforce_total(Options* o, Graveyard& graveyard) {
    while (o->total.count() > (size_t)o->max_total) o->total.tail_table()->remove_at(o->total.tail_index(), graveyard);
}

// Stores `result` under `key` after a miss. `mutations` is the table's count
// when the miss was found: if it changed, user code ran meanwhile and the
// key is looked up again. False with an exception set.
template <class Key>
bool store(CachedFunctionObject* w, Table& t, const Key& key, Py_hash_t hash, uint64_t mutations, PyObject* result) {
    Options* o = w->options;
    Ref stored(key.materialize());
    if (!stored) return false;
    double now = 0;
    if (o->has_ttl && !read_clock(o, now)) return false;
    int64_t ix = Table::kNotFound;
    if (t.mutations() != mutations) {
        ix = t.find(key, hash);
        if (ix == Table::kError) return false;
    }
    // No user code runs from here until the graveyard is released.
    Graveyard graveyard;
    if (ix >= 0) {
        // As the core: a bounded cache keeps a live entry already there, an
        // unbounded one takes the newer result. An expired one is replaced.
        if (w->maxsize > 0 && live(o, t, ix, now)) return true;
        t.replace_value(ix, Py_NewRef(result), graveyard);
        if (o->has_ttl) t.set_deadline((uint32_t)ix, now + o->ttl);
        // A fresh result is a use, for this table's order and the total's.
        if (w->maxsize > 0) t.move_to_front((uint32_t)ix);
        if (o->max_total > 0) t.touch_total((uint32_t)ix);
        return true;
    }
    if (o->has_ttl && w->maxsize < 0 && t.full() && t.size() > 0) {
        // Expired entries that are never asked for again go before the table
        // grows. The table grows anyway unless this freed an eighth of it,
        // so that the purges cost O(1) per insert however entries expire.
        uint32_t size = (uint32_t)t.size();
        if (t.purge_expired(now, graveyard) * 8 < size && !t.grow_now(w->maxsize)) return false;
    }
    if (o->max_total > 0 && w->maxsize > 0 && t.size() >= w->maxsize) {
        // This instance's own bound: evict its least recently used entry
        // (and that entry's node) before inserting.
        t.remove_at(t.lru_tail(), graveyard);
    }
    ix = t.insert(hash, stored.release(), Py_NewRef(result), w->maxsize, graveyard);
    if (ix < 0) return false;
    if (o->has_ttl) t.set_deadline((uint32_t)ix, now + o->ttl);
    if (o->max_total > 0) {
        if (!t.add_total_node((uint32_t)ix)) {
            t.remove_at((uint32_t)ix, graveyard);
            return false;
        }
        enforce_total(o, graveyard);
    }
    return true;
}

// lock=True, after a miss: the first thread computes; others that miss the
// same key of the same table meanwhile wait for its outcome. Counted as one
// miss (the computation) and, for each waiter, a hit.
template <class Key>
PyObject* flight_call(CachedFunctionObject* w, Table& t, const Key& key, Py_hash_t hash, uint64_t mutations,
                      PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    Options* o = w->options;
    Ref stored(key.materialize());
    if (!stored) return nullptr;
    Ref flight;  // the flight of an equal key, if one is in progress
    for (;;) {
        for (;;) {
            uint64_t changes = o->flight_changes;
            flight = Ref::borrow((PyObject*)o->flights->chain(&t, hash));
            while (flight) {
                auto* f = (FlightObject*)flight.get();
                int eq = key.equals(f->key);
                if (eq < 0) return nullptr;
                if (eq) break;
                flight = Ref::borrow((PyObject*)f->next);
            }
            // __eq__ ran user code, during which flights may have been filed
            // or removed (a removed one's chain ends early): then look again.
            if (flight || o->flight_changes == changes) break;
        }
        // A flight orphaned by a fork (run in __eq__) has no outcome and is
        // no longer filed: look again, and compute if nobody else does.
        if (!flight || !((FlightObject*)flight.get())->gate.orphaned()) break;
    }
    if (flight) {
        auto* f = (FlightObject*)flight.get();
        if (f->gate.computing_here()) {
            PyErr_Format(PyExc_RuntimeError,
                         "boundcache: %R called itself with the same arguments while computing them; with "
                         "lock=True the inner call would wait for the outer one forever. Break the recursion, "
                         "or drop lock=True.",
                         (PyObject*)w);
            return nullptr;
        }
        if (!f->gate.wait()) return nullptr;
        // Not orphaned: a fork leaves no thread blocked in wait().
        if (f->result) {
            t.count_hit();
            return Py_NewRef(f->result);
        }
        // The computation's exception reaches the callers that waited for it.
        PyErr_Restore(Py_XNewRef(f->exc_type), Py_XNewRef(f->exc_value), Py_XNewRef(f->exc_tb));
        return nullptr;
    }
    auto* f = new_flight(o, t, hash, stored.release());
    if (!f) return nullptr;
    flight.reset((PyObject*)f);
    // No user code ran since the look.
    if (!o->flights->file(f)) return nullptr;
    o->flight_changes++;
    t.count_miss();
    Ref result(call_function(w, args, nargsf, kwnames));
    if (result && !store(w, t, key, hash, mutations, result.get())) result.reset();
    if (result) {
        f->result = Py_NewRef(result.get());
    } else {
        PyErr_Fetch(&f->exc_type, &f->exc_value, &f->exc_tb);
        PyErr_NormalizeException(&f->exc_type, &f->exc_value, &f->exc_tb);
        if (f->exc_tb) PyException_SetTraceback(f->exc_value, f->exc_tb);
    }
    // The map lives as long as the wrapper (tp_clear leaves it).
    o->flights->unfile(f);
    o->flight_changes++;
    f->gate.finish();
    if (result) return result.release();
    PyErr_Restore(Py_XNewRef(f->exc_type), Py_XNewRef(f->exc_value), Py_XNewRef(f->exc_tb));
    return nullptr;
}

template <class Key>
PyObject* options_call(CachedFunctionObject* w, Table& t, const Key& key, PyObject* const* args, size_t nargsf,
                       PyObject* kwnames) {
    Options* o = w->options;
    Py_hash_t hash = key.hash();
    if (hash == -1) return nullptr;
    double now = 0;
    if (o->has_ttl && !read_clock(o, now)) return nullptr;
    uint64_t mutations;
    for (;;) {
        mutations = t.mutations();
        int64_t ix = t.find(key, hash);
        if (ix == Table::kError) return nullptr;
        if (ix < 0) break;
        if (live(o, t, ix, now)) {
            t.count_hit();
            if (w->maxsize > 0) t.move_to_front((uint32_t)ix);
            if (o->max_total > 0) t.touch_total((uint32_t)ix);
            return Py_NewRef(t.value_at(ix));
        }
        // Expired: dropped now, and this call is a miss. Releasing it may
        // run code that stores the key again: look once more.
        Graveyard graveyard;
        t.remove_at((uint32_t)ix, graveyard);
    }
    if (o->flights) return flight_call(w, t, key, hash, mutations, args, nargsf, kwnames);
    t.count_miss();
    Ref result(call_function(w, args, nargsf, kwnames));
    if (!result || !store(w, t, key, hash, mutations, result.get())) return nullptr;
    return result.release();
}

// The call's key function result, checked; NULL with an exception set.
PyObject* value_key(CachedFunctionObject* w, PyObject* owner, PyObject* const* args, size_t nargsf,
                    PyObject* kwnames) {
    PyObject* key = PyObject_Vectorcall(w->options->key, args, nargsf, kwnames);
    if (key && owner && holds_owner(key, owner)) {
        PyErr_Format(PyExc_ValueError,
                     "boundcache: the key= function of %R returned a key that contains the instance itself. "
                     "key= makes one cache for the whole class, and a key holding self would keep every "
                     "instance alive; return values that identify the result instead (a path, a URL, the "
                     "arguments), or drop key= to get a cache per instance.",
                     (PyObject*)w);
        Py_DECREF(key);
        return nullptr;
    }
    return key;
}

// The table a call with these arguments uses; NULL with an exception set,
// or without one if `create` is false and the owner has no cache yet.
// `holder` keeps the owner's container alive. `whole` tells whether the
// call's key is built from every argument (function semantics, and owners
// served as functools) or from those after the owner.
Table* table_for(CachedFunctionObject* w, bool method, PyObject* owner, CallHold& holder, bool create, bool& whole) {
    whole = !method;
    if (!method || (w->options && w->options->key)) return &w->table;  // key=: one cache for the class
    if (create) {
        if (MethodCache* mc = method_cache_for(owner, w, holder)) return &mc->table;
    } else if (PyObject* c = find_instance_caches(owner)) {
        holder.reset(c);
        MethodCache* mc = find_method_cache((InstanceCachesObject*)c, w);
        return mc ? &mc->table : nullptr;
    } else if (!PyErr_Occurred() && !served_as_functools(owner)) {
        return nullptr;
    }
    if (PyErr_Occurred()) return nullptr;
    whole = true;
    return &w->table;
}

template <bool Method, bool Typed>
PyObject* options_vectorcall_impl(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* w = (CachedFunctionObject*)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if ((Method && nargs == 0) || !w->func) return call_function(w, args, nargsf, kwnames);
    CallHold holder;
    bool whole;
    Table* t = table_for(w, Method, Method ? args[0] : nullptr, holder, true, whole);
    if (!t) return nullptr;
    if (w->options->key) {
        Ref key(value_key(w, Method ? args[0] : nullptr, args, nargsf, kwnames));
        if (!key) return nullptr;
        return options_call(w, *t, ValueKey(key.get()), args, nargsf, kwnames);
    }
    PyObject* const* key_args = whole ? args : args + 1;
    return options_call(w, *t, CallKey<Typed>(key_args, whole ? nargs : nargs - 1, kwnames), args, nargsf,
                        kwnames);
}

template <class Key>
bool discard_in(Table& t, const Key& key, PyObject* value) {
    Py_hash_t hash = key.hash();
    if (hash == -1) return false;
    int64_t ix = t.find(key, hash);
    if (ix == Table::kError) return false;
    if (ix >= 0 && t.value_at(ix) == value) {
        Graveyard graveyard;
        t.remove_at((uint32_t)ix, graveyard);
    }
    return true;
}

}  // namespace

vectorcallfunc options_vectorcall(CachedFunctionObject* w, bool method) {
    if (method) return w->typed ? options_vectorcall_impl<true, true> : options_vectorcall_impl<true, false>;
    return w->typed ? options_vectorcall_impl<false, true> : options_vectorcall_impl<false, false>;
}

// _discard(value, *args, **kwargs): removes the entry that a call with these
// arguments would use, if it holds `value`. The async wrappers use it to drop
// a computation that failed or was cancelled.
PyObject* wrapper_discard(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    auto* w = (CachedFunctionObject*)self;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "_discard(value, *args, **kwargs) needs the value");
        return nullptr;
    }
    PyObject* value = args[0];
    args++;
    nargs--;
    bool method = w->vectorcall == w->method_call;
    if ((method && nargs == 0) || !w->func || w->maxsize == 0) Py_RETURN_NONE;
    CallHold holder;
    bool has_key_function = w->options && w->options->key;
    bool whole;
    Table* t = table_for(w, method, method ? args[0] : nullptr, holder, false, whole);
    if (!t) {
        if (PyErr_Occurred()) return nullptr;
        Py_RETURN_NONE;
    }
    bool ok;
    if (has_key_function) {
        Ref key(value_key(w, method ? args[0] : nullptr, args, (size_t)nargs, kwnames));
        ok = key && discard_in(*t, ValueKey(key.get()), value);
    } else {
        PyObject* const* key_args = whole ? args : args + 1;
        Py_ssize_t key_nargs = whole ? nargs : nargs - 1;
        ok = w->typed ? discard_in(*t, CallKey<true>(key_args, key_nargs, kwnames), value)
                      : discard_in(*t, CallKey<false>(key_args, key_nargs, kwnames), value);
    }
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

bool parse_options(CachedFunctionObject* w, PyObject* ttl, PyObject* timer, PyObject* key, PyObject* max_total,
                   int lock) {
    // lru_cache() has checked these with messages for users; these checks
    // only keep a direct constructor call from making a broken wrapper.
    bool any = ttl != Py_None || key != Py_None || max_total != Py_None || lock;
    if (!any) {
        if (timer != Py_None) {
            PyErr_SetString(PyExc_TypeError, "boundcache: timer= only applies together with ttl=");
            return false;
        }
        return true;
    }
    auto* o = new (PyMem_Malloc(sizeof(Options))) Options();
    if (!o) {
        PyErr_NoMemory();
        return false;
    }
    w->options = o;
    if (ttl != Py_None) {
        o->has_ttl = true;
        o->ttl = PyFloat_AsDouble(ttl);
        if (o->ttl == -1.0 && PyErr_Occurred()) return false;
        if (!(o->ttl > 0)) {
            PyErr_SetString(PyExc_ValueError, "boundcache: ttl= must be a positive number of seconds");
            return false;
        }
    }
    if (timer != Py_None) {
        if (!o->has_ttl || !PyCallable_Check(timer)) {
            PyErr_SetString(PyExc_TypeError, "boundcache: timer= must be a callable, given together with ttl=");
            return false;
        }
        o->timer = Py_NewRef(timer);
    }
    if (key != Py_None) {
        if (!PyCallable_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "boundcache: key= must be a callable");
            return false;
        }
        o->key = Py_NewRef(key);
    }
    if (max_total != Py_None) {
        o->max_total = PyLong_AsSsize_t(max_total);
        if (o->max_total == -1 && PyErr_Occurred()) {
            // Beyond Py_ssize_t: no bound in practice, as maxsize treats it
            // (an OverflowError here refused a valid int).
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return false;
            PyErr_Clear();
            o->max_total = long_sign(max_total) < 0 ? 0 : PY_SSIZE_T_MAX;
        }
        if (o->max_total < 1) {
            PyErr_SetString(PyExc_ValueError, "boundcache: max_total= must be at least 1");
            return false;
        }
    }
    if (lock) {
        void* mem = PyMem_Malloc(sizeof(FlightMap));
        if (!mem) {
            PyErr_NoMemory();
            return false;
        }
        o->flights = new (mem) FlightMap();
    }
    configure_table(w, w->table);
    return true;
}

void configure_table(CachedFunctionObject* w, Table& t) {
    Options* o = w->options;
    t.enable_options(o->has_ttl, o->max_total > 0 ? &o->total : nullptr);
}

void purge_expired(CachedFunctionObject* w, Table& t, double now, Graveyard& graveyard) {
    if (w->options && w->options->has_ttl && t.size() > 0) t.purge_expired(now, graveyard);
}

int traverse_options(Options* o, visitproc visit, void* arg) {
    if (!o) return 0;
    Py_VISIT(o->timer);
    Py_VISIT(o->key);
    return 0;
}

// After every table of the wrapper was emptied and detached from o->total.
void free_options(CachedFunctionObject* w) {
    Options* o = w->options;
    if (!o) return;
    w->options = nullptr;
    Py_XDECREF(o->timer);
    Py_XDECREF(o->key);
    if (o->flights) {
        o->flights->~FlightMap();
        PyMem_Free(o->flights);
    }
    o->~Options();
    PyMem_Free(o);
}

int add_option_parameters(CachedFunctionObject* w, PyObject* params) {
    Options* o = w->options;
    Ref ttl(o && o->has_ttl ? PyFloat_FromDouble(o->ttl) : Py_NewRef(Py_None));
    Ref max_total(o && o->max_total > 0 ? PyLong_FromSsize_t(o->max_total) : Py_NewRef(Py_None));
    if (!ttl || !max_total) return -1;
    PyObject* key = o && o->key ? o->key : Py_None;
    PyObject* timer = o && o->timer ? o->timer : Py_None;
    PyObject* lock = o && o->flights ? Py_True : Py_False;
    if (PyDict_SetItemString(params, "ttl", ttl.get()) < 0 || PyDict_SetItemString(params, "timer", timer) < 0 ||
        PyDict_SetItemString(params, "key", key) < 0 || PyDict_SetItemString(params, "max_total", max_total.get()) < 0 ||
        PyDict_SetItemString(params, "lock", lock) < 0)
        return -1;
    return 0;
}

}  // namespace bc
