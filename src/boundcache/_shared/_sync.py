"""The synchronous paths of a cached function: what the core calls on a local miss."""

from __future__ import annotations

import time

from . import _lease
from ._keys import Unshareable
from ._tier import FAULTS, SENT


class SyncPaths:
    """Mixed into Binding: ``miss`` is the function the C++ core calls on a local miss."""

    __slots__ = ()

    def miss(self, *args, **kwargs):
        """Redis, then the function; the result is stored in both."""
        tier = self.tier
        if not tier._usable():
            return self.compute(args, kwargs)
        try:
            key_bytes = self.key_bytes(args, kwargs)
        except Unshareable:
            return self.compute(args, kwargs)
        tier._ensure_listener()
        try:
            client = tier._sync()
            rkey = self.redis_key(tier.generation(client, self.namespace), key_bytes)
            data = client.get(rkey)
        except FAULTS as exc:
            tier._failed(exc)
            return self.compute(args, kwargs)
        tier._answered()
        result = self.found(rkey, data)
        if result is not self.MISSING:
            return result
        if self.lock:
            return _lease.locked(self, client, rkey, args, kwargs)
        result = self.compute(args, kwargs)
        self.store(client, rkey, result)
        return result

    def compute(self, args, kwargs):
        value = self.func(*args, **kwargs)
        return self.fresh(value, time.time() + self.ttl) if self.stale else value

    def store(self, client, rkey, result):
        data = self.encoded(rkey, result)
        if data is None or not self.tier._usable():
            return
        try:
            client.set(rkey, data, px=self.px)
        except FAULTS as exc:
            self.tier._failed(exc)
            return
        self.tier._count(SENT, len(data))

    def regenerate(self, args, kwargs):
        """stale=: a fresh record for an entry past its ttl, or None if another process is making one."""
        tier = self.tier
        if not tier._usable():
            return self.compute(args, kwargs)
        try:
            key_bytes = self.key_bytes(args, kwargs)
            client = tier._sync()
            rkey = self.redis_key(tier.generation(client, self.namespace), key_bytes)
            data = client.get(rkey)
        except Unshareable:
            return self.compute(args, kwargs)
        except FAULTS as exc:
            tier._failed(exc)
            return self.compute(args, kwargs)
        result = self.found(rkey, data, count_miss=False)
        if result is not self.MISSING and result.fresh_until > time.time():
            return result  # refreshed by another process already
        lkey, token, lease_ms = _lease.new_lease(tier, rkey)
        try:
            if not client.set(lkey, token, nx=True, px=lease_ms):
                return None
        except FAULTS as exc:
            tier._failed(exc)
            return self.compute(args, kwargs)
        try:
            result = self.compute(args, kwargs)
            self.store(client, rkey, result)
        finally:
            _lease.release(tier, client, lkey, token)
        return result
