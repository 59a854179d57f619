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

}  // namespace bc
