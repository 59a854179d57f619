#include <Python.h>
static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "boundcache._core", nullptr, -1, nullptr};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&core_module); }
