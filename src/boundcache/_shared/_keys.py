"""Keys and namespaces: what names a cached call in Redis, the same in every process.

A call key (the arguments, or what ``key=`` returns) is encoded by
``encode_key`` (exact types only: None, bool, int, float, complex, str,
bytes, tuple, frozenset; frozensets sorted by encoding), whose bytes are the
same in every process, then hashed with SHA-256. ``repr`` and pickle are not
stable across processes (object addresses, set order under hash
randomisation). A call whose key holds any other type is computed and cached
in this process only. The same format, with list, dict and set too, carries
plain values when a tier has no secret (``encode_plain``/``decode_plain``).

Redis keys of a tier ``T`` and a function namespace ``F`` (docs/shared.md):
``T:v:F:G:<sha256>`` for a value, ``T:lease:F:G:<sha256>`` for a lock=True or
stale= lease, ``T:g:F`` for the generation ``G`` that cache_clear() replaces.
Every command names one key, so the layout works on a Redis Cluster unchanged.
"""

from __future__ import annotations

import hashlib
import struct
from types import BuiltinFunctionType, FunctionType


class Unshareable(Exception):
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
        raise Unshareable("nested too deeply")
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
        raise Unshareable(f"no stable encoding for {t.__qualname__}")


def encode_key(obj) -> bytes:
    out = bytearray()
    try:
        _encode(obj, out, True)
    except ValueError as exc:  # an int too long for str()
        raise Unshareable(str(exc)) from None
    return bytes(out)


def encode_plain(obj) -> bytes:
    out = bytearray()
    try:
        _encode(obj, out, False)
    except ValueError as exc:
        raise Unshareable(str(exc)) from None
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




# -- namespaces


def function_namespace(func, name):
    """The namespace of ``func``'s entries in a tier: ``name``, or its module and qualified name.

    A default must name one function alone: the qualified name of a closure
    or a lambda is shared by every function that the same code makes, and
    their entries would mix (``tenfold(3)`` answered by ``double``'s entry)."""
    if name is not None:
        if not isinstance(name, str) or not name or "\n" in name:
            raise TypeError(f"name= must be a non-empty str without newlines, not {name!r}")
        return name
    qualname = getattr(func, "__qualname__", None)
    module = getattr(func, "__module__", None)
    if type(func) not in (FunctionType, BuiltinFunctionType) or not isinstance(qualname, str):
        why = f"a {type(func).__name__} has no name that tells it apart from others of its kind"
    elif "<locals>" in qualname or "<lambda>" in qualname:
        why = (
            "it is a closure or a lambda: every function made by the same code has this qualified name, "
            "and shared entries would be mixed between them"
        )
    else:
        return f"{module}.{qualname}"
    raise TypeError(
        f"shared= needs a name of its own for {qualname or func!r}: {why}. Name the cache, unique among the "
        "functions of the tier and the same in every process: lru_cache(..., shared=tier, name='thumbnails-v1')"
    )


def value_key(tier_namespace, namespace, generation, call_key_bytes):
    return f"{tier_namespace}:v:{namespace}:{generation}:{hashlib.sha256(call_key_bytes).hexdigest()}"


def lease_key(tier_namespace, rkey):
    """The lease of the value key ``rkey`` (``T:v:...`` -> ``T:lease:...``)."""
    return f"{tier_namespace}:lease:{rkey[len(tier_namespace) + 3 :]}"


def generation_key(tier_namespace, namespace):
    return f"{tier_namespace}:g:{namespace}"


def escape_glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
