"""Leases: one computation of a key across processes (lock=True, and a stale= refresh).

The thread that computes first takes a lease in Redis (``SET T:lease:... NX
PX lease``); a process that finds it taken polls for the value (every 5 ms,
then up to every 50 ms). The holder looks for the value once more after
taking the lease (another holder may have finished in between), computes,
stores, then releases the lease only if it is still its own. If the holder
dies, its lease expires after ``tier.lease`` seconds and a waiter takes it.
"""

from __future__ import annotations

import asyncio
import os
import time

from ._keys import lease_key
from ._tier import FAULTS

# Deletes the lease only if it is still ours (it may have expired and been taken).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def new_lease(tier, rkey):
    return lease_key(tier.namespace, rkey), os.urandom(8).hex(), max(1, int(tier.lease * 1000))


def release(tier, client, lkey, token):
    try:
        client.eval(RELEASE, 1, lkey, token)
    except FAULTS as exc:
        tier._failed(exc)


async def arelease(tier, client, lkey, token):
    try:
        await client.eval(RELEASE, 1, lkey, token)
    except FAULTS as exc:
        tier._failed(exc)


def locked(binding, client, rkey, args, kwargs):
    """lock=True after a Redis miss: compute under the lease, or wait for its holder's value."""
    tier = binding.tier
    lkey, token, lease_ms = new_lease(tier, rkey)
    pause = 0.005
    while True:
        try:
            got = client.set(lkey, token, nx=True, px=lease_ms)
        except FAULTS as exc:
            tier._failed(exc)
            return binding.compute(args, kwargs)
        if got:
            try:
                try:
                    data = client.get(rkey)  # stored by the previous holder since we looked?
                except FAULTS as exc:
                    tier._failed(exc)
                    return binding.compute(args, kwargs)
                result = binding.found(rkey, data, count_miss=False)
                if result is binding.MISSING:
                    result = binding.compute(args, kwargs)
                    binding.store(client, rkey, result)
            finally:
                release(tier, client, lkey, token)
            return result
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        try:
            data = client.get(rkey)
        except FAULTS as exc:
            tier._failed(exc)
            return binding.compute(args, kwargs)
        if data is not None:
            result = binding.found(rkey, data)
            if result is not binding.MISSING:
                return result


async def alocked(binding, client, rkey, args, kwargs):
    tier = binding.tier
    lkey, token, lease_ms = new_lease(tier, rkey)
    pause = 0.005
    while True:
        try:
            got = await client.set(lkey, token, nx=True, px=lease_ms)
        except FAULTS as exc:
            tier._failed(exc)
            return await binding.acompute(args, kwargs)
        if got:
            try:
                try:
                    data = await client.get(rkey)
                except FAULTS as exc:
                    tier._failed(exc)
                    return await binding.acompute(args, kwargs)
                result = binding.found(rkey, data, count_miss=False)
                if result is binding.MISSING:
                    result = await binding.acompute(args, kwargs)
                    await binding.astore(client, rkey, result)
            finally:
                await arelease(tier, client, lkey, token)
            return result
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)
        try:
            data = await client.get(rkey)
        except FAULTS as exc:
            tier._failed(exc)
            return await binding.acompute(args, kwargs)
        if data is not None:
            result = binding.found(rkey, data)
            if result is not binding.MISSING:
                return result
