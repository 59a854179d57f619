"""--fix: exact rewrites, the import in the right place, nothing else touched."""

from __future__ import annotations

import ast
import difflib
import textwrap

import pytest

from boundcache.checker import check_source, fix_source
from checker_helpers import CORPUS_FILES, expected_lines


def fix(code: str, dedent: bool = True) -> str:
    source = textwrap.dedent(code) if dedent else code
    return fix_source(source, check_source(source, "mod.py")).source


HEADER = "import functools\nimport functools as ft\nfrom functools import cache, lru_cache, lru_cache as memo\n"
FROM = "from functools import cache, lru_cache, lru_cache as memo\n"
NO_FUNCTOOLS = HEADER.replace("import functools\n", "", 1)


@pytest.mark.parametrize(
    "before, after, header",
    [
        # The import the rewrite left unused goes (F401), and nothing else.
        ("@functools.lru_cache(maxsize=32)", "@boundcache.lru_cache(maxsize=32)", NO_FUNCTOOLS),
        ("@functools.lru_cache", "@boundcache.lru_cache", NO_FUNCTOOLS),
        ("@functools.cache", "@boundcache.cache", NO_FUNCTOOLS),
        ("@ft.lru_cache()", "@boundcache.lru_cache()", HEADER.replace("import functools as ft\n", "")),
        ("@lru_cache", "@boundcache.lru_cache", HEADER.replace(FROM, "from functools import cache, lru_cache as memo\n")),
        ("@cache", "@boundcache.cache", HEADER.replace(FROM, "from functools import lru_cache, lru_cache as memo\n")),
        ("@memo(typed=True)", "@boundcache.lru_cache(typed=True)", HEADER.replace(FROM, "from functools import cache, lru_cache\n")),
        ("@(functools . lru_cache)(maxsize=None)", "@(boundcache.lru_cache)(maxsize=None)", NO_FUNCTOOLS),
    ],
)
def test_decorator_forms(before, after, header):
    source = f"{HEADER}\n\nclass A:\n    {before}\n    def m(self): pass\n"
    # boundcache is third party: a section of its own after the standard library.
    expected = f"{header}\nimport boundcache\n\n\nclass A:\n    {after}\n    def m(self): pass\n"
    assert fix(source, dedent=False) == expected


def test_class_body_assignment_keeps_its_arguments():
    assert fix('''\
        import functools
        class A:
            m = functools.lru_cache(maxsize=None)(helper)  # why
        ''') == textwrap.dedent('''\
        import boundcache


        class A:
            m = boundcache.lru_cache(maxsize=None)(helper)  # why
        ''')


def test_import_goes_after_docstring_future_and_import_block():
    assert fix('''\
        #!/usr/bin/env python
        # -*- coding: utf-8 -*-
        """Module docstring.

        Over lines.
        """
        from __future__ import annotations

        import os
        from functools import (
            cache,
            partial,
        )  # trailing comment

        CONSTANT = 1
        import sys


        class A:
            @cache
            def m(self): pass
        ''') == textwrap.dedent('''\
        #!/usr/bin/env python
        # -*- coding: utf-8 -*-
        """Module docstring.

        Over lines.
        """
        from __future__ import annotations

        import os
        from functools import (
            partial,
        )  # trailing comment

        import boundcache

        CONSTANT = 1
        import sys


        class A:
            @boundcache.cache
            def m(self): pass
        ''')


def test_import_after_docstring_when_there_is_no_import_block_before_the_class():
    # Here functools is imported inside the function: nothing to follow at top.
    assert fix('''\
        """Doc."""
        X = 1
        def make():
            from functools import cache
            class A:
                @cache
                def m(self): pass
            return A
        ''') == textwrap.dedent('''\
        """Doc."""
        import boundcache

        X = 1
        def make():
            from functools import cache
            class A:
                @boundcache.cache
                def m(self): pass
            return A
        ''')


def test_import_block_after_the_class_is_too_late():
    assert fix('''\
        # header comment
        @decorate
        class A:
            import functools
            @functools.cache
            def m(self): pass
        import os
        ''') == textwrap.dedent('''\
        # header comment
        import boundcache


        @decorate
        class A:
            import functools
            @boundcache.cache
            def m(self): pass
        import os
        ''')


def test_existing_import_boundcache_is_reused():
    code = '''\
        import boundcache
        import functools
        class A:
            @functools.cache
            def m(self): pass
        '''
    assert fix(code) == textwrap.dedent(code).replace("@functools.cache", "@boundcache.cache").replace(
        "import functools\n", "")


def test_alias_definition_is_rewritten_once_for_all_its_uses():
    assert fix('''\
        import functools
        memo = functools.lru_cache(maxsize=None)
        class A:
            @memo
            def m(self): pass
            @memo
            def n(self): pass
        ''') == textwrap.dedent('''\
        import boundcache

        memo = boundcache.lru_cache(maxsize=None)
        class A:
            @memo
            def m(self): pass
            @memo
            def n(self): pass
        ''')


def test_crlf_tabs_and_comments_are_kept_byte_for_byte():
    source = (
        "import functools\r\n"
        "\r\n"
        "class A:\r\n"
        "\t# a comment\r\n"
        "\t@functools.lru_cache(maxsize=None)   # keep   me\r\n"
        "\tdef m(self):\t\treturn 1\r\n"
    )
    assert fix(source, dedent=False) == (
        "import boundcache\r\n"
        "\r\n"
        "\r\n"
        "class A:\r\n"
        "\t# a comment\r\n"
        "\t@boundcache.lru_cache(maxsize=None)   # keep   me\r\n"
        "\tdef m(self):\t\treturn 1\r\n"
    )


def test_lone_carriage_returns_and_form_feeds():
    source = "import functools\r\x0cclass A:\r    @functools.cache\r    def m(self): pass\r"
    assert fix(source, dedent=False) == (
        "import boundcache\r\r\r\x0cclass A:\r    @boundcache.cache\r    def m(self): pass\r"
    )


def test_no_final_newline():
    assert fix("import functools\nclass A:\n    @functools.cache\n    def m(self): pass", dedent=False) == (
        "import boundcache\n\n\nclass A:\n    @boundcache.cache\n    def m(self): pass"
    )


def test_non_ascii_on_the_line():
    assert fix('''\
        import functools
        class A:
            é = 1; m = functools.cache(len)  # ünïcode
        ''') == textwrap.dedent('''\
        import boundcache


        class A:
            é = 1; m = boundcache.cache(len)  # ünïcode
        ''')


def test_comment_inside_the_reference_is_not_lost():
    source = textwrap.dedent('''\
        import functools
        class A:
            @(functools  # why
              .cache)
            def m(self): pass
        ''')
    (finding,) = check_source(source, "mod.py")
    assert not finding.fixable
    assert finding.message.endswith("; a comment inside the reference keeps it from being rewritten")
    assert fix_source(source, [finding]).source == source


def test_name_boundcache_taken_means_no_fix():
    source = "import functools\nboundcache = None\nclass A:\n    @functools.cache\n    def m(self): pass\n"
    result = fix_source(source, check_source(source, "mod.py"))
    assert result.source == source and len(result.skipped) == 1


def test_memoizer_nested_in_a_call_over_an_outside_function_is_not_rewritten():
    source = textwrap.dedent('''\
        import functools
        def helper(self): pass
        class A:
            p = property(functools.cache(helper))
            q = property(functools.cache(lambda self: 1))
        ''')
    p, q = check_source(source, "mod.py")
    assert not p.fixable and p.message.endswith("; move the function into the class body to let boundcache see a method")
    assert q.fixable
    assert fix_source(source, [p, q]).source == source.replace(
        "import functools\n", "import functools\n\nimport boundcache\n\n").replace(
        "property(functools.cache(lambda", "property(boundcache.cache(lambda")


def test_configured_memoizers_are_not_rewritten():
    source = "import cachetools.func\nclass A:\n    @cachetools.func.lru_cache(maxsize=3)\n    def m(self): pass\n"
    found = check_source(source, "mod.py", frozenset({"cachetools.func.lru_cache"}))
    assert len(found) == 1 and not found[0].fixable
    assert fix_source(source, found).source == source


@pytest.mark.parametrize("path", [p for p in CORPUS_FILES if expected_lines(p)], ids=lambda p: p.stem)
def test_corpus_fix_is_minimal_compiles_and_is_idempotent(path):
    source = path.read_text(encoding="utf-8")
    findings = check_source(source, str(path))
    fixed = fix_source(source, findings).source
    compile(fixed, str(path), "exec")
    # Nothing fixable is left, and a second fix changes nothing.
    remaining = check_source(fixed, str(path))
    assert not [f for f in remaining if f.fixable]
    assert fix_source(fixed, remaining).source == fixed
    if not any(f.fixable for f in findings):  # third-party memoizers only
        assert fixed == source
        return
    # The only changes: the import block (boundcache in, the functools names
    # made unused out), blank lines around it, and each reference span replaced.
    assert fixed.count("import boundcache\n") == 1
    old_lines = _code_lines(source)
    new_lines = _code_lines(fixed)
    assert [i for i, _ in old_lines] == [i for i, _ in old_lines]
    assert len(new_lines) == len(old_lines)
    spans: dict[int, list] = {}
    for finding in findings:
        if finding.fixable:
            line, col, end_line, end_col = finding.span
            assert line == end_line  # all corpus references fit on a line
            spans.setdefault(line - 1, []).append((col, end_col, finding.replacement))
    for (index, old), (_, new) in zip(old_lines, new_lines):
        expected = old
        for col, end_col, replacement in sorted(set(spans.get(index, ())), reverse=True):
            expected = expected[:col] + replacement + expected[end_col:]
        if "noqa:" in old and ("BC" in old or "B019" in old):  # the rewrite drops the noqa of the old rule
            assert new.partition("  #")[0].rstrip() == expected.partition("  #")[0].rstrip()
            continue
        assert new == expected, f"line {index + 1}"


def _code_lines(source: str) -> list[tuple[int, str]]:
    """(index, line) of the lines outside top-level imports, blank lines aside."""
    tree = ast.parse(source)
    skip = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            skip.update(range(stmt.lineno - 1, stmt.end_lineno))
    return [(i, line) for i, line in enumerate(source.splitlines(True)) if i not in skip and line.strip()]


@pytest.mark.parametrize(
    "comment, after",
    [
        ("  # noqa: B019", ""),
        ("  # noqa: BC001", ""),
        ("  # noqa: B019, E501", "  # noqa: E501"),
        ("  # noqa:B019,E501  # why", "  # noqa: E501  # why"),
        ("  # why  # noqa: B019", "  # why"),
        ("  # noqa: E501", "  # noqa: E501"),  # names another rule: kept
    ],
)
def test_a_rewritten_line_loses_the_noqa_of_the_old_rule(comment, after):
    # The definition of an alias is rewritten; its noqa named the trap.
    source = f"import functools\nmemo = functools.lru_cache(maxsize=None){comment}\nclass A:\n    @memo\n    def m(self): pass\n"
    assert fix(source, dedent=False) == (
        f"import boundcache\n\nmemo = boundcache.lru_cache(maxsize=None){after}\n"
        "class A:\n    @memo\n    def m(self): pass\n"
    )


def test_noqa_b019_is_a_synonym_and_nothing_is_rewritten():
    source = "import functools\nclass A:\n    @functools.cache  # noqa: B019\n    def m(self): pass\n"
    from boundcache.checker import noqa

    assert noqa.apply(check_source(source, "m.py"), source) == []
