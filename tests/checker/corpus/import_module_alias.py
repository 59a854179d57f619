"""`import functools as ft`: bugbear does not see this one."""
import functools as ft


class Request:
    def __init__(self, body):
        self.body = body

    @ft.lru_cache  # expect: BC001
    def parsed(self):
        return self.body.split()

    @ft.lru_cache(maxsize=None)  # expect: BC001
    def word(self, i):
        return self.parsed()[i]

    @ft.cache  # expect: BC001
    def length(self):
        return len(self.body)


def make():
    request = Request("a b c")
    request.word(1)
    request.length()
    return [request]
