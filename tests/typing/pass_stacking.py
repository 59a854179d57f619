"""staticmethod, classmethod (either order), property and cached_property."""

import functools

from typing_extensions import assert_type

from boundcache import BoundCachedMethod, CacheInfo, cache, cached_property, lru_cache


def _sized(cls: "type[Registry]", size: int) -> int:
    return size


class Registry:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    @staticmethod
    @lru_cache
    def parse(text: str) -> int:
        return int(text)

    @lru_cache(maxsize=8)
    @staticmethod
    def parse_base(text: str, base: int = 10) -> int:
        return int(text, base)

    @classmethod
    @cache
    def named(cls, name: str) -> "Registry":
        return cls([name])

    @cache
    @classmethod
    def empty(cls) -> "Registry":
        return cls([])

    @property
    @lru_cache
    def total(self) -> int:
        return len(self.names)

    @property
    @cache
    def first(self) -> str:
        return self.names[0]

    # A decorator written out as a call.
    sized = cache(classmethod(_sized))

    @cached_property
    def label(self) -> str:
        return ",".join(self.names)


reg = Registry(["a"])

# Static methods: no self, through the class or an instance.
assert_type(Registry.parse("1"), int)
assert_type(reg.parse("1"), int)
assert_type(Registry.parse_base("ff", base=16), int)
assert_type(reg.parse_base(text="ff"), int)
assert_type(reg.parse.cache_info(), CacheInfo)
Registry.parse_base.cache_clear()

# Class methods: cls is bound, through the class or an instance.
assert_type(Registry.named("x"), Registry)
assert_type(reg.named(name="x"), Registry)
assert_type(Registry.empty(), Registry)
assert_type(reg.empty(), Registry)
assert_type(Registry.empty, BoundCachedMethod[type[Registry], [], Registry])
assert_type(Registry.named.cache_info(), CacheInfo)
reg.empty.cache_clear()

# Written-out call: cache(classmethod(f)).
assert_type(Registry.sized(3), int)
assert_type(reg.sized(size=3), int)
assert_type(reg.sized.cache_info(), CacheInfo)

# property above the decorator.
assert_type(reg.total, int)
assert_type(reg.first, str)

# cached_property.
assert_type(reg.label, str)
assert_type(Registry.label, cached_property[str])
assert_type(Registry.label.attrname, str | None)
as_functools: functools.cached_property[str] = Registry.label  # a subclass, as at run time
reg.label = "replaced"  # assigning replaces the cached value, as in functools
del reg.label  # deleting makes the next read recompute
