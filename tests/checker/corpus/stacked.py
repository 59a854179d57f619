"""Decorators stacked around the memoizer, and async methods."""
import contextlib
import functools


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


class Report:
    def __init__(self, rows):
        self.rows = rows

    @property
    @functools.lru_cache(maxsize=None)  # expect: BC001
    def total(self):
        return sum(self.rows)

    @property
    @functools.cache  # expect: BC001
    def count(self):
        return len(self.rows)

    @logged
    @functools.lru_cache  # expect: BC001
    def under_logged(self):
        return self.rows[0]

    @functools.lru_cache  # expect: BC001
    @logged
    def over_logged(self):
        return self.rows[-1]

    @functools.cache  # expect: BC001
    async def fetch(self):
        return self.rows

    @contextlib.contextmanager
    def not_cached(self):
        yield self

    @functools.cached_property
    def fine(self):
        return max(self.rows)


def make():
    report = Report([1, 2, 3])
    report.total
    report.count
    report.under_logged()
    report.over_logged()
    coroutine = report.fetch()
    try:  # run it to the end: an unfinished coroutine's frame holds self (a cycle)
        coroutine.send(None)
    except StopIteration:
        pass
    del coroutine
    report.fine
    return [report]
