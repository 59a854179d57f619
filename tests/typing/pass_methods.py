"""Methods: obj.m(...) drops self, Cls.m(obj, ...) takes it.  Must type-check."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from typing_extensions import assert_type

from boundcache import BoundCachedMethod, CacheInfo, cache, lru_cache

T = TypeVar("T")


class Image:
    def __init__(self, data: bytes) -> None:
        self.data = data

    @lru_cache(maxsize=16)
    def thumbnail(self, width: int, height: int = 0, *, fmt: str = "png") -> bytes:
        return self.data[: width + height] + fmt.encode()

    @cache
    def size(self) -> int:
        return len(self.data)

    @lru_cache
    def copy(self) -> "Image":
        return Image(self.data)

    def uses_own_cache(self) -> int:
        return self.size() + len(self.thumbnail(1))


class Photo(Image):
    @cache
    def area(self) -> int:
        return super().size() ** 2


img = Image(b"pixels")
photo = Photo(b"pixels")

# Through an instance: the parameters after self.
assert_type(img.thumbnail(10), bytes)
assert_type(img.thumbnail(10, 20), bytes)
assert_type(img.thumbnail(width=10, height=20, fmt="jpg"), bytes)
assert_type(img.size(), int)
assert_type(img.copy(), Image)
assert_type(photo.copy(), Image)
assert_type(photo.area(), int)
assert_type(photo.thumbnail(3), bytes)
assert_type(photo.size(), int)

# Through the class: all of them, the instance first.
assert_type(Image.thumbnail(img, 10), bytes)
assert_type(Image.thumbnail(img, width=10, fmt="gif"), bytes)
assert_type(Image.size(img), int)
assert_type(Image.size(photo), int)

# What obj.m and Cls.m are.
assert_type(img.size, BoundCachedMethod[Image, [], int])
assert_type(img.thumbnail.__self__, Image)
assert_type(img.thumbnail.__wrapped__(img, 3), bytes)
assert_type(Image.thumbnail.__wrapped__(img, 3, fmt="x"), bytes)
assert_type(img.thumbnail.__name__, str)
assert_type(Image.thumbnail.__qualname__, str)

# The per-instance and per-class cache API.
assert_type(img.thumbnail.cache_info(), CacheInfo)
assert_type(img.thumbnail.cache_info().currsize, int)
img.thumbnail.cache_clear()
assert_type(img.thumbnail.cache_parameters()["maxsize"], int | None)
assert_type(Image.thumbnail.cache_info(), CacheInfo)
Image.thumbnail.cache_clear()
assert_type(Image.size.cache_parameters()["typed"], bool)

# A bound cached method is a callable without self.
bound: Callable[[int], bytes] = img.thumbnail
unbound: Callable[[Image, int], bytes] = Image.thumbnail
assert_type(bound(1), bytes)
assert_type(unbound(img, 1), bytes)


# Generic classes: the class's type variables are filled in.
class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    @cache
    def repeat(self, n: int) -> list[T]:
        return [self.item] * n


assert_type(Box(1).repeat(2), list[int])
assert_type(Box("a").repeat(n=2), list[str])
assert_type(Box[bytes].repeat(Box(b""), 2), list[bytes])


# Frozen dataclasses (unhashable or immutable instances) work the same.
@dataclass(frozen=True)
class Point:
    x: int
    y: int

    @cache
    def norm(self, p: int = 2) -> float:
        return float(abs(self.x) ** p + abs(self.y) ** p)


assert_type(Point(1, 2).norm(), float)
assert_type(Point(1, 2).norm(p=1), float)
assert_type(Point.norm(Point(1, 2), 3), float)
