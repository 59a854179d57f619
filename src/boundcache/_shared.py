"""A Redis tier behind boundcache's local cache (docs/shared.md, contract section 8).

How it fits the core: the C++ wrapper is built exactly as without ``shared=``
(same kind, same options), but the function it calls on a local miss is
``_Binding.miss``: that looks in Redis, and only on a Redis miss calls the
user's function and stores the result in Redis. So a local hit is a plain
boundcache hit: nothing here runs and Redis is never asked.

Choices (each documented in docs/shared.md):

- Keys: a call key is encoded by ``_encode`` (exact types only: None, bool,
  int, float, complex, str, bytes, tuple, frozenset; frozensets sorted by
  encoding), whose bytes are the same in every process, then hashed with
  SHA-256. ``repr`` and pickle are not stable across processes (object
  addresses, set order under hash randomisation). A call whose key holds any
  other type is computed and cached locally only.
- Values: with a ``secret``, pickled (protocol 5) and signed with
  HMAC-SHA256 over the Redis key (which holds the namespace and the key's
  hash) and the payload; an entry whose signature or format is wrong is a
  miss and is never unpickled. Without a secret, only plain data (the types
  above, plus list, dict and set) crosses processes, in the ``_encode``
  format, which ``_decode`` parses without running any code; a result that
  would need pickle raises ``TypeError`` saying how to set a secret.
- cache_clear(): clears the local cache, deletes the namespace's keys in
  Redis (SCAN + UNLINK) and publishes the namespace on one channel per tier.
  A listener thread per process (started on the first call that reaches the
  tier, and again in a forked child) clears its local copies when a message
  arrives. A local hit never talks to Redis, so this is how other processes
  learn. If the listener's connection is lost, messages may be missed: when
  it subscribes again it clears every local cache of the tier.
- Faults: every Redis command has a short socket timeout; an error opens a
  circuit breaker for ``retry_interval`` seconds during which calls skip
  Redis (compute or serve locally); a warning is logged once per outage on
  the ``boundcache.shared`` logger. A cache_clear() that could not reach
  Redis is replayed when it answers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import pickle
import struct
import threading
import time
import weakref
from collections import namedtuple
from functools import update_wrapper, wraps

try:
    import redis
    import redis.asyncio as _redis_asyncio
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'boundcache.RedisTier needs redis-py: pip install "boundcache[redis]" (or pip install redis)'
    ) from exc

__all__ = ["RedisTier", "TierInfo"]

log = logging.getLogger("boundcache.shared")

_FAULTS = (RedisError, OSError, asyncio.TimeoutError)

TierInfo = namedtuple("TierInfo", "hits misses errors bytes_sent bytes_received invalid unshared")
TierInfo.__doc__ = """Statistics of a RedisTier in this process (since it was made).

hits / misses: Redis lookups that found a valid entry / found none; errors:
Redis commands that failed or timed out; bytes_sent / bytes_received: value
bytes written to / read from Redis; invalid: entries refused (bad signature or
format), each also counted as a miss; unshared: calls kept local because their
key or result could not cross processes."""


class _Unshareable(Exception):
    """A key or value that has no stable, safe encoding."""


# -- the plain-data encoding (keys always; values without a secret)
#
# tag byte, then: N T F (nothing), i (length + decimal), f (8-byte double),
# c (two doubles), s (length + UTF-8 with surrogates), b (length + bytes),
# t l S z (count + items: tuple, list, set, frozenset), d (count + key, value).
# Lengths and counts are 4-byte big-endian. Sets and frozensets are sorted by
# their items' encodings, so equal sets encode alike in every process.

_LEN = struct.Struct(">I")
_DOUBLE = struct.Struct(">d")
_COMPLEX = struct.Struct(">dd")
_MAX_DEPTH = 64


def _encode(obj, out: bytearray, keys_only: bool, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise _Unshareable("nested too deeply")
    t = type(obj)
    if obj is None:
        out += b"N"
    elif t is bool:
        out += b"T" if obj else b"F"
    elif t is int:
        digits = str(obj).encode()  # ints beyond sys.int_info's string limit raise ValueError: unshareable
        out += b"i" + _LEN.pack(len(digits)) + digits
    elif t is float:
        out += b"f" + _DOUBLE.pack(obj)
    elif t is complex:
        out += b"c" + _COMPLEX.pack(obj.real, obj.imag)
    elif t is str:
        data = obj.encode("utf-8", "surrogatepass")
        out += b"s" + _LEN.pack(len(data)) + data
    elif t is bytes:
        out += b"b" + _LEN.pack(len(obj)) + obj
    elif t is tuple or (t is list and not keys_only):
        out += (b"t" if t is tuple else b"l") + _LEN.pack(len(obj))
        for item in obj:
            _encode(item, out, keys_only, depth + 1)
    elif t is frozenset or (t is set and not keys_only):
        items = []
        for item in obj:
            part = bytearray()
            _encode(item, part, keys_only, depth + 1)
            items.append(bytes(part))
        items.sort()
        out += (b"z" if t is frozenset else b"S") + _LEN.pack(len(items))
        for part in items:
            out += part
    elif t is dict and not keys_only:
        out += b"d" + _LEN.pack(len(obj))
        for k, v in obj.items():
            _encode(k, out, keys_only, depth + 1)
            _encode(v, out, keys_only, depth + 1)
    else:
        raise _Unshareable(f"no stable encoding for {t.__qualname__}")


def encode_key(obj) -> bytes:
    out = bytearray()
    try:
        _encode(obj, out, True)
    except ValueError as exc:  # an int too long for str()
        raise _Unshareable(str(exc)) from None
    return bytes(out)


def encode_plain(obj) -> bytes:
    out = bytearray()
    try:
        _encode(obj, out, False)
    except ValueError as exc:
        raise _Unshareable(str(exc)) from None
    return bytes(out)


def decode_plain(data: bytes):
    """Parses ``encode_plain``'s format; raises ValueError on anything else. Runs no user code."""
    view = memoryview(data)
    value, end = _decode(view, 0, 0)
    if end != len(view):
        raise ValueError("trailing bytes")
    return value


def _length(view, pos):
    if pos + 4 > len(view):
        raise ValueError("truncated")
    return _LEN.unpack_from(view, pos)[0], pos + 4


def _decode(view, pos, depth):
    if depth > _MAX_DEPTH or pos >= len(view):
        raise ValueError("truncated or nested too deeply")
    tag = view[pos]
    pos += 1
    if tag == 0x4E:  # N
        return None, pos
    if tag == 0x54:  # T
        return True, pos
    if tag == 0x46:  # F
        return False, pos
    if tag in (0x69, 0x73, 0x62):  # i s b
        n, pos = _length(view, pos)
        if pos + n > len(view):
            raise ValueError("truncated")
        raw = bytes(view[pos : pos + n])
        pos += n
        if tag == 0x62:
            return raw, pos
        if tag == 0x73:
            return raw.decode("utf-8", "surrogatepass"), pos
        if not raw or not raw.lstrip(b"-").isdigit():
            raise ValueError("bad int")
        return int(raw), pos
    if tag == 0x66:  # f
        if pos + 8 > len(view):
            raise ValueError("truncated")
        return _DOUBLE.unpack_from(view, pos)[0], pos + 8
    if tag == 0x63:  # c
        if pos + 16 > len(view):
            raise ValueError("truncated")
        re, im = _COMPLEX.unpack_from(view, pos)
        return complex(re, im), pos + 16
    if tag in (0x74, 0x6C, 0x53, 0x7A):  # t l S z
        n, pos = _length(view, pos)
        if n > len(view) - pos:  # each item takes a byte at least
            raise ValueError("truncated")
        items = []
        for _ in range(n):
            item, pos = _decode(view, pos, depth + 1)
            items.append(item)
        if tag == 0x74:
            return tuple(items), pos
        if tag == 0x6C:
            return items, pos
        try:
            return (set(items) if tag == 0x53 else frozenset(items)), pos
        except TypeError:  # an unhashable item (a list) inside: not something we wrote
            raise ValueError("unhashable set item") from None
    if tag == 0x64:  # d
        n, pos = _length(view, pos)
        if n > len(view) - pos:
            raise ValueError("truncated")
        result = {}
        for _ in range(n):
            k, pos = _decode(view, pos, depth + 1)
            v, pos = _decode(view, pos, depth + 1)
            try:
                result[k] = v
            except TypeError:
                raise ValueError("unhashable dict key") from None
        return result, pos
    raise ValueError(f"unknown tag {tag}")


# -- value records: b"BC1" + format byte + (32-byte HMAC for "K") + payload

_MAGIC = b"BC1"
_SIGNED_PICKLE = b"K"
_PLAIN = b"P"
_MAC_SIZE = 32


class _ResultNeedsSecret(TypeError):
    pass


def _escape_glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisTier:
    """A Redis server that caches made with ``lru_cache(..., shared=tier)`` share.

    ``url`` (``redis://host:port/db``, default ``redis://127.0.0.1:6379/0``)
    or ``client`` (a ``redis.Redis`` or ``redis.asyncio.Redis``) names the
    server. ``namespace`` prefixes every key and the invalidation channel
    (default ``"boundcache"``); each cached function has its own namespace
    inside it (its module and qualified name). ``secret`` (bytes or str) signs
    values with HMAC-SHA256 and allows pickled values; without it only plain
    data is shared (docs/shared.md).

    ``timeout`` bounds each Redis command (seconds; used when the tier makes
    its clients from ``url``), ``retry_interval`` is how long the tier is
    skipped after a failure, and ``lease`` how long a ``lock=True``
    computation holds its key before another process may take over.
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
    ):
        if url is not None and client is not None:
            raise TypeError("RedisTier takes a url or a client=, not both")
        if url is not None and not isinstance(url, str):
            raise TypeError(f"RedisTier url must be a str such as 'redis://127.0.0.1:6379/0', not {type(url).__name__}")
        if client is not None and not isinstance(client, (redis.Redis, _redis_asyncio.Redis)):
            raise TypeError(
                f"RedisTier client= must be a redis.Redis or redis.asyncio.Redis, not {type(client).__name__}"
            )
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
        self.url = url if url is not None or client is not None else "redis://127.0.0.1:6379/0"
        self.namespace = namespace
        self._secret = bytes(secret) if secret is not None else None
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self.lease = float(lease)
        self._user_client = client
        self._sync_client = client if isinstance(client, redis.Redis) else None
        self._async_clients = weakref.WeakKeyDictionary()  # event loop -> redis.asyncio.Redis
        if client is not None:
            kwargs = client.connection_pool.connection_kwargs
            if kwargs.get("socket_timeout") is None:
                log.warning(
                    "boundcache: the Redis client given to RedisTier has no socket_timeout; a hanging server "
                    "will hang cached calls. Give it socket_timeout= and socket_connect_timeout="
                )
        self.channel = f"{namespace}:clear"
        self._token = os.urandom(8).hex()  # this process's messages on the channel
        self._bindings = {}  # function namespace -> WeakSet of _Binding
        self._lock = threading.Lock()
        # circuit breaker
        self._down_until = 0.0  # monotonic; Redis is skipped until then
        self._outage = False
        self._pending_clears = set()  # namespaces whose clear could not reach Redis
        # statistics
        self._stats = [0, 0, 0, 0, 0, 0, 0]
        # invalidation listener
        self._pid = os.getpid()
        self._listener = None
        self._listener_stop = threading.Event()
        self._subscribed = threading.Event()
        self._clear_on_subscribe = False
        self._waited = False
        self._closed = False
        _TIERS.add(self)

    def __repr__(self):
        where = self.url if self.url is not None else repr(self._user_client)
        return f"<boundcache.RedisTier {where} namespace={self.namespace!r}>"

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
            if isinstance(self._user_client, _redis_asyncio.Redis):
                client = redis.Redis(**_sync_kwargs(self._user_client), retry=Retry(NoBackoff(), 0))
            else:
                client = redis.Redis.from_url(
                    self.url,
                    socket_timeout=self.timeout,
                    socket_connect_timeout=self.timeout,
                    retry=Retry(NoBackoff(), 0),
                )
            self._sync_client = client
        return client

    def _async(self):
        if isinstance(self._user_client, _redis_asyncio.Redis):
            return self._user_client
        # redis.asyncio connections belong to the loop that made them: one client per loop.
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            if self._user_client is not None:
                client = _redis_asyncio.Redis(**_sync_kwargs(self._user_client), retry=Retry(NoBackoff(), 0))
            else:
                client = _redis_asyncio.Redis.from_url(
                    self.url,
                    socket_timeout=self.timeout,
                    socket_connect_timeout=self.timeout,
                    retry=Retry(NoBackoff(), 0),
                )
            self._async_clients[loop] = client
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
        self._count(2)
        with self._lock:
            self._down_until = time.monotonic() + self.retry_interval
            first = not self._outage
            self._outage = True
        if first:
            log.warning(
                "boundcache: Redis tier %r failed (%s: %s); calls are computed and cached locally, and Redis is "
                "retried every %.3g s",
                self,
                type(exc).__name__,
                exc,
                self.retry_interval,
            )

    def _answered(self) -> None:
        # Called after each successful command; cheap unless an outage just ended.
        if self._down_until:
            with self._lock:
                was_out = self._outage
                self._down_until = 0.0
                self._outage = False
                pending = self._pending_clears
                self._pending_clears = set()
            if was_out:
                log.warning("boundcache: Redis tier %r answers again; sharing resumes", self)
            for namespace in pending:
                self._clear_redis(namespace)

    # -- functions

    def _bind(self, func, typed, key, ttl, lock):
        namespace = f"{getattr(func, '__module__', None)}.{getattr(func, '__qualname__', None) or func.__name__}"
        binding = _Binding(self, func, namespace, typed, key, ttl, lock)
        with self._lock:
            self._bindings.setdefault(namespace, weakref.WeakSet()).add(binding)
        return binding

    def _local_clear(self, namespace=None):
        with self._lock:
            if namespace is None:
                groups = [list(s) for s in self._bindings.values()]
            else:
                groups = [list(self._bindings.get(namespace, ()))]
        for group in groups:
            for binding in group:
                binding.clear_local()

    def _clear_redis(self, namespace) -> bool:
        if not self._usable():
            with self._lock:
                self._pending_clears.add(namespace)
            return False
        client = self._sync()
        pattern = f"{_escape_glob(self.namespace)}:v:{_escape_glob(namespace)}:*"
        try:
            batch = []
            for k in client.scan_iter(match=pattern, count=1000):
                batch.append(k)
                if len(batch) >= 1000:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
            client.publish(self.channel, f"{self._token}\n{namespace}")
        except _FAULTS as exc:
            with self._lock:
                self._pending_clears.add(namespace)
            self._failed(exc)
            return False
        self._answered()
        return True

    # -- the invalidation listener

    def _ensure_listener(self) -> None:
        if self._listener is not None and self._pid == os.getpid():
            if not self._waited:
                self._wait_subscribed()
            return
        with self._lock:
            if self._closed:
                return
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._after_fork()
            if self._listener is None:
                self._start_listener()
        self._wait_subscribed()

    def _wait_subscribed(self):
        # The first call waits (at most a timeout) for the subscription, so
        # that no clear published after it is missed; if it times out, the
        # first subscription clears the local caches instead.
        if not self._subscribed.wait(self.timeout):
            self._clear_on_subscribe = True
        self._waited = True

    def _start_listener(self):
        self._listener_stop = threading.Event()
        thread = threading.Thread(
            target=self._listen, args=(self._listener_stop,), name="boundcache-redis-invalidation", daemon=True
        )
        self._listener = thread
        thread.start()

    def _after_fork(self):
        self._pid = os.getpid()
        self._token = os.urandom(8).hex()
        had_listener = self._listener is not None
        self._listener = None
        self._subscribed = threading.Event()
        self._waited = False
        self._async_clients = weakref.WeakKeyDictionary()
        return had_listener

    def _listen(self, stop):
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = self._sync().pubsub()
                pubsub.subscribe(self.channel)
                deadline = time.monotonic() + max(self.timeout, 1.0)
                while True:  # wait for the server's confirmation
                    msg = pubsub.get_message(timeout=self.timeout)
                    if msg is not None and msg["type"] == "subscribe":
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("no confirmation of SUBSCRIBE")
                if self._clear_on_subscribe:
                    # Clears published while we were not subscribed are lost: assume one was.
                    self._local_clear()
                    log.debug("boundcache: Redis tier %r: subscribed again, local caches cleared", self)
                self._clear_on_subscribe = True  # from now on, a lost subscription means this
                self._subscribed.set()
                self._answered()  # Redis answers: an outage, if any, is over
                while not stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None or msg["type"] != "message":
                        continue
                    data = msg["data"]
                    if isinstance(data, bytes):
                        data = data.decode("utf-8", "replace")
                    token, _, namespace = data.partition("\n")
                    if token != self._token:
                        self._local_clear(namespace)
            except Exception as exc:  # noqa: BLE001 - the listener must outlive any failure
                self._subscribed.clear()
                if not stop.is_set():
                    log.debug("boundcache: Redis tier %r: invalidation listener: %s: %s", self, type(exc).__name__, exc)
                    # The listener often sees an outage first (a closed connection): it
                    # opens the breaker and logs the outage's one warning; while the
                    # outage lasts, its retries do not extend it.
                    if not self._outage:
                        self._failed(exc)
                stop.wait(min(self.retry_interval, 0.5))
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001, S110
                        pass

    def close(self) -> None:
        """Stops the invalidation listener and closes the tier's own clients.

        Caches made with this tier keep working, locally only."""
        self._closed = True
        self._listener_stop.set()
        # The listener thread (a daemon) sees the stop within half a second; not waited for.
        if self._user_client is None and self._sync_client is not None:
            self._sync_client.close()


_TIERS = weakref.WeakSet()


def _restart_listeners_in_child():
    # A forked child inherits its parent's local entries, so it must hear
    # clears too; the parent's listener thread did not come along.
    for tier in list(_TIERS):
        if tier._closed or tier._pid == os.getpid():
            continue
        if tier._after_fork():
            tier._clear_on_subscribe = True
            tier._start_listener()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_listeners_in_child)


def _sync_kwargs(client):
    """Connection arguments of ``client`` usable to make the other kind (sync <-> asyncio) of client."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    keep = {
        "host",
        "port",
        "db",
        "username",
        "password",
        "socket_timeout",
        "socket_connect_timeout",
        "path",
        "client_name",
    }
    out = {k: v for k, v in kwargs.items() if k in keep}
    if "path" in out:
        out["unix_socket_path"] = out.pop("path")
    return out


class _Binding:
    """One cached function's place in a tier: its namespace, key and value rules."""

    __slots__ = ("__weakref__", "core", "func", "key", "lock", "namespace", "prefix", "tier", "ttl_ms", "typed", "warned")

    def __init__(self, tier, func, namespace, typed, key, ttl, lock):
        self.tier = tier
        self.func = func
        self.namespace = namespace
        self.prefix = f"{tier.namespace}:v:{namespace}:"
        self.typed = typed
        self.key = key
        self.ttl_ms = None if ttl is None or ttl == float("inf") else max(1, int(ttl * 1000))
        self.lock = lock
        self.core = None  # weakref to the core wrapper, set by shared_wrapper
        self.warned = set()

    # keys

    def redis_key(self, args, kwargs) -> str:
        if self.key is not None:
            call_key = self.key(*args, **kwargs)
        else:
            call_key = (args, tuple(kwargs.items())) if kwargs else (args,)
        try:
            data = encode_key(call_key)
        except _Unshareable as exc:
            self._unshared("key", exc)
            raise
        return self.prefix + hashlib.sha256(data).hexdigest()

    def _unshared(self, what, exc):
        self.tier._count(6)
        if str(exc) not in self.warned:
            self.warned.add(str(exc))
            log.warning(
                "boundcache: %s: a %s with %s is cached in this process only (docs/shared.md lists the types "
                "that cross processes)",
                self.namespace,
                what,
                exc,
            )

    # values

    def dump(self, rkey: str, value) -> bytes:
        secret = self.tier._secret
        if secret is None:
            try:
                payload = encode_plain(value)
            except _Unshareable as exc:
                raise _ResultNeedsSecret(
                    f"boundcache: {self.namespace} returned a {type(value).__qualname__}, which crosses processes "
                    "only pickled, and RedisTier refuses pickled values without a secret (an unsigned pickle in "
                    "Redis would let anyone who can write to Redis run code here). Give the tier a secret shared "
                    "by your processes: RedisTier(url, secret=os.environ['CACHE_SECRET']); or return plain data "
                    f"(None, bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset) [{exc}]"
                ) from None
            return _MAGIC + _PLAIN + payload
        try:
            payload = pickle.dumps(value, protocol=5)
        except Exception as exc:  # noqa: BLE001 - any failure to pickle means "keep it local"
            raise _Unshareable(f"a result that cannot be pickled ({type(exc).__name__}: {exc})") from None
        mac = hmac.new(secret, _signed_bytes(rkey, payload), hashlib.sha256).digest()
        return _MAGIC + _SIGNED_PICKLE + mac + payload

    def load(self, rkey: str, data: bytes):
        """The value of a Redis entry; raises ValueError for a bad signature or format (never unpickled then)."""
        if data[:3] != _MAGIC or len(data) < 4:
            raise ValueError("not a boundcache entry")
        kind = data[3:4]
        secret = self.tier._secret
        if secret is None:
            if kind != _PLAIN:
                raise ValueError("a signed entry, and this tier has no secret")
            return decode_plain(data[4:])
        if kind != _SIGNED_PICKLE or len(data) < 4 + _MAC_SIZE:
            raise ValueError("not a signed entry")
        mac = data[4 : 4 + _MAC_SIZE]
        payload = data[4 + _MAC_SIZE :]
        expected = hmac.new(secret, _signed_bytes(rkey, payload), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise ValueError("bad signature")
        return pickle.loads(payload)

    def _found(self, rkey, data, count_miss=True):
        """(True, value) for a valid entry; (False, None) for none or an invalid one."""
        tier = self.tier
        if data is None:
            if count_miss:
                tier._count(1)
            return False, None
        tier._count(4, len(data))
        try:
            value = self.load(rkey, data)
        except Exception:  # noqa: BLE001 - whatever is wrong with an entry, it is a miss
            tier._count(5)
            tier._count(1)
            return False, None
        tier._count(0)
        return True, value

    def _encoded(self, rkey, value):
        """The bytes to store, or None if the value stays local."""
        try:
            return self.dump(rkey, value)
        except _Unshareable as exc:
            self._unshared("result", exc)
            return None

    # local cache

    def clear_local(self):
        core = self.core() if self.core is not None else None
        if core is not None:
            type(core).cache_clear(core)

    def cache_clear(self):
        """Clears this process's cache, the namespace in Redis, and (through Redis) every other process's copies."""
        self.clear_local()
        tier = self.tier
        if tier._closed:
            return
        tier._clear_redis(self.namespace)

    # the miss paths

    def miss(self, *args, **kwargs):
        """What the core calls on a local miss: Redis, then the function."""
        tier = self.tier
        if not tier._usable():
            return self.func(*args, **kwargs)
        try:
            rkey = self.redis_key(args, kwargs)
        except _Unshareable:
            return self.func(*args, **kwargs)
        tier._ensure_listener()
        client = tier._sync()
        try:
            data = client.get(rkey)
        except _FAULTS as exc:
            tier._failed(exc)
            return self.func(*args, **kwargs)
        tier._answered()
        found, value = self._found(rkey, data)
        if found:
            return value
        if self.lock:
            return self._locked(client, rkey, args, kwargs)
        value = self.func(*args, **kwargs)
        self._store(client, rkey, value)
        return value

    def _store(self, client, rkey, value):
        data = self._encoded(rkey, value)
        if data is None or not self.tier._usable():
            return
        try:
            client.set(rkey, data, px=self.ttl_ms)
        except _FAULTS as exc:
            self.tier._failed(exc)
            return
        self.tier._count(3, len(data))

    def _locked(self, client, rkey, args, kwargs):
        """lock=True: one process computes the key under a lease; the others poll for its result."""
        tier = self.tier
        lease_key = f"{tier.namespace}:lease:{rkey[len(tier.namespace) + 3 :]}"
        token = os.urandom(8).hex()
        lease_ms = max(1, int(tier.lease * 1000))
        pause = 0.005
        while True:
            try:
                got = client.set(lease_key, token, nx=True, px=lease_ms)
            except _FAULTS as exc:
                tier._failed(exc)
                return self.func(*args, **kwargs)
            if got:
                try:
                    # The previous holder may have stored the value and
                    # released the lease since our last look: look again.
                    try:
                        data = client.get(rkey)
                    except _FAULTS as exc:
                        tier._failed(exc)
                        return self.func(*args, **kwargs)
                    found, value = self._found(rkey, data, count_miss=False)
                    if not found:
                        value = self.func(*args, **kwargs)
                        self._store(client, rkey, value)
                finally:
                    self._release(client, lease_key, token)
                return value
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            try:
                data = client.get(rkey)
            except _FAULTS as exc:
                tier._failed(exc)
                return self.func(*args, **kwargs)
            if data is not None:
                found, value = self._found(rkey, data)
                if found:
                    return value

    def _release(self, client, lease_key, token):
        try:
            client.eval(_RELEASE, 1, lease_key, token)
        except _FAULTS as exc:
            self.tier._failed(exc)

    async def amiss(self, *args, **kwargs):
        """The async version of ``miss``, through redis.asyncio."""
        tier = self.tier
        if not tier._usable():
            return await self.func(*args, **kwargs)
        try:
            rkey = self.redis_key(args, kwargs)
        except _Unshareable:
            return await self.func(*args, **kwargs)
        tier._ensure_listener()
        try:
            client = tier._async()
            data = await client.get(rkey)
        except _FAULTS as exc:
            tier._failed(exc)
            return await self.func(*args, **kwargs)
        tier._answered()
        found, value = self._found(rkey, data)
        if found:
            return value
        if self.lock:
            return await self._alocked(client, rkey, args, kwargs)
        value = await self.func(*args, **kwargs)
        await self._astore(client, rkey, value)
        return value

    async def _astore(self, client, rkey, value):
        data = self._encoded(rkey, value)
        if data is None or not self.tier._usable():
            return
        try:
            await client.set(rkey, data, px=self.ttl_ms)
        except _FAULTS as exc:
            self.tier._failed(exc)
            return
        self.tier._count(3, len(data))

    async def _alocked(self, client, rkey, args, kwargs):
        tier = self.tier
        lease_key = f"{tier.namespace}:lease:{rkey[len(tier.namespace) + 3 :]}"
        token = os.urandom(8).hex()
        lease_ms = max(1, int(tier.lease * 1000))
        pause = 0.005
        limit = tier.timeout * 2
        while True:
            try:
                got = await client.set(lease_key, token, nx=True, px=lease_ms)
            except _FAULTS as exc:
                tier._failed(exc)
                return await self.func(*args, **kwargs)
            if got:
                try:
                    try:
                        data = await client.get(rkey)
                    except _FAULTS as exc:
                        tier._failed(exc)
                        return await self.func(*args, **kwargs)
                    # stored by the previous holder since we looked?
                    found, value = self._found(rkey, data, count_miss=False)
                    if not found:
                        value = await self.func(*args, **kwargs)
                        await self._astore(client, rkey, value)
                finally:
                    try:
                        await client.eval(_RELEASE, 1, lease_key, token)
                    except _FAULTS as exc:
                        tier._failed(exc)
                return value
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            try:
                data = await client.get(rkey)
            except _FAULTS as exc:
                tier._failed(exc)
                return await self.func(*args, **kwargs)
            if data is not None:
                found, value = self._found(rkey, data)
                if found:
                    return value


# Deletes the lease only if it is still ours (it may have expired and been taken).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _signed_bytes(rkey: str, payload: bytes) -> bytes:
    key = rkey.encode("utf-8", "surrogatepass")
    return _LEN.pack(len(key)) + key + payload


def shared_wrapper(kind, func, maxsize, typed, options, promote, tier):
    """The wrapper for ``lru_cache(..., shared=tier)`` of ``func`` (already checked to be value-keyed)."""
    binding = tier._bind(func, typed, options.get("key"), options.get("ttl"), bool(options.get("lock")))
    from . import _is_coroutine_function

    if _is_coroutine_function(func):
        from ._async import async_wrapper

        amiss = binding.amiss

        @wraps(func)  # named as func in asyncio Task names and error messages
        async def compute(*args, **kwargs):
            return await amiss(*args, **kwargs)

        local = {k: v for k, v in options.items() if k != "lock"}  # the lease does the locking
        wrapper = async_wrapper(kind, func, maxsize, typed, local, promote=promote, compute=compute)
        call = wrapper if hasattr(wrapper, "_boundcache_core") else wrapper.func  # a method: partial of call
        core = call._boundcache_core
        call.cache_clear = binding.cache_clear
        call.shared = tier
    else:
        core = kind(binding.miss, maxsize, typed, promote, **options)
        update_wrapper(core, func)
        wrapper = core
    binding.core = weakref.ref(core)
    # An instance attribute shadows the type's method: cache_clear() (and
    # obj.m.cache_clear() of a key= method, which calls it) clears Redis too.
    core.cache_clear = binding.cache_clear
    core.shared = tier
    return wrapper
