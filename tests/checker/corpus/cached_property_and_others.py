"""Memoizers that do not key on self, and other decorators."""
import functools
from functools import cached_property, partial, wraps


class Fine:
    @cached_property
    def stored_in_instance(self):
        return 1

    @functools.cached_property
    def also_fine(self):
        return 2

    @functools.wraps(len)
    def wrapped(self):
        return 3

    @property
    def plain(self):
        return 4

    @functools.singledispatchmethod
    def dispatch(self, arg):
        return arg

    partial_method = functools.partialmethod(dispatch, 1)
