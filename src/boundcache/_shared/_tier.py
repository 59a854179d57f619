"""RedisTier: the configuration, the circuit breaker, the statistics, generations and clears of one tier."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import namedtuple

from redis.exceptions import (
    ChildDeadlockedError,
    MovedError,
    OutOfMemoryError,
    RedisClusterException,
    RedisError,
)

from . import _endpoint, _listener
from ._codec import Codec
from ._keys import escape_glob, generation_key, value_key

log = logging.getLogger("boundcache.shared")

# What a Redis command may raise because of Redis: never passed on to a caller.
FAULTS = (RedisError, OSError, asyncio.TimeoutError, RedisClusterException, ChildDeadlockedError)

TierInfo = namedtuple("TierInfo", "hits misses errors bytes_sent bytes_received invalid unshared")
TierInfo.__doc__ = """Statistics of a RedisTier in this process (since it was made).

hits / misses: Redis lookups that found a valid entry / found none; errors:
Redis commands that failed or timed out; bytes_sent / bytes_received: value
bytes written to / read from Redis; invalid: entries refused (bad signature or
format), each also counted as a miss; unshared: calls kept local because their
key or result could not cross processes."""

_WARN_EVERY = 60.0  # seconds: the least time between two outage warnings of one tier

HITS, MISSES, ERRORS, SENT, RECEIVED, INVALID, UNSHARED = range(7)


class RedisTier:
    """A Redis server, cluster or Sentinel service that caches made with ``lru_cache(..., shared=tier)`` share.

    ``url`` (default ``redis://127.0.0.1:6379/0``; also ``rediss://``,
    ``unix://``, ``redis+cluster://h:p,h:p`` and
    ``redis+sentinel://h:p,h:p/service/db``) or ``client`` (a redis-py client,
    sync or asyncio, single server, cluster or Sentinel-managed, whose address
    and settings the tier's own clients take) names the server. ``namespace``
    prefixes every key and the invalidation channel (default
    ``"boundcache"``); each cached function has its own namespace inside it.
    ``secret`` signs values with HMAC-SHA256 and allows pickled values;
    ``serializer`` is ``"pickle"`` (the default with a secret), ``"plain"``
    (the default without), ``"json"`` or a ``(dumps, loads)`` pair; values
    longer than ``compress_above`` bytes are compressed (None: never).

    ``timeout`` bounds each Redis command (seconds), ``retry_interval`` is how
    long the tier is skipped after a failure, and ``lease`` how long a
    ``lock=True`` or ``stale=`` computation holds its key before another
    process may take over (docs/shared.md).
    """

    def __init__(
        self,
        url=None,
        *,
        client=None,
        namespace=None,
        secret=None,
        timeout=0.25,
        retry_interval=5.0,
        lease=30.0,
        serializer=None,
        compress_above=16384,
    ):
        if url is not None and client is not None:
            raise TypeError("RedisTier takes a url or a client=, not both")
        if url is not None and not isinstance(url, str):
            raise TypeError(f"RedisTier url must be a str such as 'redis://127.0.0.1:6379/0', not {type(url).__name__}")
        if namespace is None:
            namespace = "boundcache"
        if not isinstance(namespace, str) or not namespace:
            raise TypeError("RedisTier namespace= must be a non-empty str")
        if isinstance(secret, str):
            secret = secret.encode()
        if secret is not None and (not isinstance(secret, (bytes, bytearray)) or not secret):
            raise TypeError("RedisTier secret= must be non-empty bytes or str (for example os.environ['CACHE_SECRET'])")
        for name, value in (("timeout", timeout), ("retry_interval", retry_interval), ("lease", lease)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"RedisTier {name}= must be a positive number of seconds, got {value!r}")
        if compress_above is not None and (isinstance(compress_above, bool) or not isinstance(compress_above, int)
                                           or compress_above < 0):  # fmt: skip
            raise ValueError(f"RedisTier compress_above= must be a number of bytes or None, got {compress_above!r}")
        self._codec = Codec(serializer, bytes(secret) if secret is not None else None, compress_above)
        if client is not None:
            self._endpoint = _endpoint.from_client(client)
            self.url = None
        else:
            url = url if url is not None else "redis://127.0.0.1:6379/0"
            self._endpoint = _endpoint.from_url(url)
            self.url = self._endpoint.described  # without its password
        self.namespace = namespace
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self.lease = float(lease)
        self.channel = f"{namespace}:clear"
        self._bindings = {}  # function namespace -> WeakSet of Binding
        self._generations = {}  # function namespace -> its generation, as last read or heard
        self._stats = [0] * 7
        self._closed = False
        self._renew()
        _TIERS.add(self)

    def _renew(self):
        """The per-process state: made at construction, and again in a forked child."""
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._token = os.urandom(8).hex()  # this process's messages on the channel
        self._sync_client = None
        self._retired = []  # clients of a topology that turned out to be another
        self._async_clients = weakref.WeakKeyDictionary()  # event loop -> redis.asyncio client
        # circuit breaker
        self._down_until = 0.0  # monotonic; Redis is skipped until then
        self._outage = False
        self._warned_at = self._warned_at_recovery = -_WARN_EVERY  # monotonic time of the last outage warning
        self._refusals = set()  # kinds of refused writes already warned about
        self._pending = set()  # ("c", namespace, old generation) clears, ("d", namespace, key) deletes not yet done
        # invalidation listener
        self._listener = None
        self._listener_stop = threading.Event()
        self._subscribed = threading.Event()
        self._clear_on_subscribe = False
        self._waited = False

    def __repr__(self):
        return f"<boundcache.RedisTier {self._endpoint.described} namespace={self.namespace!r}>"

    # -- statistics

    def info(self) -> TierInfo:
        """Hits, misses, errors, bytes sent and received, ... in this process."""
        return TierInfo(*self._stats)

    def _count(self, index, n=1):
        with self._lock:
            self._stats[index] += n

    # -- clients

    def _sync(self):
        client = self._sync_client
        if client is None:
            # Made on first use: a cluster client connects when it is made.
            client = self._sync_client = self._endpoint.sync_client(self.timeout)
        return client

    def _async(self):
        # redis.asyncio connections belong to the loop that made them: one client per loop.
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = self._endpoint.async_client(self.timeout)
        return client

    # -- circuit breaker

    def _usable(self) -> bool:
        """Whether to ask Redis now. After a failure, one caller probes it once the interval is over."""
        if self._closed:
            return False
        down_until = self._down_until
        if not down_until:
            return True
        now = time.monotonic()
        if now < down_until:
            return False
        with self._lock:
            if self._down_until != down_until:  # another caller probes
                return False
            self._down_until = now + self.retry_interval
        return True

    def _failed(self, exc) -> None:
        self._count(ERRORS)
        if isinstance(exc, OutOfMemoryError):
            # Redis answers but refuses writes (maxmemory, noeviction): reads go on.
            self._warn_once("oom", "boundcache: Redis tier %r refuses writes (%s); values are not stored in Redis "
                            "until it has memory again, reads go on", self, self._endpoint.redact(str(exc)))
            return
        if isinstance(exc, MovedError) and self._endpoint.kind == "server":
            # A cluster node given as redis://: use it as the cluster's startup node.
            log.info("boundcache: Redis tier %r: the server is a cluster node; using it as a cluster", self)
            self._endpoint.kind = "cluster"
            self._endpoint.nodes = [(self._endpoint.settings.get("host"), self._endpoint.settings.get("port"))]
            # Kept, not collected: the listener's subscription runs on its pool.
            self._retired.append(self._sync_client)
            self._sync_client = None
            self._async_clients = weakref.WeakKeyDictionary()
            return
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry_interval
            # One warning an outage; a cluster with one node down has outages that end whenever a
            # call reaches a live node: at most one a minute then.
            first = not self._outage and now - self._warned_at > _WARN_EVERY
            self._outage = True
            if first:
                self._warned_at = now
        if first:
            log.warning(
                "boundcache: Redis tier %r failed (%s: %s); calls are computed and cached locally, and Redis is "
                "retried every %.3g s",
                self,
                type(exc).__name__,
                self._endpoint.redact(str(exc)),
                self.retry_interval,
            )

    def _warn_once(self, kind, message, *args):
        with self._lock:
            first = kind not in self._refusals
            self._refusals.add(kind)
        if first:
            log.warning(message, *args)

    def _answered(self) -> None:
        # Called after each successful command; cheap unless an outage just ended.
        if self._down_until:
            with self._lock:
                was_out = self._outage
                self._down_until = 0.0
                self._outage = False
            if was_out and self._warned_at == self._warned_at_recovery:
                pass  # this outage's recovery was told already (a cluster's partial outage)
            elif was_out:
                self._warned_at_recovery = self._warned_at
                log.warning("boundcache: Redis tier %r answers again; sharing resumes", self)
            self._replay()

    def _replay(self):
        """Clears and deletes that could not reach Redis, done now (before any key is read under a generation)."""
        with self._lock:
            pending = self._pending
            self._pending = set()
        for kind, namespace, detail in pending:
            if kind == "c":
                self._clear_redis(namespace, detail, replay=True)
            else:
                self._delete_redis(namespace, detail, replay=True)

    # -- functions

    def _bind(self, binding):
        with self._lock:
            self._bindings.setdefault(binding.namespace, weakref.WeakSet()).add(binding)

    def _bindings_of(self, namespace=None):
        with self._lock:
            if namespace is None:
                return [b for group in self._bindings.values() for b in list(group)]
            return list(self._bindings.get(namespace, ()))

    def _local_clear(self, namespace=None):
        for binding in self._bindings_of(namespace):
            binding.clear_local()

    # -- generations: what makes cache_clear() work on any topology
    #
    # A function's values live under its current generation, a random token
    # kept in Redis (T:g:F). cache_clear() replaces the token and publishes
    # it: every later read, in every process, looks under the new one, so the
    # old values are unreachable at once, with one single-key command however
    # many keys and nodes they spread over. They are freed by their ttl, or
    # by the best-effort sweep below.

    def generation(self, client, namespace):
        if self._pending:
            self._replay()
        generation = self._generations.get(namespace)
        if generation is None:
            gkey = generation_key(self.namespace, namespace)
            value = client.get(gkey)
            if value is None:
                client.set(gkey, os.urandom(6).hex(), nx=True)  # the first process to use the function names it
                value = client.get(gkey) or b"0"
            generation = self._generations[namespace] = value.decode("ascii", "replace")
        return generation

    async def ageneration(self, client, namespace):
        if self._pending:
            self._replay()  # synchronous, as cache_clear() is
        generation = self._generations.get(namespace)
        if generation is None:
            gkey = generation_key(self.namespace, namespace)
            value = await client.get(gkey)
            if value is None:
                await client.set(gkey, os.urandom(6).hex(), nx=True)
                value = await client.get(gkey) or b"0"
            generation = self._generations[namespace] = value.decode("ascii", "replace")
        return generation

    def _clear_redis(self, namespace, old=None, replay=False) -> bool:
        """Replaces the function's generation in Redis and tells the other processes; the old one is swept."""
        old = self._generations.pop(namespace, None) or old
        if not replay and not self._usable():
            with self._lock:
                self._pending.add(("c", namespace, old))
            return False
        new = os.urandom(6).hex()
        try:
            client = self._sync()
            client.set(generation_key(self.namespace, namespace), new)
            client.publish(self.channel, f"{self._token}\nc\n{namespace}\n{new}")
        except FAULTS as exc:
            with self._lock:
                self._pending.add(("c", namespace, old))
            self._failed(exc)
            return False
        self._generations[namespace] = new
        self._answered()
        if old is not None:
            self._sweep(client, namespace, old)
        return True

    def _sweep(self, client, namespace, generation):
        """Deletes the values of an old generation, one key a command (no multi-key command
        crosses slots). Best effort: what it misses is unreachable anyway, and expires with its ttl."""
        pattern = f"{escape_glob(self.namespace)}:v:{escape_glob(namespace)}:{generation}:*"
        try:
            batch = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    _unlink_each(client, batch)
                    batch = []
            if batch:
                _unlink_each(client, batch)
        except FAULTS as exc:
            self._count(ERRORS)
            log.debug("boundcache: Redis tier %r: sweep of %s's old values: %s", self, namespace, exc)

    def _delete_redis(self, namespace, key_bytes, replay=False) -> bool | None:
        """Deletes one value and tells the other processes; whether Redis held it (None: Redis not reached)."""
        if not replay and not self._usable():
            with self._lock:
                self._pending.add(("d", namespace, key_bytes))
            return None
        try:
            client = self._sync()
            rkey = value_key(self.namespace, namespace, self.generation(client, namespace), key_bytes)
            held = client.delete(rkey)
            client.publish(self.channel, f"{self._token}\nd\n{namespace}\n{key_bytes.hex()}")
        except FAULTS as exc:
            with self._lock:
                self._pending.add(("d", namespace, key_bytes))
            self._failed(exc)
            return None
        self._answered()
        return bool(held)

    # -- the invalidation listener

    def _ensure_listener(self) -> None:
        if self._listener is not None and self._pid == os.getpid():
            if not self._waited:
                self._wait_subscribed()
            return
        with self._lock:
            if self._closed:
                return
            if self._pid != os.getpid():  # forked, and the at-fork hook did not run (os.fork was bypassed)
                self._after_fork()
            if self._listener is None:
                _listener.start(self)
        self._wait_subscribed()

    def _wait_subscribed(self):
        # The first call waits (at most a timeout) for the subscription, so
        # that no clear published after it is missed; if it times out, the
        # first subscription clears the local caches instead.
        if not self._subscribed.wait(self.timeout):
            self._clear_on_subscribe = True
        self._waited = True

    def _after_fork(self):
        """In a forked child: nothing of the parent's per-process state is used again.

        Another thread of the parent may have held the tier's lock or a
        redis-py pool's lock at the fork; the child never touches either: it
        makes new ones. The parent's clients are kept, never closed or
        collected (closing would take their pools' locks)."""
        _INHERITED.append((self._sync_client, self._retired, self._async_clients))
        had_listener = self._listener is not None
        self._renew()
        return had_listener

    def close(self) -> None:
        """Stops the invalidation listener and closes the tier's clients.

        Caches made with this tier keep working, locally only."""
        self._closed = True
        self._listener_stop.set()
        # The listener thread (a daemon) sees the stop within half a second; not waited for.
        for client in (self._sync_client, *self._retired):
            try:
                if client is not None:
                    client.close()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                pass


def _unlink_each(client, keys):
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.unlink(key)
    pipe.execute()


_TIERS = weakref.WeakSet()
_INHERITED = []  # a forked child's copies of its parent's clients: never used, never collected


def _renew_in_child():
    # A forked child inherits its parent's local entries, so it must hear
    # clears too; the parent's listener thread did not come along.
    for tier in list(_TIERS):
        if tier._closed or tier._pid == os.getpid():
            continue
        if tier._after_fork():
            tier._clear_on_subscribe = True
            _listener.start(tier)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_in_child)
