"""Wrong calls of cached methods must be reported (markers: see fail_functions.py)."""

from boundcache import cache, lru_cache


class Image:
    def __init__(self, data: bytes) -> None:
        self.data = data

    @lru_cache(maxsize=16)
    def thumbnail(self, width: int, height: int = 0, *, fmt: str = "png") -> bytes:
        return self.data[: width + height] + fmt.encode()

    @cache
    def size(self) -> int:
        return len(self.data)


class Other:
    pass


img = Image(b"pixels")

# Through an instance: checked against the parameters after self.
img.thumbnail("10")  # E: arg-type | reportArgumentType
img.thumbnail(10, fmt=3)  # E: arg-type | reportArgumentType
img.thumbnail()  # E: call-arg | reportCallIssue
img.thumbnail(10, colour="red")  # E: call-arg | reportCallIssue
img.thumbnail(10, 20, "png")  # E: call-arg | reportCallIssue
img.thumbnail(img, 10)  # E: arg-type | reportArgumentType
img.size(1)  # E: call-arg | reportCallIssue
as_int: int = img.thumbnail(1)  # E: assignment | reportAssignmentType

# Through the class: checked against all of them, the instance first.
Image.thumbnail(10, 20)  # E: arg-type | reportArgumentType
Image.thumbnail(img)  # E: call-arg | reportCallIssue
Image.thumbnail(Other(), 10)  # E: arg-type | reportArgumentType
Image.size()  # E: call-arg | reportCallIssue

# The cache API through an instance and through the class.
img.thumbnail.cache_info().hit  # E: attr-defined | reportAttributeAccessIssue
img.thumbnail.cache_clear(img)  # E: call-arg | reportCallIssue
Image.size.cache_parameters()["size"]  # E: typeddict-item | is not a defined key
img.size.cache_size  # E: attr-defined | reportAttributeAccessIssue
img.size.__self__.nope  # E: attr-defined | reportAttributeAccessIssue
img.thumbnail.__wrapped__(img, "10")  # E: arg-type | reportArgumentType


# Overriding a cached method with a plain one loses obj.m.cache_info().
class Photo(Image):
    def size(self) -> int:  # E: override | reportIncompatibleVariableOverride
        return 0
