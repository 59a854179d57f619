"""Which core serves boundcache in this process (contract 9): the C++
extension ``boundcache._core``, or the pure-Python ``boundcache._pure`` where
the extension cannot be loaded (PyPy, GraalPy, a platform without a wheel and
without a compiler) or when ``BOUNDCACHE_PURE=1`` asks for it on CPython.
Both give the same API and the same results, statistics and eviction order.
This is the one place the choice is made; everything else imports ``core``.
"""

from __future__ import annotations

import os

if os.environ.get("BOUNDCACHE_PURE", "") not in ("", "0"):
    from . import _pure as core
else:
    try:
        from . import _core as core
    except ImportError:
        from . import _pure as core

#: True when the pure-Python core serves this process.
PURE: bool = core.__name__ == "boundcache._pure"
