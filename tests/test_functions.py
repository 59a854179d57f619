"""Contract section 2: on plain functions, boundcache is functools."""

import copy
import functools
import inspect
import pickle
import types

import pytest

import boundcache
from cores import recursion_room


def both(maxsize=128, typed=False):
    """The same recording function under functools and boundcache."""

    def make(lru):
        calls = []

        def f(*args, **kwargs):
            calls.append((args, kwargs))
            return (args, tuple(kwargs.items()))

        return lru(maxsize=maxsize, typed=typed)(f), calls

    return make(functools.lru_cache), make(boundcache.lru_cache)


@pytest.mark.parametrize("maxsize", [None, 0, 1, 2, 3, 128])
@pytest.mark.parametrize("typed", [False, True])
def test_same_results_and_info_as_functools(maxsize, typed):
    (ft, ft_calls), (bc, bc_calls) = both(maxsize, typed)
    sequence = [
        ((1,), {}), ((1.0,), {}), ((True,), {}), (("a",), {}), ((1,), {}), ((), {"a": 1, "b": 2}),
        ((), {"b": 2, "a": 1}), ((1, 2), {}), ((1,), {"b": 2}), ((2,), {}), ((1,), {}), ((3,), {}),
        ((1.0,), {}), (("a",), {}), ((None,), {}), (((1, 2),), {}), ((frozenset({1}),), {}), ((2,), {}),
    ]
    for args, kwargs in sequence:
        assert bc(*args, **kwargs) == ft(*args, **kwargs)
        assert bc.cache_info() == ft.cache_info()
        assert bc_calls == ft_calls


def test_keyword_order_is_significant():
    f = boundcache.lru_cache(lambda **kw: sorted(kw.items()))
    f(a=1, b=2)
    f(b=2, a=1)
    assert f.cache_info().misses == 2 and f.cache_info().currsize == 2


def test_typed_tells_int_from_float():
    calls = []
    f = boundcache.lru_cache(typed=True)(lambda x: calls.append(x) or x)
    f(3), f(3.0), f(3)
    assert calls == [3, 3.0]
    g = boundcache.lru_cache(typed=False)(lambda x: x)
    g((3,)), g((3.0,))
    assert g.cache_info().hits == 1


def test_unhashable_argument_raises_functools_message():
    f = boundcache.lru_cache(lambda x: x)
    with pytest.raises(TypeError, match=r"^unhashable type: 'list'$"):
        f([1])
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):
        f(x={})
    assert f.cache_info() == (0, 0, 128, 0)


def test_maxsize_none_is_unbounded():
    f = boundcache.lru_cache(maxsize=None)(lambda x: x)
    for i in range(1000):
        f(i)
    assert f.cache_info() == (0, 1000, None, 1000)
    assert boundcache.cache(lambda x: x).cache_parameters() == {"maxsize": None, "typed": False}


@pytest.mark.parametrize("maxsize", [0, -1, -100])
def test_maxsize_zero_or_negative_caches_nothing(maxsize):
    f = boundcache.lru_cache(maxsize=maxsize)(lambda x: x)
    f(1), f(1), f([1])  # unhashable is fine: no key is built, as in functools
    assert f.cache_info() == (0, 3, 0, 0)


@pytest.mark.parametrize("bad", ["128", 1.5, [1]])
def test_non_int_maxsize_raises(bad):
    with pytest.raises(TypeError, match="Expected first argument to be an integer, a callable, or None"):
        boundcache.lru_cache(maxsize=bad)


def test_non_callable_raises():
    with pytest.raises(TypeError, match="the first argument must be callable"):
        boundcache.lru_cache(maxsize=3)(42)
    with pytest.raises(TypeError):
        boundcache.cache("not callable")


def test_exceptions_are_not_cached_and_propagate():
    calls = []

    @boundcache.lru_cache
    def f(x):
        calls.append(x)
        raise KeyError(x)

    for _ in range(2):
        with pytest.raises(KeyError) as info:
            f(1)
        assert info.value.args == (1,)
    assert calls == [1, 1]
    assert f.cache_info() == (0, 2, 128, 0)


def test_recursion_fib_500():
    @boundcache.lru_cache(maxsize=None)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    with recursion_room(500):
        assert fib(500) == 139423224561697880139724382870407283950070256587697307264108962948325571622863290691557658876222521294125
    assert fib.cache_info().misses == 501


def test_bounded_recursion_matches_functools():
    def make(lru):
        @lru(maxsize=4)
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        return fib

    ft, bc = make(functools.lru_cache), make(boundcache.lru_cache)
    assert bc(60) == ft(60)
    assert bc.cache_info() == ft.cache_info()


def documented(a: int, b: "str" = "x", *args, c=3, **kw) -> float:
    """Docstring."""


documented.custom = "attribute"


def test_update_wrapper_metadata():
    w = boundcache.lru_cache(documented)
    ft = functools.lru_cache(documented)
    # What update_wrapper copies depends on the version: __annotations__ up to
    # 3.13, __annotate__ from 3.14 (PEP 649/749), __type_params__ from 3.12.
    # The wrapper has exactly the attributes functools' wrapper has.
    for attr in (*functools.WRAPPER_ASSIGNMENTS, "__annotations__"):
        assert hasattr(w, attr) == hasattr(ft, attr), attr
        if hasattr(ft, attr):
            assert getattr(w, attr) == getattr(documented, attr), attr
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        assert getattr(w, attr) == getattr(documented, attr)
    assert w.custom == "attribute"
    assert w.__wrapped__ is documented
    assert inspect.signature(w) == inspect.signature(documented)


def test_cache_info_clear_parameters():
    f = boundcache.lru_cache(maxsize=7, typed=True)(lambda x: x)
    f(1), f(1)
    assert isinstance(f.cache_info(), boundcache.CacheInfo)
    assert f.cache_info() == functools._CacheInfo(1, 1, 7, 1)
    assert f.cache_info()._fields == ("hits", "misses", "maxsize", "currsize")
    assert f.cache_parameters() == {"maxsize": 7, "typed": True}
    f.cache_clear()
    assert f.cache_info() == (0, 0, 7, 0)


def cache_method_owners(lru_cache):
    """A cached function, Cls.m and obj.m, made with this lru_cache."""

    @lru_cache
    def f(x):
        return x

    class Owner:
        @lru_cache
        def m(self, x):
            return x

    return {"function": f, "Cls.m": Owner.m, "obj.m": Owner().m}


@pytest.mark.parametrize("owner", ["function", "Cls.m", "obj.m"])
@pytest.mark.parametrize("method", ["cache_info", "cache_clear", "cache_parameters"])
def test_signature_of_the_cache_methods(owner, method):
    # Regression: inspect.signature() raised ValueError where functools gives
    # "()" (3.12: all three; 3.10 and 3.11: cache_parameters, a Python
    # function there; 3.13 infers it for any C method without arguments).
    ours = inspect.signature(getattr(cache_method_owners(boundcache.lru_cache)[owner], method))
    assert str(ours) == "()"
    try:
        theirs = inspect.signature(getattr(cache_method_owners(functools.lru_cache)[owner], method))
    except ValueError:  # functools has none for its C methods before 3.12
        theirs = None
    assert theirs is None or ours == theirs
    assert getattr(cache_method_owners(boundcache.lru_cache)[owner], method).__doc__  # still documented


@boundcache.lru_cache
def module_level(x):
    return x + 1


def test_pickles_by_reference_and_copies_are_itself():
    assert pickle.loads(pickle.dumps(module_level)) is module_level
    assert copy.copy(module_level) is module_level
    assert copy.deepcopy(module_level) is module_level


def test_bool_maxsize_and_bare_decorator():
    # bool is an int: functools accepts it as maxsize.
    assert boundcache.lru_cache(True)(lambda: 1).cache_parameters()["maxsize"] == 1
    assert boundcache.lru_cache(lambda: 1).cache_parameters() == {"maxsize": 128, "typed": False}


def test_aliasing_a_cached_function_into_a_class_keeps_function_semantics():
    @boundcache.lru_cache
    def parse(text):
        return text.upper()

    class Config:
        parse_ = parse  # __set_name__ is called, but parse is not a method

    assert Config.parse_("x") == "X"
    assert parse("y") == "Y"
    assert parse.cache_info().currsize == 2


class _Reader:
    """A class whose bound method is cached as importlib.metadata's method_cache does."""

    def __init__(self, root):
        self.root = root
        self.calls = []

    def search(self, name):
        self.calls.append(name)
        return f"{self.root}/{name}"


def _callables():
    # Each reads as "_Reader.search" with a first parameter "self", yet is not
    # a plain function defined in a class body (contract section 2).
    reader = _Reader("r")
    yield "bound method", reader.search, reader.calls
    calls = []
    yield "partial", functools.partial(_Reader.search, types.SimpleNamespace(root="p", calls=calls)), calls

    class Callable:
        __qualname__ = "_Reader.search"

        def __init__(self):
            self.calls = []

        def __call__(self, name):
            self.calls.append(name)
            return name

    obj = Callable()
    yield "callable object", obj, obj.calls


@pytest.mark.parametrize("what", ["bound method", "partial", "callable object"])
def test_a_callable_that_is_not_a_plain_function_is_a_function(what):
    for name, func, calls in _callables():
        if name != what:
            continue
        ft = functools.lru_cache()(func)
        bc = boundcache.lru_cache()(func)
        # float and object arguments: the first one is not an owner.
        key = object()
        for args in [(1.5,), (key,), (1.5,), ("x",), (key,)]:
            assert bc(*args) == ft(*args)
            assert bc.cache_info() == ft.cache_info()
        assert type(bc) is boundcache.CachedFunction
        assert not hasattr(key, "__dict__") or "__boundcache__" not in vars(key)


def test_importlib_metadata_method_cache_pattern():
    # importlib.metadata's method_cache: cache a bound method, store it on the instance.
    def method_cache(method, cache_wrapper=boundcache.lru_cache()):
        def wrapper(self, *args, **kwargs):
            cached = cache_wrapper(types.MethodType(method, self))
            setattr(self, method.__name__, cached)
            return cached(*args, **kwargs)

        return wrapper

    class FastPath:
        def __init__(self):
            self.calls = 0

        @method_cache
        def lookup(self, mtime):
            self.calls += 1
            return ("lookup", mtime)

    class Arg:
        pass

    p = FastPath()
    a = Arg()
    assert p.lookup(1.5) == ("lookup", 1.5)
    assert p.lookup(1.5) == ("lookup", 1.5)
    assert p.lookup(a) == ("lookup", a) and p.lookup(a) == ("lookup", a)
    assert p.calls == 2
    # The argument is a key, never an owner: nothing is written into it.
    assert "__boundcache__" not in vars(a)
    assert p.lookup.cache_info() == (2, 2, 128, 2)
