"""boundcache: functools' memoizers, with caches that never outlive their owner."""
from . import _core  # noqa: F401
