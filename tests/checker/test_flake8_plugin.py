"""The flake8 plugin gives the CLI's findings, and flake8 honours noqa for it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from boundcache.checker import check_source

from checker_helpers import CORPUS, CORPUS_FILES, expected_lines

# flake8-bugbear (installed beside, for tests/checker/test_linter_comparison.py)
# imports symtable, which PyPy does not have: flake8 then refuses to start.
if sys.implementation.name == "pypy":
    pytest.skip("flake8 does not start on PyPy with flake8-bugbear installed (symtable)", allow_module_level=True)


def flake8(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--jobs", "1", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_plugin_is_registered():
    result = flake8("--version")
    assert "boundcache" in result.stdout


def test_plugin_matches_the_checker_on_the_corpus():
    # --disable-noqa: compare the findings themselves; noqa is flake8's job.
    result = flake8("--select", "BC", "--disable-noqa", "--format", "%(path)s:%(row)d:%(col)d: %(code)s %(text)s",
                    *map(str, CORPUS_FILES))
    assert result.returncode == 1, result.stderr
    ours = sorted(
        f"{path}:{f.line}:{f.col}: {f.message}"
        for path in CORPUS_FILES
        for f in check_source(path.read_text(encoding="utf-8"), str(path))
    )
    assert sorted(result.stdout.splitlines()) == ours
    assert len(ours) >= sum(len(expected_lines(p)) for p in CORPUS_FILES)  # + lines under noqa


def test_flake8_noqa_silences_bc001(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("import functools\nclass A:\n    @functools.cache  # noqa: BC001\n    def m(self): pass\n"
                    "    @functools.cache\n    def n(self): pass\n")
    result = flake8("--select", "BC", str(path))
    assert result.returncode == 1
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == ["5"]


def test_plugin_reads_extend_decorators(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\nextend-decorators = ["cachetools.func.ttl_cache"]\n')
    path = tmp_path / "a.py"
    path.write_text("from cachetools.func import ttl_cache\nclass A:\n    @ttl_cache(ttl=3)\n"
                    "    def m(self): pass\n")
    result = flake8("--select", "BC", str(path), cwd=tmp_path)
    assert result.stdout.startswith(f"{path}:3:6: BC001 cachetools.func.ttl_cache on method A.m")


def test_corpus_noqa_file_under_flake8():
    # flake8 finds noqa in the physical line, strings included: line 32 of the
    # corpus (`typed="# noqa" == ""`) is silenced by flake8, not by the CLI.
    # `# noqa: B019` is silenced by the plugin itself.
    result = flake8("--select", "BC", str(CORPUS / "noqa_comments.py"))
    assert [int(line.split(":")[1]) for line in result.stdout.splitlines()] == [28, 47]
