"""The invalidation listener: one thread per tier and process, subscribed to the tier's channel.

A local hit never talks to Redis, so this is how a process learns of another
one's cache_clear() (``c``: a function's new generation) and cache_delete()
(``d``: the encoded call key). Messages published while it is not subscribed
are lost: when it subscribes again it clears every local cache of the tier
and forgets the generations it knew, since it may have missed a clear.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("boundcache.shared")


def start(tier):
    tier._listener_stop = stop = threading.Event()
    thread = threading.Thread(target=_listen, args=(tier, stop), name="boundcache-redis-invalidation", daemon=True)
    tier._listener = thread
    thread.start()


def _listen(tier, stop):
    while not stop.is_set():
        pubsub = None
        try:
            pubsub = tier._sync().pubsub()
            pubsub.subscribe(tier.channel)
            deadline = time.monotonic() + max(tier.timeout, 1.0)
            while True:  # wait for the server's confirmation
                msg = pubsub.get_message(timeout=tier.timeout)
                if msg is not None and msg["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("no confirmation of SUBSCRIBE")
            if tier._clear_on_subscribe:
                # Clears published while we were not subscribed are lost: assume one was.
                tier._generations.clear()
                tier._local_clear()
                log.debug("boundcache: Redis tier %r: subscribed again, local caches cleared", tier)
            tier._clear_on_subscribe = True  # from now on, a lost subscription means this
            tier._subscribed.set()
            tier._answered()  # Redis answers: an outage, if any, is over
            while not stop.is_set():
                msg = pubsub.get_message(timeout=0.5)
                if msg is not None and msg["type"] == "message":
                    _apply(tier, msg["data"])
        except Exception as exc:  # noqa: BLE001 - the listener must outlive any failure
            tier._subscribed.clear()
            if not stop.is_set():
                log.debug("boundcache: Redis tier %r: invalidation listener: %s", tier, type(exc).__name__)
                # The listener often sees an outage first (a closed connection): it
                # opens the breaker and logs the outage's one warning; while the
                # outage lasts, its retries do not extend it.
                if not tier._outage:
                    tier._failed(exc)
            stop.wait(min(tier.retry_interval, 0.5))
        finally:
            if pubsub is not None:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001, S110
                    pass


def _apply(tier, data):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    parts = data.split("\n", 3)
    if len(parts) != 4 or parts[0] == tier._token:
        return  # not ours to apply: malformed, or sent by this process (already applied)
    _, kind, namespace, payload = parts
    if kind == "c":
        tier._generations[namespace] = payload
        tier._local_clear(namespace)
    elif kind == "d":
        try:
            key_bytes = bytes.fromhex(payload)
        except ValueError:
            return
        for binding in tier._bindings_of(namespace):
            binding.delete_local(key_bytes)
