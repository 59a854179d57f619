// Cache keys with functools' exact rules, viewed over the call's own argument
// array.
//
// functools builds the key as a tuple laid out as
//     positional args..., [mark, name1, value1, name2, value2, ...], [type(arg)...]
// (keyword part only when there are keywords, types only when typed=True), and
// uses a lone positional str or int (exact types, untyped, no keywords) as the
// key itself. Two calls share an entry exactly when these keys compare equal,
// so we keep that layout for the keys we store. Looking a call up does not
// build the tuple: CallKey hashes and compares the elements in place, and a
// tuple is allocated only when a miss has to store the key.
#pragma once
#include "pyref.hpp"

#include <cstdint>

namespace bc {

// The marker between positional and keyword parts (one per process).
extern PyObject* g_kwd_mark;

template <bool Typed>
class CallKey {
public:
    CallKey(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) noexcept
        : args_(args), nargs_(nargs), kwnames_(kwnames),
          nkw_(kwnames ? PyTuple_GET_SIZE(kwnames) : 0) {
        if (!Typed && nkw_ == 0 && nargs == 1 &&
            (PyUnicode_CheckExact(args[0]) || PyLong_CheckExact(args[0]))) {
            bare_ = args[0];
        }
        size_ = nargs_ + (nkw_ ? 1 + 2 * nkw_ : 0) + (Typed ? nargs_ + nkw_ : 0);
    }

    // The key object itself when functools would use the lone argument, else NULL.
    PyObject* bare() const noexcept { return bare_; }

    // -1 with an exception set when an element is unhashable (functools'
    // TypeError message, since the element's own hash raises it).
    Py_hash_t hash() const {
        if (bare_) return PyObject_Hash(bare_);
        // xxHash64-style combination over the element hashes, as tuples do;
        // any good mix works since stored keys keep the hash computed here.
        const uint64_t p1 = 11400714785074694791ULL, p2 = 14029467366897019727ULL,
                       p5 = 2870177450012600261ULL;
        uint64_t acc = p5;
        bool failed = false;
        for_each([&](PyObject* item) {
            Py_hash_t h = PyObject_Hash(item);
            if (h == -1) {
                failed = true;
                return false;
            }
            acc += (uint64_t)h * p2;
            acc = (acc << 31) | (acc >> 33);
            acc *= p1;
            return true;
        });
        if (failed) return -1;
        acc += (uint64_t)size_ ^ (p5 ^ 3527539ULL);
        Py_hash_t h = (Py_hash_t)acc;
        return h == -1 ? 1546275796 : h;
    }

    // 1 if `stored` (a key made by materialize) is this key, 0 if not, -1 on
    // error. May run user __eq__: the caller keeps `stored` alive and
    // re-validates its table afterwards.
    int equals(PyObject* stored) const {
        if (bare_) {
            if (stored == bare_) return 1;
            // A stored key equal to a bare key is bare too, of the same type.
            if (Py_TYPE(stored) != Py_TYPE(bare_)) return 0;
            return PyObject_RichCompareBool(stored, bare_, Py_EQ);
        }
        if (!PyTuple_CheckExact(stored) || PyTuple_GET_SIZE(stored) != size_) return 0;
        Py_ssize_t i = 0;
        int result = 1;
        for_each([&](PyObject* item) {
            PyObject* s = PyTuple_GET_ITEM(stored, i++);
            if (s == item) return true;
            // stored element on the left, as tuple comparison in a dict does.
            int r = PyObject_RichCompareBool(s, item, Py_EQ);
            if (r <= 0) {
                result = r;
                return false;
            }
            return true;
        });
        return result;
    }

    // A new reference to the key to store.
    PyObject* materialize() const {
        if (bare_) return Py_NewRef(bare_);
        PyObject* t = PyTuple_New(size_);
        if (!t) return nullptr;
        Py_ssize_t i = 0;
        for_each([&](PyObject* item) {
            PyTuple_SET_ITEM(t, i++, Py_NewRef(item));
            return true;
        });
        // A key of atomic arguments then leaves its table untraversed
        // (Table::note_gc_refs).
        untrack_atomic_tuple(t);
        return t;
    }

private:
    // Calls f(element) in key order until it returns false.
    template <class F>
    void for_each(F&& f) const {
        for (Py_ssize_t i = 0; i < nargs_; i++)
            if (!f(args_[i])) return;
        if (nkw_) {
            if (!f(g_kwd_mark)) return;
            for (Py_ssize_t i = 0; i < nkw_; i++) {
                if (!f(PyTuple_GET_ITEM(kwnames_, i))) return;
                if (!f(args_[nargs_ + i])) return;
            }
        }
        if (Typed) {
            for (Py_ssize_t i = 0; i < nargs_ + nkw_; i++)
                if (!f((PyObject*)Py_TYPE(args_[i]))) return;
        }
    }

    PyObject* const* args_;
    Py_ssize_t nargs_;
    PyObject* kwnames_;
    Py_ssize_t nkw_;
    PyObject* bare_ = nullptr;
    Py_ssize_t size_;
};

}  // namespace bc
