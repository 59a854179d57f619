"""Annotations read through a wrapper are the function's, as with functools.

From 3.14 (PEP 649/749) functions evaluate annotations lazily and
``update_wrapper`` copies ``__annotate__`` instead of ``__annotations__``;
frameworks read them with ``inspect.get_annotations``, ``typing.get_type_hints``
or ``annotationlib.get_annotations``. Each reader must give, on a cached
function, a method wrapper (``Cls.m``) and a bound method (``obj.m``), what it
gives on functools' wrapper and on the function itself.
"""

import functools
import inspect
import sys
import typing

import pytest

import boundcache

try:
    import annotationlib
except ImportError:  # before 3.14
    annotationlib = None


class Payload:
    pass


def func(x: int, y: "list[str]" = None, *, z: Payload = None) -> float:
    return 1.0


class Owner:
    def method(self, x: int, y: "Payload" = None) -> str:
        return "s"


class BcOwner:
    method = boundcache.lru_cache(Owner.method)
    cached = boundcache.cache(Owner.method)


class FtOwner:
    method = functools.lru_cache(Owner.method)
    cached = functools.cache(Owner.method)


READERS = {
    "inspect.get_annotations": inspect.get_annotations,
    "inspect.get_annotations(eval_str=True)": lambda o: inspect.get_annotations(o, eval_str=True),
    "typing.get_type_hints": typing.get_type_hints,
}
if annotationlib is not None:
    for fmt in (annotationlib.Format.VALUE, annotationlib.Format.FORWARDREF, annotationlib.Format.STRING):
        READERS[f"annotationlib.get_annotations({fmt.name})"] = (
            lambda o, fmt=fmt: annotationlib.get_annotations(o, format=fmt))

CASES = {
    "lru_cache(func)": (boundcache.lru_cache(func), functools.lru_cache(func), func),
    "lru_cache(maxsize=2)(func)": (boundcache.lru_cache(maxsize=2)(func), functools.lru_cache(maxsize=2)(func), func),
    "cache(func)": (boundcache.cache(func), functools.cache(func), func),
    "Cls.m": (BcOwner.method, FtOwner.method, Owner.method),
    "Cls.cached": (BcOwner.cached, FtOwner.cached, Owner.method),
    "obj.m": (BcOwner().method, FtOwner().method, Owner().method),
    "obj.cached": (BcOwner().cached, FtOwner().cached, Owner().method),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", CASES)
def test_readers_give_the_functions_annotations(case, reader):
    ours, theirs, plain = CASES[case]
    read = READERS[reader]
    expected = read(theirs)
    assert "x" in expected  # the case has annotations to compare
    assert read(ours) == expected
    if sys.version_info >= (3, 11):
        # 3.10's get_type_hints wraps None defaults in Optional[] on the
        # function only (it reads __defaults__), for functools' wrapper too.
        assert read(plain) == expected


def test_annotations_attribute_as_functools():
    # Up to 3.13 the wrapper carries __annotations__; from 3.14 functools'
    # wrapper has only __annotate__, and so has ours.
    for case, (ours, theirs, plain) in CASES.items():
        assert hasattr(ours, "__annotations__") == hasattr(theirs, "__annotations__"), case
        if hasattr(theirs, "__annotations__"):
            assert ours.__annotations__ == plain.__annotations__, case
        assert hasattr(ours, "__annotate__") == hasattr(theirs, "__annotate__"), case
        if hasattr(theirs, "__annotate__"):
            assert ours.__annotate__ is plain.__annotate__, case


@pytest.mark.skipif(sys.version_info < (3, 14), reason="lazy annotations are 3.14+ (PEP 649)")
def test_undefined_names_stay_forward_references():
    # A name defined after the decoration: VALUE fails as on the function,
    # FORWARDREF and STRING name it, and once defined VALUE resolves it.
    namespace = {}
    exec(
        "import boundcache\n"
        "@boundcache.lru_cache\n"
        "def late(x: Later) -> int: ...\n"
        "class C:\n"
        "    @boundcache.lru_cache\n"
        "    def m(self, x: Later) -> int: ...\n",
        namespace,
    )
    late, cls = namespace["late"], namespace["C"]
    for wrapper in (late, cls.m, cls().m):
        with pytest.raises(NameError):
            annotationlib.get_annotations(wrapper)
        refs = annotationlib.get_annotations(wrapper, format=annotationlib.Format.FORWARDREF)
        assert refs["x"].__forward_arg__ == "Later" and refs["return"] is int
        assert annotationlib.get_annotations(wrapper, format=annotationlib.Format.STRING) == {
            "x": "Later", "return": "int"}
    namespace["Later"] = Later = type("Later", (), {})
    for wrapper in (late, cls.m, cls().m):
        assert annotationlib.get_annotations(wrapper) == {"x": Later, "return": int}
        assert typing.get_type_hints(wrapper) == {"x": Later, "return": int}

