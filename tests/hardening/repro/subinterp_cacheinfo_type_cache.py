"""Core bug: boundcache used in a legacy subinterpreter breaks the main
interpreter on CPython 3.12 (seen on 3.12.1; 3.10, 3.11, 3.13.0 pass).

    python tests/hardening/repro/subinterp_cacheinfo_type_cache.py
    -> TypeError: CacheInfo.__new__() missing 1 required positional argument: 'currsize'

raised by `import enum` (any later class creation that looks up __new__ can
get CacheInfo's). CacheInfo is a mutable heap type (collections.namedtuple)
created once per process and shared with every subinterpreter by single-phase
init. From 3.12 on, a mutable heap type takes its version tag from the
per-interpreter counter of whichever interpreter assigns it, so another
interpreter can give the same tag to an unrelated class, and the method cache
(keyed by tag and name) then answers lookups on that class with CacheInfo's
attributes. Static types are immutable and get process-wide tags, so only
CacheInfo is affected. The same mechanism is reported for SWIG's shared heap
types on 3.14 (fixed there by Py_TPFLAGS_IMMUTABLETYPE).
"""
import _testcapi

import boundcache

assert _testcapi.run_in_subinterp("import boundcache; boundcache.cache(len).cache_info()") == 0
boundcache.cache(len).cache_info()
import enum  # noqa: E402,F401 - TypeError here on 3.12.1

print("ok")
