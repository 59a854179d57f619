// Owning references to Python objects, so that no function juggles Py_DECREF by hand.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>
#include <initializer_list>
#include <new>

namespace bc {

// A strong reference. Constructing from a raw pointer steals it (the usual
// convention for "new reference" results); Ref::borrow takes a new one.
class Ref {
public:
    Ref() noexcept = default;
    explicit Ref(PyObject* p) noexcept : p_(p) {}
    static Ref borrow(PyObject* p) noexcept {
        Py_XINCREF(p);
        return Ref(p);
    }
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    Ref(Ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    Ref& operator=(Ref&& o) noexcept {
        reset(o.release());
        return *this;
    }
    ~Ref() { Py_XDECREF(p_); }

    PyObject* get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    PyObject* release() noexcept {
        PyObject* p = p_;
        p_ = nullptr;
        return p;
    }
    // The old object is released only after the new one is in place: its
    // finalizer may run arbitrary code that reads this slot.
    void reset(PyObject* p = nullptr) noexcept {
        PyObject* old = p_;
        p_ = p;
        Py_XDECREF(old);
    }

private:
    PyObject* p_ = nullptr;
};

// The attribute, or NULL without an exception if it is missing
// (PyObject_GetOptionalAttr is 3.13+).
inline PyObject* get_optional_attr(PyObject* obj, const char* name) {
    PyObject* v = PyObject_GetAttrString(obj, name);
    if (!v && PyErr_ExceptionMatches(PyExc_AttributeError)) PyErr_Clear();
    return v;
}

// Whether the cyclic GC may follow `o`, now or later: CPython's own test for
// leaving a container untracked. A tuple is tracked when made and, once
// untracked, never again; any other GC type may be (re)tracked at any time.
inline bool may_be_tracked(PyObject* o) noexcept {
    PyTypeObject* tp = Py_TYPE(o);
    if (!PyType_IS_GC(tp) || (tp->tp_is_gc && !tp->tp_is_gc(o))) return false;
    return !PyTuple_CheckExact(o) || PyObject_GC_IsTracked(o);
}

// Untracks tuple `t` if it holds only atomic objects, as the GC itself does
// at its next pass (a tuple never changes, so it can never join a cycle);
// nested tuples are untracked first, down to `depth` levels. True if `t` is
// untracked on return.
inline bool untrack_atomic_tuple(PyObject* t, int depth = 3) noexcept {
    if (!PyObject_GC_IsTracked(t)) return true;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        PyObject* item = PyTuple_GET_ITEM(t, i);
        if (!may_be_tracked(item)) continue;
        if (depth == 0 || !PyTuple_CheckExact(item) || !untrack_atomic_tuple(item, depth - 1)) return false;
    }
    PyObject_GC_UnTrack(t);
    return true;
}

}  // namespace bc
