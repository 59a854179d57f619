"""What the checkers cannot do with boundcache's stubs (see docs/typing.md).

Markers as in fail_functions.py; ``# E[mypy]:`` / ``# E[pyright]:`` apply to
one checker only.  Unmarked lines here pass although ideally they would not:
if a checker or the stubs improve, this file fails and docs/typing.md needs
updating.
"""

from typing import Protocol, overload

from typing_extensions import Self, assert_type

from boundcache import cache


class Image:
    @cache
    def size(self) -> int:
        return 1

    # 1. mypy cannot bind a cached method whose signature uses Self (or a
    #    TypeVar for self): obj.m stays unbound there.  Write the class name.
    @cache
    def copy(self) -> Self:
        return self


class Photo(Image):
    # 2. pyright: a cached override of a cached method is reported, because it
    #    compares the two unbound wrappers, whose `self` types differ.
    @cache
    def size(self) -> int:  # E[pyright]: reportIncompatibleVariableOverride
        return 2


assert_type(Image().copy(), Image)  # E[mypy]: call-arg


# 3. pyright does not apply descriptors when matching a protocol, so a class
#    with a cached method does not satisfy a protocol with that method there.
class Sized(Protocol):
    def size(self) -> int: ...


def measure(s: Sized) -> int:
    return s.size()


measure(Image())  # E[pyright]: reportArgumentType


# 4. An overloaded function keeps its first overload only (as with any
#    ParamSpec decorator).
@overload
def convert(x: int) -> int: ...
@overload
def convert(x: str) -> str: ...
def convert(x: int | str) -> int | str:
    return x


cached_convert = cache(convert)
assert_type(cached_convert(1), int)
cached_convert("a")  # E: arg-type | reportArgumentType


# 5. The checkers hide @staticmethod from the stubs, so the first parameter
#    decides: one that accepts anything (unannotated, Any, object) is never
#    bound, one that is a `type[...]` of the owner is bound like a class
#    method, one that accepts the instance is bound when reached through an
#    instance (call such static methods through the class), and a function with no parameters in a class body is taken for a
#    static method (the runtime would pass the instance: not reported).
class Odd:
    @staticmethod
    @cache
    def make(kind: type["Odd"]) -> "Odd":
        return kind()

    @staticmethod
    @cache
    def merge(a: "Odd", b: "Odd") -> "Odd":
        return a

    @cache
    def no_self() -> int:
        return 1


Odd.make(Odd)  # E: call-arg | reportCallIssue
Odd.merge(Odd(), Odd())
Odd().merge(Odd(), Odd())  # E: call-arg | reportCallIssue
Odd().no_self()
