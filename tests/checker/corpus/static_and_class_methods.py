"""Static and class methods never see an instance: skipped, in either order."""
import builtins
import functools


class Registry:
    @staticmethod
    @functools.lru_cache
    def static_below(x):
        return x

    @functools.lru_cache  # skip: bugbear (memoizer above staticmethod)
    @staticmethod
    def static_above(x):
        return x

    @classmethod
    @functools.cache
    def class_below(cls):
        return cls

    @functools.cache  # skip: bugbear (memoizer above classmethod)
    @classmethod
    def class_above(cls):
        return cls

    @builtins.staticmethod
    @functools.cache  # skip: bugbear (builtins.staticmethod)
    def builtins_static(x):
        return x

    @functools.cache  # skip: bugbear (implicit static method)
    def __new__(cls):
        return super().__new__(cls)

    @functools.cache  # skip: bugbear (implicit class method)
    def __init_subclass__(cls):
        pass

    @functools.cache  # skip: bugbear (implicit class method)
    def __class_getitem__(cls, item):
        return cls
