"""PEP 750 (Python 3.14): template strings."""
import functools


class Page:
    @functools.lru_cache(maxsize=4)  # expect: BC001
    def render(self, name):
        return t"<p>{name}</p>"
