"""What is found, and where: the corpus, plus cases the corpus cannot hold."""

from __future__ import annotations

import sys
import textwrap

import pytest

from boundcache.checker import check_source
from boundcache.checker.finding import DEFAULT_MEMOIZERS, could_hold_finding

from checker_helpers import CORPUS_FILES, expected_lines


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_findings_are_exactly_the_expected_lines(path):
    findings = check_source(path.read_text(encoding="utf-8"), str(path))
    # noqa is applied by the CLI, not by check_source: the noqa file's
    # silenced lines are findings here, and `expect` marks only the unsilenced
    # ones, so compare the noqa file through the CLI (test_cli).
    if path.stem == "noqa_comments":
        assert len(findings) == 10
        return
    assert {f.line for f in findings} == expected_lines(path)
    assert all(f.code == "BC001" for f in findings)


def test_corpus_has_positive_and_negative_cases():
    with_findings = [p for p in CORPUS_FILES if expected_lines(p)]
    without = [p for p in CORPUS_FILES if not expected_lines(p)]
    assert len(with_findings) >= 12 and len(without) >= 5


def findings(code: str, memoizers=DEFAULT_MEMOIZERS, path="mod.py"):
    return check_source(textwrap.dedent(code), path, memoizers)


def test_position_is_the_decorator_in_characters_one_based():
    (finding,) = findings('''\
        import functools
        class A:
            s = "é"; t = 1
            @functools.lru_cache(maxsize=3)
            def m(self): pass
        ''')
    assert (finding.line, finding.col) == (4, 6)
    # Non-ASCII before the reference: ast counts bytes, we count characters.
    (finding,) = findings('''\
        import functools
        class A:
            é = 1; m = functools.cache(len)
        ''')
    assert (finding.line, finding.col) == (3, 5 + len("é = 1; m = "))


def test_message_names_the_memoizer_method_and_replacement():
    (finding,) = findings('''\
        from functools import cache
        class Service:
            @cache
            def load(self): pass
        ''')
    assert finding.message == (
        "BC001 functools.cache on method Service.load keeps every instance it is called on "
        "alive (its cache is keyed on self); use boundcache.cache"
    )


def test_import_after_use_in_module_scope_does_not_count():
    # At class creation, `lru_cache` is still the local function.
    assert findings('''\
        def lru_cache(f): return f
        class A:
            @lru_cache
            def m(self): pass
        from functools import lru_cache
        ''') == []


def test_rebinding_after_the_class_does_not_hide_the_import():
    assert len(findings('''\
        from functools import lru_cache
        class A:
            @lru_cache
            def m(self): pass
        def lru_cache(f): return f
        ''')) == 1


def test_class_scope_does_not_enclose_nested_class():
    # `memo` bound in Outer's body is not visible in Inner's body.
    assert findings('''\
        memo = len
        class Outer:
            from functools import cache as memo
            class Inner:
                @memo
                def m(self): pass
        ''') == []


def test_global_declaration_binds_in_module_scope():
    assert len(findings('''\
        def setup():
            global memo
            from functools import cache as memo
        class A:
            @memo
            def m(self): pass
        ''')) == 1


def test_walrus_binding_is_seen():
    assert len(findings('''\
        import functools
        if (memo := functools.lru_cache(maxsize=None)):
            pass
        class A:
            @memo
            def m(self): pass
        ''')) == 1


def test_match_capture_shadows():
    assert findings('''\
        from functools import cache
        match 1:
            case cache:
                pass
        class A:
            @cache
            def m(self): pass
        ''') == []


def test_relative_import_resolves_through_package(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "caching.py").write_text("def memoize(f): return f\n")
    module = package / "service.py"
    module.write_text(textwrap.dedent('''\
        from .caching import memoize
        from . import caching
        class A:
            @memoize
            def m(self): pass
            @caching.memoize
            def n(self): pass
        '''))
    found = check_source(module.read_text(), str(module), DEFAULT_MEMOIZERS | {"pkg.caching.memoize"})
    assert [(f.line, f.fixable) for f in found] == [(4, False), (6, False)]


def test_configured_decorator_defined_in_the_same_module(tmp_path):
    module = tmp_path / "tools.py"
    module.write_text("def memoize(f): return f\nclass A:\n    @memoize\n    def m(self): pass\n")
    assert len(check_source(module.read_text(), str(module), DEFAULT_MEMOIZERS | {"tools.memoize"})) == 1


def test_type_parameters_are_checked_on_every_python():
    # Before 3.12 the type parameters are masked (docs/checker.md, "Newer syntax").
    code = '''\
        import functools
        class Box[T: (int, str)]:
            type Alias[K] = dict[K, T]
            @functools.cache
            def get[U](self) -> T: ...
        '''
    (finding,) = findings(code)
    assert (finding.code, finding.line, finding.col) == ("BC001", 4, 6)


def test_syntax_error_is_reported_with_its_position():
    (finding,) = findings("import functools\nclass A(:\n    m = functools.cache(f)\n")
    assert finding.code == "BC900" and finding.line == 2
    assert finding.message.startswith("BC900 cannot parse: ")


def test_null_byte_is_a_syntax_finding_not_a_crash():
    (finding,) = findings("import functools\nclass A:\n    m = functools.cache(f)\0\n")
    assert finding.code == "BC900"


@pytest.mark.parametrize("source, parsed", [
    ("import functools\nclass A:\n    @functools.lru_cache\n    def m(self): ...\n", True),
    ("from functools import *\nclass A:\n    @cache\n    def m(self): ...\n", True),
    ("import functools\nclass A:\n    @functools.wraps(f)\n    def m(self): ...\n", False),
    ("import functools\n@functools.cache\ndef f(): ...\n", False),  # no class
    ("from async_lru import alru_cache\nclass A: ...\n", True),
    # Identifiers normalize (NFKC): a compatibility form still spells functools.
    ("import \uff46unctools\nclass A:\n    @\uff46unctools.cache\n    def m(self): ...\n", True),
])
def test_files_that_cannot_hold_a_finding_are_not_parsed(source, parsed):
    # Parsing is most of the checker's time; a text test spares it (issue 27).
    assert could_hold_finding(source) is parsed
    assert (findings(source.replace("...", "(")) != []) is parsed  # a syntax error shows only if parsed


def test_compile_time_errors_are_not_parse_errors():
    # `return` outside a function parses (ast) but does not compile.
    assert findings("return 1\n") == []
    assert findings("import functools\nreturn 1\n") == []


def test_non_ascii_identifier_spelling_of_functools_is_found():
    # NFKC turns the fullwidth letters into "functools" (PEP 3131).
    code = "import \uff46unctools\nclass A:\n    @\uff46unctools.cache\n    def m(self): pass\n"
    assert [f.line for f in check_source(code, "m.py")] == [3]


def test_lambda_and_comprehension_bindings_do_not_leak():
    assert len(findings('''\
        from functools import cache
        f = lambda cache: cache
        g = [cache for cache in range(3)]
        class A:
            @cache
            def m(self): pass
        ''')) == 1
