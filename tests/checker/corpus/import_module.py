"""Every spelling through `import functools`."""
import functools


class Image:
    def __init__(self, size):
        self.size = size

    @functools.lru_cache  # expect: BC001
    def bare(self, x):
        return x * self.size

    @functools.lru_cache()  # expect: BC001
    def called(self, x):
        return x + self.size

    @functools.lru_cache(maxsize=32)  # expect: BC001
    def bounded(self, x):
        return x - self.size

    @functools.lru_cache(None)  # expect: BC001
    def unbounded(self, x):
        return [x] * self.size

    @functools.lru_cache(maxsize=8, typed=True)  # expect: BC001
    def typed(self, x):
        return (x, self.size)

    @functools.cache  # expect: BC001
    def everything(self):
        return self.size

    @functools.lru_cache(  # expect: BC001
        maxsize=64,
        typed=False,
    )
    def split_over_lines(self, x):
        return x


def make():
    image = Image(3)
    for method in (image.bare, image.called, image.bounded, image.unbounded, image.typed,
                   image.split_over_lines):
        method(2)
    image.everything()
    return [image]
