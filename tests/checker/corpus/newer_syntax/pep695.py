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


class Table[
    K,
    V: (int, str),
](dict[K, V]):
    # Lists over several lines, as black writes long ones.
    @functools.cache  # expect: BC001
    def get_or[
        D,  # the default's type
    ](self, key: K, default: D) -> V | D:
        return self.get(key, default)
