"""PEP 701 (Python 3.12): an f-string reusing its own quotes."""
import functools


class Greeter:
    names = {"a": "Ann"}

    @functools.cache  # expect: BC001
    def greet(self, key):
        return f"hello {self.names["a"]} and {f"{key!r}"}"
