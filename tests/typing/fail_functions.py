"""Wrong calls of cached functions must be reported.

Each line marked ``# E: <fragment>`` must get an error whose text (message
and error code) contains the fragment; alternatives are separated by `` | ``
(usually mypy's code, then pyright's rule).  No other line may get one.
"""

from boundcache import cache, lru_cache


@lru_cache
def bare(x: int, y: str = "a") -> float:
    return float(x) + len(y)


@lru_cache(maxsize=32)
def keyword_only(x: int, *, scale: float = 1.0) -> float:
    return x * scale


@cache
def positional_only(key: str, /) -> bytes:
    return key.encode()


# Wrong argument types.
bare("1")  # E: arg-type | reportArgumentType
bare(1, 2)  # E: arg-type | reportArgumentType
bare(1, y=None)  # E: arg-type | reportArgumentType
positional_only(b"k")  # E: arg-type | reportArgumentType

# Missing arguments.
bare()  # E: call-arg | reportCallIssue
bare(y="b")  # E: call-arg | reportCallIssue

# Unknown keywords and too many arguments.
bare(1, z=2)  # E: call-arg | reportCallIssue
bare(1, "a", "b")  # E: call-arg | reportCallIssue
keyword_only(1, 2.0)  # E: call-arg | reportCallIssue
positional_only(key="k")  # E: call-arg | reportCallIssue

# The result keeps its type.
as_str: str = bare(1)  # E: assignment | reportAssignmentType
bare(1).upper()  # E: attr-defined | reportAttributeAccessIssue

# So does __wrapped__.
bare.__wrapped__("1")  # E: arg-type | reportArgumentType

# The cache API is typed.
bare.cache_info().hit  # E: attr-defined | reportAttributeAccessIssue
bare.cache_clear(True)  # E: call-arg | reportCallIssue
bare.cache_parameters()["size"]  # E: typeddict-item | reportTypedDictNotRequiredAccess | is not a defined key
bare.cache_size()  # E: attr-defined | reportAttributeAccessIssue


# A wrong maxsize or typed is an error, in the called form and directly.
@lru_cache(maxsize="128")  # E: call-overload | reportCallIssue | reportArgumentType
def wrong_maxsize_str(x: int) -> int:
    return x


@lru_cache(maxsize=1.5)  # E: call-overload | reportCallIssue | reportArgumentType
def wrong_maxsize_float(x: int) -> int:
    return x


@lru_cache(typed="yes")  # E: call-overload | reportCallIssue | reportArgumentType
def wrong_typed(x: int) -> int:
    return x


lru_cache(maxsize=[1])  # E: call-overload | reportCallIssue | reportArgumentType
lru_cache(128, False, 3)  # E: call-overload | reportCallIssue
cache(3)  # E: call-overload | reportCallIssue | reportArgumentType
cache()  # E: call-overload | reportCallIssue


@lru_cache(ttl="soon")  # E: call-overload | reportCallIssue | reportArgumentType
def bad_ttl(x: int) -> int:
    return x
