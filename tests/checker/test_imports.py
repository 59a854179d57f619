"""--fix passes the project's own linters: corpus/isort_project is a small
project with a ruff configuration (isort rules, pyflakes, known-first-party).
Before the fix ruff reports only B019; after it, nothing.  The fixed modules
import, and their cached methods run and cache.  Its vendored folders are
skipped unless configured otherwise.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from boundcache.checker import check_source, fix_source
from boundcache.checker.imports import FIRST_PARTY, ImportStyle

from checker_helpers import CORPUS, expected_lines

PROJECT = CORPUS / "isort_project"
MODULES = sorted(p for p in (PROJECT / "myapp").glob("*.py") if p.name != "__init__.py")
VENDORED = [PROJECT / "myapp" / "_vendor" / "copied.py", PROJECT / "vendor" / "copied.py"]


def ruff(root: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json", "."],
        cwd=root, capture_output=True, text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "isort_project"
    shutil.copytree(PROJECT, root)
    return root


def test_corpus_lines_are_the_expected_findings():
    for path in MODULES + VENDORED:
        found = {f.line for f in check_source(path.read_text(encoding="utf-8"), str(path))}
        silenced = {i for i, line in enumerate(path.read_text().splitlines(), 1) if "noqa: B019" in line}
        assert found - silenced == expected_lines(path) or path in VENDORED, path


def test_ruff_reports_nothing_new_after_the_fix(project, run):
    before = ruff(project)
    assert before and {d["code"] for d in before} == {"B019"}, before
    code, out, err = run("--fix", project)
    assert (code, out) == (0, ""), err
    assert err == "7 of 7 findings fixed in 6 files.\n"
    assert ruff(project) == []
    # The vendored copies were not walked into.
    for path in VENDORED:
        relative = path.relative_to(PROJECT)
        assert (project / relative).read_bytes() == path.read_bytes()


def test_fixed_modules_import_and_their_methods_run_and_cache(project, run, monkeypatch):
    assert run("--fix", project)[0] == 0
    monkeypatch.syspath_prepend(str(project / "lib"))
    monkeypatch.syspath_prepend(str(project))
    for name in [n for n in list(sys.modules) if n == "myapp" or n.startswith(("myapp.", "helpers"))]:
        monkeypatch.delitem(sys.modules, name)
    try:
        for path in MODULES:
            try:
                module = importlib.import_module(f"myapp.{path.stem}")
            except ModuleNotFoundError as e:
                # annotated_types comes with pydantic, which PyPy gets no wheel of (pyproject.toml).
                if e.name == "annotated_types" and sys.implementation.name == "pypy":
                    continue
                raise
            assert "boundcache" in vars(module), path
            for call in module.cached_calls():
                first = call()
                assert call() is first or call() == first, (path, call)
    finally:
        for name in [n for n in list(sys.modules) if n == "myapp" or n.startswith(("myapp.", "helpers"))]:
            del sys.modules[name]


def test_vendored_folders_are_fixed_when_configured(project, run):
    with open(project / "pyproject.toml", "a") as stream:
        stream.write('\n[tool.boundcache]\nvendor-dirs = []\n')
    code, out, err = run("--fix", project)
    assert err == "9 of 9 findings fixed in 8 files.\n"
    assert "boundcache.lru_cache" in (project / "vendor" / "copied.py").read_text()


def test_a_vendored_file_named_on_the_command_line_is_checked(run):
    code, out, _ = run(VENDORED[0])
    assert code == 1 and "BC001" in out


@pytest.mark.parametrize(
    "header, expected",
    [
        # stdlib only: a third-party section of its own after it
        ("import os\n", "import os\n\nimport boundcache\n"),
        # third party: sorted among the straight imports, before the from-imports
        ("import os\n\nimport attr\nimport zlib_ng\nfrom aaa import b\n",
         "import os\n\nimport attr\nimport boundcache\nimport zlib_ng\nfrom aaa import b\n"),
        ("import os\n\nfrom aaa import b\n", "import os\n\nimport boundcache\nfrom aaa import b\n"),
        # only first party / relative: a section before them
        ("from . import x\n", "import boundcache\n\nfrom . import x\n"),
        ("import os\n\nfrom . import x\n", "import os\n\nimport boundcache\n\nfrom . import x\n"),
        # a comment above an import belongs to it
        ("import os\n\n# why\nimport zzz\n", "import os\n\nimport boundcache\n# why\nimport zzz\n"),
    ],
)
def test_import_placement(header, expected):
    source = f"{header}\nP = os, x, b, attr, zlib_ng, zzz\n\n\nclass A:\n    @functools.cache\n    def m(self): ...\n"
    source = "import functools\n" + source if "functools" not in header else source
    fixed = fix_source(source, check_source(source, "m.py")).source
    assert fixed.startswith(expected) or fixed.startswith("import functools\n" + expected), fixed


def test_known_first_party_boundcache_goes_with_the_project():
    style = ImportStyle(known=(("boundcache", FIRST_PARTY), ("shop", FIRST_PARTY)))
    source = textwrap.dedent('''\
        import functools
        import os

        import shop
        from shop import tools


        class A:
            @functools.cache
            def m(self): return os, shop, tools
        ''')
    fixed = fix_source(source, check_source(source, "m.py"), style=style).source
    assert fixed.startswith("import os\n\nimport boundcache\nimport shop\nfrom shop import tools\n"), fixed


def test_force_sort_within_sections():
    style = ImportStyle(force_sort_within_sections=True)
    source = "import functools\nimport os\n\nimport attr\nfrom bz import c\nimport zz\n\n\nclass A:\n" \
             "    @functools.cache\n    def m(self): return os, attr, c, zz\n"
    fixed = fix_source(source, check_source(source, "m.py"), style=style).source
    assert fixed.startswith("import os\n\nimport attr\nimport boundcache\nfrom bz import c\nimport zz\n"), fixed


@pytest.mark.parametrize("with_toml", [True, False], ids=["tomllib", "no-toml-reader"])
def test_settings_are_read_with_and_without_a_toml_reader(with_toml, monkeypatch):
    from boundcache.checker import imports

    if not with_toml:  # Python 3.10 without tomli: the small reader of config.py
        monkeypatch.setattr(imports, "_toml", None)
    monkeypatch.setattr(imports, "_CACHE", {})
    style = imports.style_for(str(PROJECT / "myapp" / "first_party.py"))
    assert style.source == str(PROJECT / "pyproject.toml")
    assert style.section("helpers") == FIRST_PARTY
    assert style.section("myapp") == FIRST_PARTY  # found in the project's root
    assert style.section("boundcache") == imports.THIRD_PARTY
    assert style.section("os") == imports.STDLIB and style.section("x", level=1) == imports.LOCAL


def test_without_settings_the_project_root_is_found(tmp_path, monkeypatch):
    from boundcache.checker import imports

    monkeypatch.setattr(imports, "_CACHE", {})
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    style = imports.style_for(str(tmp_path / "pkg" / "sub" / "mod.py"))
    assert style.section("pkg") == FIRST_PARTY and style.section("other") == imports.THIRD_PARTY


@pytest.mark.parametrize("config_name, text", [
    ("pyproject.toml", '[tool.isort]\nprofile = "black"\nknown_first_party = ["boundcache"]\n'),
    (".isort.cfg", "[settings]\nknown_first_party = boundcache,other\n"),
    ("ruff.toml", '[lint.isort]\nknown-first-party = ["boundcache"]\n'),
    ("pyproject.toml", '[tool.ruff.isort]\nknown-first-party = ["boundcache"]\n'),
])
def test_known_first_party_from_each_kind_of_settings(config_name, text, tmp_path, monkeypatch):
    from boundcache.checker import imports

    monkeypatch.setattr(imports, "_CACHE", {})
    (tmp_path / config_name).write_text(text)
    style = imports.style_for(str(tmp_path / "mod.py"))
    assert style.source == str(tmp_path / config_name)
    assert style.section("boundcache") == FIRST_PARTY
