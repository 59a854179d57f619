"""staticmethod, classmethod, property, cached_property misuse (markers: see fail_functions.py)."""

from boundcache import cache, cached_property, lru_cache


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

    @cached_property
    def label(self) -> str:
        return ",".join(self.names)


reg = Registry(["a"])

# Static methods take no instance, through the class or an instance.
Registry.parse(1)  # E: arg-type | reportArgumentType
reg.parse(reg, "1")  # E: call-arg | reportCallIssue
reg.parse()  # E: call-arg | reportCallIssue
Registry.parse_base("ff", bse=16)  # E: call-arg | reportCallIssue
reg.parse_base("ff", "16")  # E: arg-type | reportArgumentType

# Class methods have cls bound already.
Registry.named(Registry, "x")  # E: call-arg | reportCallIssue
reg.named(1)  # E: arg-type | reportArgumentType
Registry.empty(Registry)  # E: call-arg | reportCallIssue
Registry.named.cache_infos()  # E: attr-defined | reportAttributeAccessIssue

# A property reads as its value.
reg.total()  # E: operator | reportCallIssue
as_str: str = reg.total  # E: assignment | reportAssignmentType
reg.total = 3  # E: misc | reportAttributeAccessIssue

# cached_property reads as its value, and only accepts values of its type.
reg.label()  # E: operator | reportCallIssue
reg.label = 3  # E: assignment | reportAttributeAccessIssue
Registry.label.attrname.upper()  # E: union-attr | reportOptionalMemberAccess


class BadProperty:
    @cached_property  # E: arg-type | reportArgumentType
    def needs_arg(self, x: int) -> int:
        return x
