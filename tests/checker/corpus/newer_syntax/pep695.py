"""PEP 695 (Python 3.12): type parameters and type statements."""
import functools

type Pair[T] = tuple[T, T]


class Box[T: (int, str)]:
    type Alias = list[T]

    @functools.lru_cache(maxsize=8)  # expect: BC001
    def get[U](self, default: U) -> T | U:
        return default


def first[T](items: list[T]) -> T:
    return items[0]
