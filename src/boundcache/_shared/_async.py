"""The asyncio paths of a cached ``async def`` function, through redis.asyncio."""

from __future__ import annotations

import time

from . import _lease
from ._keys import Unshareable
from ._tier import FAULTS, SENT


class AsyncPaths:
    """Mixed into Binding: ``amiss`` is what the async wrapper awaits on a local miss."""

    __slots__ = ()

    async def amiss(self, *args, **kwargs):
        tier = self.tier
        if not tier._usable():
            return await self.acompute(args, kwargs)
        try:
            key_bytes = self.key_bytes(args, kwargs)
        except Unshareable:
            return await self.acompute(args, kwargs)
        tier._ensure_listener()
        try:
            client = tier._async()
            rkey = self.redis_key(await tier.ageneration(client, self.namespace), key_bytes)
            data = await client.get(rkey)
        except FAULTS as exc:
            tier._failed(exc)
            return await self.acompute(args, kwargs)
        tier._answered()
        result = self.found(rkey, data)
        if result is not self.MISSING:
            return result
        if self.lock:
            return await _lease.alocked(self, client, rkey, args, kwargs)
        result = await self.acompute(args, kwargs)
        await self.astore(client, rkey, result)
        return result

    async def acompute(self, args, kwargs):
        value = await self.func(*args, **kwargs)
        return self.fresh(value, time.time() + self.ttl) if self.stale else value

    async def astore(self, client, rkey, result):
        data = self.encoded(rkey, result)
        if data is None or not self.tier._usable():
            return
        try:
            await client.set(rkey, data, px=self.px)
        except FAULTS as exc:
            self.tier._failed(exc)
            return
        self.tier._count(SENT, len(data))

    async def aregenerate(self, args, kwargs):
        """stale=: as SyncPaths.regenerate."""
        tier = self.tier
        if not tier._usable():
            return await self.acompute(args, kwargs)
        try:
            key_bytes = self.key_bytes(args, kwargs)
            client = tier._async()
            rkey = self.redis_key(await tier.ageneration(client, self.namespace), key_bytes)
            data = await client.get(rkey)
        except Unshareable:
            return await self.acompute(args, kwargs)
        except FAULTS as exc:
            tier._failed(exc)
            return await self.acompute(args, kwargs)
        result = self.found(rkey, data, count_miss=False)
        if result is not self.MISSING and result.fresh_until > time.time():
            return result
        lkey, token, lease_ms = _lease.new_lease(tier, rkey)
        try:
            if not await client.set(lkey, token, nx=True, px=lease_ms):
                return None
        except FAULTS as exc:
            tier._failed(exc)
            return await self.acompute(args, kwargs)
        try:
            result = await self.acompute(args, kwargs)
            await self.astore(client, rkey, result)
        finally:
            await _lease.arelease(tier, client, lkey, token)
        return result
