"""Enum members live as long as their class: nothing new is pinned."""
import enum
from enum import Enum, IntEnum
import functools


class Color(Enum):
    RED = 1

    @functools.cache  # skip: bugbear (Enum)
    def label(self):
        return self.name.lower()


class Level(IntEnum):
    LOW = 1

    @functools.lru_cache  # skip: bugbear (Enum)
    def twice(self):
        return 2 * self


class Flags(enum.Flag):
    A = 1

    @functools.cache  # skip: bugbear (Enum)
    def describe(self):
        return str(self)


class Base(Enum):
    pass


class Derived(Base):
    X = 1

    @functools.cache  # skip: bugbear (subclass of an Enum in this file)
    def value_twice(self):
        return 2 * self.value


class ByMeta(metaclass=enum.EnumMeta):
    Y = 1

    @functools.cache  # skip: bugbear (Enum by metaclass)
    def value_twice(self):
        return 2 * self.value
