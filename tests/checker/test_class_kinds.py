"""Classes boundcache cannot serve as the rewrite assumes: reported, not rewritten.

Corpus markers: `# expect: BC001 nofix` must be reported without a fix,
`# expect: BC001 fix` with one.  Every corpus file with `cached_calls()` is
fixed, written, imported, and each of its cached methods called twice must
return the very same object (it ran, and its result was cached).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap

import pytest

from boundcache.checker import check_source, fix_source
from boundcache.checker import finding as finding_module

from checker_helpers import CORPUS_FILES, marked_lines

_NOFIX = re.compile(r"#.*\bexpect: BC\d{3} nofix\b")
_FIX = re.compile(r"#.*\bexpect: BC\d{3} fix\b")
MARKED = [p for p in CORPUS_FILES if marked_lines(p, _NOFIX) or marked_lines(p, _FIX)]
CALL_CASES = [p for p in CORPUS_FILES if "\ndef cached_calls():" in p.read_text(encoding="utf-8")]


def test_there_are_marked_cases():
    names = {p.stem for p in MARKED}
    assert {"value_types", "slotted", "pydantic_models"} <= names


@pytest.mark.parametrize("path", MARKED, ids=lambda p: p.stem)
def test_fix_markers(path):
    source = path.read_text(encoding="utf-8")
    findings = {f.line: f for f in check_source(source, str(path))}
    for line in marked_lines(path, _NOFIX):
        assert not findings[line].fixable, findings[line].message
        assert "not rewritten" in findings[line].message
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
    for call in calls:
        first = call()
        assert call() is first, call


def test_value_type_message_says_bounded_values_are_shared():
    source = textwrap.dedent('''\
        import typing, functools
        class P(typing.NamedTuple):
            x: int
            @functools.lru_cache(maxsize=10)
            def a(self): ...
            @functools.lru_cache(maxsize=None)
            def b(self): ...
        class Q:
            @functools.lru_cache(maxsize=10)
            def a(self): ...
        ''')
    bounded, unbounded, plain = check_source(source, "m.py")
    assert "equal values share entries" in bounded.message
    assert "keep functools (its cache is bounded)" in bounded.message
    assert "key=lambda self, *args: (tuple(self), *args)" in bounded.message
    assert "unbounded" in unbounded.message and "bound it" in unbounded.message
    assert "keeps every instance it is called on alive" in plain.message and plain.fixable


def test_slot_advice_names_the_class_without_room():
    source = textwrap.dedent('''\
        import functools
        class Base:
            __slots__ = ("a",)
        class Child(Base):
            __slots__ = ("b",)
            @functools.cache
            def m(self): ...
        ''')
    (finding,) = check_source(source, "m.py")
    assert not finding.fixable
    assert "add '__boundcache__' to Child.__slots__" in finding.message


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
