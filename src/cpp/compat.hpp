// Version shims for C API calls that CPython deprecated or made public.
#pragma once
#include "pyref.hpp"

namespace bc {

// The sign of an int object (-1, 0, 1). _PyLong_Sign is deprecated from 3.14,
// where PyLong_GetSign replaces it; only called on objects known to be ints.
inline int long_sign(PyObject* v) noexcept {
#if PY_VERSION_HEX >= 0x030E0000
    int sign = 0;
    (void)PyLong_GetSign(v, &sign);  // cannot fail: v is an int
    return sign;
#else
    return _PyLong_Sign(v);
#endif
}

// The hash of an address, as object.__hash__ gives it. Py_HashPointer is public
// from 3.13; _Py_HashPointer is deprecated from 3.14.
inline Py_hash_t hash_pointer(const void* p) noexcept {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_HashPointer(p);
#else
    return _Py_HashPointer(p);
#endif
}

}  // namespace bc
