"""Values in Redis: serialized, compressed above a size, and signed.

A record is ``BC2`` + a header (a format byte, a compression byte, and the
wall-clock time until which the value is fresh, a big-endian double, 0 for
"no stale= window") + (with a secret) an HMAC-SHA256 over the Redis key, the
header and the payload + the payload.
An entry whose signature or format is wrong is refused (a miss) and never
deserialized; since the key is signed, an entry copied under another key is
refused too.

Formats: ``K`` pickle (protocol 5; only with a secret: an unsigned pickle in
Redis would let anyone who can write to Redis run code in every process),
``P`` the plain-data encoding of _keys (parsed without running any code),
``J`` JSON (UTF-8), ``U`` a user's ``(dumps, loads)`` pair. Compression: ``N``
none, ``Z`` zlib, used when the payload exceeds ``compress_above`` bytes and
compressing makes it smaller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
import zlib

from ._keys import Unshareable, decode_plain, encode_plain

_MAGIC = b"BC2"
_MAC_SIZE = 32
_LEN = struct.Struct(">I")
_FRESH = struct.Struct(">d")
_HEADER = 2 + _FRESH.size
# A compressed payload is refused beyond this size once inflated (a zlib bomb written by whoever can write to Redis).
_MAX_INFLATED = 1 << 28
_PLAIN_TYPES = "None, bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset"


class ResultNeedsSecret(TypeError):
    """A result that only pickle could carry, from a tier without a secret."""


def _json_dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json_loads(data):
    return json.loads(data.decode())


class Codec:
    """How one tier turns results into records and back."""

    __slots__ = ("_dumps", "_format", "_loads", "compress_above", "secret", "serializer")

    def __init__(self, serializer, secret, compress_above):
        self.secret = secret
        self.compress_above = compress_above
        if serializer is None:
            serializer = "pickle" if secret is not None else "plain"
        self.serializer = serializer
        if serializer == "pickle":
            if secret is None:
                raise ValueError(
                    "RedisTier serializer='pickle' needs a secret= (an unsigned pickle in Redis would let anyone "
                    "who can write to Redis run code in every process): give secret=os.environ['CACHE_SECRET'], "
                    "or serializer='json' or 'plain'"
                )
            self._format, self._dumps, self._loads = b"K", lambda v: pickle.dumps(v, protocol=5), pickle.loads
        elif serializer == "plain":
            self._format, self._dumps, self._loads = b"P", encode_plain, decode_plain
        elif serializer == "json":
            self._format, self._dumps, self._loads = b"J", _json_dumps, _json_loads
        elif isinstance(serializer, tuple) and len(serializer) == 2 and all(map(callable, serializer)):
            self._format, (self._dumps, self._loads) = b"U", serializer
        else:
            raise ValueError(
                "RedisTier serializer= must be 'pickle' (the default with a secret), 'plain' (the default "
                f"without), 'json', or a (dumps, loads) pair of callables, not {serializer!r}"
            )

    def dump(self, rkey: str, value, namespace: str, fresh_until: float = 0.0) -> bytes:
        """The record for ``value``; raises Unshareable (keep it local) or ResultNeedsSecret."""
        try:
            payload = self._dumps(value)
        except Unshareable as exc:
            if self.secret is None and self.serializer == "plain":
                raise ResultNeedsSecret(
                    f"boundcache: {namespace} returned a {type(value).__qualname__}, which crosses processes "
                    "only pickled, and RedisTier refuses pickled values without a secret (an unsigned pickle in "
                    "Redis would let anyone who can write to Redis run code here). Give the tier a secret shared "
                    "by your processes: RedisTier(url, secret=os.environ['CACHE_SECRET']); or return plain data "
                    f"({_PLAIN_TYPES}) [{exc}]"
                ) from None
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to serialize means "keep it local"
            raise Unshareable(f"a result that {self.serializer!r} cannot serialize ({type(exc).__name__}: {exc})") from None
        if not isinstance(payload, (bytes, bytearray)):
            raise Unshareable(f"a serializer that returned {type(payload).__name__}, not bytes")
        compression = b"N"
        if self.compress_above is not None and len(payload) > self.compress_above:
            packed = zlib.compress(payload, 1)
            if len(packed) < len(payload):
                payload, compression = packed, b"Z"
        header = self._format + compression + _FRESH.pack(fresh_until)
        if self.secret is None:
            return _MAGIC + header + payload
        return _MAGIC + header + self._mac(rkey, header, payload) + payload

    def load(self, rkey: str, data: bytes):
        """(value, fresh_until) of a record; raises ValueError for a bad signature or format (never deserialized)."""
        if len(data) < 3 + _HEADER or data[:3] != _MAGIC:
            raise ValueError("not a boundcache entry")
        header = data[3 : 3 + _HEADER]
        if header[:1] != self._format or header[1:2] not in (b"N", b"Z"):
            raise ValueError("another format than this tier's")
        payload = data[3 + _HEADER :]
        if self.secret is not None:
            mac, payload = payload[:_MAC_SIZE], payload[_MAC_SIZE:]
            if not hmac.compare_digest(mac, self._mac(rkey, header, payload)):
                raise ValueError("bad signature")
        if header[1:2] == b"Z":
            inflate = zlib.decompressobj()
            payload = inflate.decompress(payload, _MAX_INFLATED)
            if inflate.unconsumed_tail or not inflate.eof:
                raise ValueError("a compressed payload too large or truncated")
        return self._loads(payload), _FRESH.unpack_from(header, 2)[0]

    def _mac(self, rkey, header, payload):
        key = rkey.encode("utf-8", "surrogatepass")
        return hmac.new(self.secret, _LEN.pack(len(key)) + key + header + payload, hashlib.sha256).digest()
