"""Every ruff B019 and flake8-bugbear B019 finding is ours, except deliberate skips.

The same comparison over the standard library is a script, too slow for a
test because of flake8: `python tests/checker/compare_linters.py` (see
docs/checker.md).
"""

from __future__ import annotations

import os
import sys

import pytest

from checker_helpers import CORPUS_FILES, skip_lines
from compare_linters import bugbear, ours, ruff, skip_reason

FILES = [str(p) for p in CORPUS_FILES]


@pytest.fixture(scope="module")
def mine():
    return ours(FILES)


def _skips():
    return {(os.path.abspath(p), line) for p in CORPUS_FILES for line in skip_lines(p)}


# flake8-bugbear imports symtable, which PyPy does not have: flake8 then refuses to start.
NO_BUGBEAR = pytest.mark.skipif(sys.implementation.name == "pypy", reason="flake8-bugbear needs symtable (not on PyPy)")


@pytest.mark.parametrize("tool", [ruff, pytest.param(bugbear, marks=NO_BUGBEAR)], ids=["ruff", "bugbear"])
def test_theirs_are_ours_except_deliberate_skips(tool, mine):
    theirs = tool(FILES)
    assert theirs, "the linter found nothing: is it installed and selecting B019?"
    assert theirs - mine <= _skips()


def test_every_skip_is_a_skip_we_can_explain(mine):
    skips = _skips()
    assert len(skips) >= 15
    assert not skips & mine
    for path, line in skips:
        assert skip_reason(path, line) is not None, f"{path}:{line}"


@NO_BUGBEAR
def test_we_find_what_they_miss(mine):
    # Aliased imports, assignments, enclosing scopes: the point of this checker.
    assert len(mine - ruff(FILES) - bugbear(FILES)) >= 10
