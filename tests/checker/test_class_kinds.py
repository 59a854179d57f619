"""Which findings are rewritten, and what the message advises by class kind.

Corpus markers: `# expect: BC001 nofix` must be reported without a fix,
`# expect: BC001 fix` with one.  Every corpus file with `cached_calls()` is
fixed, written, imported, and each of its cached methods called twice must
return the very same object (it ran, and its result was cached).  Classes
with nowhere to keep a cache per instance (named tuples, `__slots__` without
`__weakref__`) are rewritten too: boundcache serves them as functools does
(contract 3.5), and the message says how to give them a cache of their own.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import textwrap
import warnings

import pytest

import boundcache

from boundcache.checker import check_source, fix_source
from boundcache.checker import finding as finding_module

from checker_helpers import CORPUS_FILES, marked_lines
from cores import WEAK_REFERENCES_EVERYWHERE

_NOFIX = re.compile(r"#.*\bexpect: BC\d{3} nofix\b")
_FIX = re.compile(r"#.*\bexpect: BC\d{3} fix\b")
MARKED = [p for p in CORPUS_FILES if marked_lines(p, _NOFIX) or marked_lines(p, _FIX)]
CALL_CASES = [p for p in CORPUS_FILES if "\ndef cached_calls():" in p.read_text(encoding="utf-8")]


def test_there_are_marked_cases():
    names = {p.stem for p in MARKED}
    assert {"value_types", "slotted", "pydantic_models", "not_auto_fixed"} <= names


@pytest.mark.parametrize("path", MARKED, ids=lambda p: p.stem)
def test_fix_markers(path):
    source = path.read_text(encoding="utf-8")
    findings = {f.line: f for f in check_source(source, str(path))}
    for line in marked_lines(path, _NOFIX):
        assert not findings[line].fixable, findings[line].message
    for line in marked_lines(path, _FIX):
        assert findings[line].fixable, findings[line].message
    fixed = fix_source(source, list(findings.values())).source
    new_lines = fixed.splitlines()
    old_lines = source.splitlines()
    for line in marked_lines(path, _NOFIX):
        assert old_lines[line - 1] in new_lines  # left exactly as it was


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.parametrize("path", CALL_CASES, ids=lambda p: p.stem)
def test_fixed_file_imports_and_its_methods_run_and_cache(path, tmp_path):
    if path.stem == "pydantic_models":
        pytest.importorskip("pydantic")
    source = path.read_text(encoding="utf-8")
    fixed = fix_source(source, check_source(source, str(path))).source
    target = tmp_path / path.name
    target.write_text(fixed, encoding="utf-8")
    compile(fixed, str(target), "exec")
    module = _load(target, f"_boundcache_kinds_{path.stem}")
    calls = module.cached_calls()
    assert calls
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", boundcache.PinningWarning)
        for call in calls:
            first = call()
            assert call() is first, call
    # The classes the message says boundcache warns about are those it warns
    # about (contract 3.5: served as functools, hashed by identity). On PyPy
    # every object has weak references: each keeps its own caches, unwarned.
    warned = {re.search(r"for (\w+) instances", str(w.message)).group(1) for w in caught
              if issubclass(w.category, boundcache.PinningWarning)}
    called = {type(call.__self__).__name__ for call in calls}
    said = set(re.findall(r"serves (\w+) as functools does, with a PinningWarning",
                          " ".join(f.message for f in check_source(source, str(path)))))
    assert warned == (set() if WEAK_REFERENCES_EVERYWHERE else said & called)
    if path.stem == "slotted":
        assert said & called == {"Bare", "BareChild", "SlotsDataclass"}


def test_value_type_message_says_bounded_values_are_shared():
    source = textwrap.dedent('''\
        import typing, functools
        class P(typing.NamedTuple):
            x: int
            @functools.lru_cache(maxsize=10)
            def a(self): ...
            @functools.lru_cache(maxsize=None)
            def b(self): ...
            @functools.lru_cache(maxsize=1024 * 4)
            def c(self): ...
        class Q:
            @functools.lru_cache(maxsize=10)
            def a(self): ...
        ''')
    bounded, unbounded, folded, plain = check_source(source, "m.py")
    assert "equal values share entries" in bounded.message
    assert "serves P as functools does, one cache keyed by value" in bounded.message
    assert "key=lambda self, *args: (tuple(self), *args)" in bounded.message
    assert "unbounded" in unbounded.message and "bound it" in unbounded.message
    assert bounded.fixable and unbounded.fixable  # the rewrite behaves as before (contract 3.5)
    # `1024 * 4` is a bound, as 10 is (issue 27).
    assert folded.message == bounded.message.replace("P.a", "P.c")
    assert "keeps every instance it is called on alive" in plain.message and plain.fixable


@pytest.mark.parametrize("maxsize, bounded", [
    ("1024 * 4", True), ("2 ** 12", True), ("1 << 10", True), ("-1", True), ("(64 + 1) // 2", True),
    ("None", False), ("10 / 2", None), ("SIZE", None), ("2 ** 1000", None), ("1 // 0", None),
])
def test_maxsize_arithmetic_of_int_literals_is_folded(maxsize, bounded):
    call = ast.parse(f"lru_cache(maxsize={maxsize})").body[0].value
    assert finding_module._maxsize_bounded(call.keywords[0].value) is bounded


def test_slot_advice_names_the_class_without_room():
    source = textwrap.dedent('''\
        import dataclasses, functools
        class Base:
            __slots__ = ("a",)
        class Child(Base):
            __slots__ = ("b",)
            @functools.cache
            def m(self): ...
        @dataclasses.dataclass(slots=True)
        class Data:
            x: int
            @functools.cache
            def m(self): ...
        class Hashed:
            __slots__ = ("a",)
            def __eq__(self, other): ...
            def __hash__(self): ...
            @functools.cache
            def m(self): ...
        ''')
    child, data, hashed = check_source(source, "m.py")
    assert child.fixable and data.fixable and hashed.fixable
    assert "for a cache per instance add '__boundcache__' to Child.__slots__" in child.message
    assert "serves Child as functools does, with a PinningWarning" in child.message
    assert "pass weakref_slot=True to the @dataclass(slots=True) of Data" in data.message
    # Hashed by value: served as functools without a warning (contract 3.5).
    assert "serves Hashed as functools does" in hashed.message and "PinningWarning" not in hashed.message


def test_value_key_advice_works_on_a_named_tuple():
    # The advice in the message, taken literally, caches by value on a NamedTuple.
    namespace: dict = {}
    exec(textwrap.dedent(f'''\
        import typing, boundcache
        class P(typing.NamedTuple):
            x: int
            {finding_module._KEYED_BY_VALUE.replace("N", "8", 1)}
            def a(self, y=0):
                return [self.x, y]
        '''), namespace)
    P = namespace["P"]
    first = P(1).a()
    assert P(1).a() is first  # an equal value shares the entry
    assert P(2).a() is not first


def test_pydantic_switch_matches_what_pydantic_accepts():
    # FIX_PYDANTIC_MODELS must be True exactly when a boundcache method
    # defines on a pydantic model.  When boundcache learns to (the pydantic
    # compatibility work), this test fails: flip the switch, and the markers
    # of corpus/pydantic_models.py become `fix`.
    pydantic = pytest.importorskip("pydantic")
    import boundcache

    try:
        class Model(pydantic.BaseModel):
            x: int

            @boundcache.lru_cache
            def m(self):
                return self.x
    except Exception:
        accepted = False
    else:
        accepted = Model(x=1).m() == 1
    assert finding_module.FIX_PYDANTIC_MODELS is accepted
