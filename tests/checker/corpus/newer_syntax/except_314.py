"""PEP 758 (Python 3.14): except without parentheses; nothing older parses it."""
import functools


class Loader:
    @functools.cache
    def load(self, path):
        try:
            return open(path).read()
        except OSError, ValueError:
            return None
