"""Code for a newer Python than the running one (corpus/newer_syntax).

PEP 695 and t-strings are masked in place and checked by this Python; a
3.12 f-string with nested quotes is checked by a newer interpreter when one
is installed (pyenv or PATH), and otherwise reported as needing 3.12; PEP
758's `except A, B:` parses nowhere before 3.14.  A file that does not parse
is never counted as a finding in the --fix summary.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys

import pytest

from boundcache.checker import check_source, syntax

from checker_helpers import CORPUS, expected_lines

NEWER = CORPUS / "newer_syntax"
RUNNING = sys.version_info[:2]


def _parses(path) -> bool:
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except SyntaxError:
        return False
    return True


# Whether this interpreter's parser takes 3.14's except without parentheses.
PARSES_314 = _parses(NEWER / "except_314.py")


def newer_than(version: tuple[int, int]) -> bool:
    return RUNNING >= version or any(v >= version for v, _ in syntax.newer_pythons())


# except_314.py is checked here, or by a Python 3.14+ found (Debian unstable's, beside its PyPy).
CHECKS_314 = PARSES_314 or newer_than((3, 14))


def test_masked_constructs_are_checked_in_process():
    for name in ("pep695.py", "tstrings_314.py"):
        path = NEWER / name
        found = check_source(path.read_text(encoding="utf-8"), str(path))
        assert {f.line for f in found} == expected_lines(path)
        assert all(f.code == "BC001" and f.fixable for f in found)


@pytest.mark.parametrize("source", [
    "class C[T: (int, str)]:\n    type A[K] = dict[K, T]\n    x = t'{y}'\n",
    "def f[\n    T,\n](x: T) -> T:\n    return x\n",
    "def f[\r\n    T,  # why\r\n](x: T) -> T:\r\n    return x\r\n",
])
def test_mask_keeps_every_position(source):
    masked = syntax.mask(source)
    assert len(masked) == len(source)
    assert [len(line) for line in masked.splitlines()] == [len(line) for line in source.splitlines()]
    ast.parse(masked)  # on every Python the checker runs on


def test_python2_is_not_told_it_needs_a_newer_python():
    source = ("import functools\n\nclass Store(object):\n    cache = {}\n\n    def load(self):\n        try:\n"
              "            import json\n        except ImportError, err:\n            json = None\n")
    assert syntax.needed_version(source) is None
    assert syntax.looks_like_python2(source)
    found = check_source(source, "old.py")
    assert not any("needs Python" in f.message for f in found)
    if RUNNING < (3, 14):  # 3.14 reads it as `except (ImportError, err):`
        (finding,) = found
        assert finding.code == "BC900" and "it looks like Python 2 code" in finding.message
    (printed,) = check_source("import functools\nclass Store: cache = {}\nprint 'x'\n", "old.py")
    assert "it looks like Python 2 code" in printed.message


def test_cli_checks_newer_files_and_says_which_python_the_rest_needs(run):
    code, out, err = run(NEWER)
    assert code == 1 and err == ""
    lines = {line.split(":")[0].rsplit("/", 1)[1] + ":" + line.split(":")[1]: line for line in out.splitlines()}
    for path in sorted(NEWER.glob("*.py")):
        for number in expected_lines(path):
            key = f"{path.name}:{number}"
            if path.name == "fstrings_312.py" and not newer_than((3, 12)):
                assert "needs Python 3.12" in out
                continue
            assert "BC001" in lines[key], out
    bc900 = [line for line in out.splitlines() if "BC900" in line]
    if not CHECKS_314:
        # and fstrings_312.py's, where no Python 3.12+ is found to check it (a bare Debian 12)
        (line,) = [line for line in bc900 if "except_314.py" in line]
        assert len(bc900) == (1 if newer_than((3, 12)) else 2), bc900
        assert "except_314.py:10:" in line and "needs Python 3.14" in line
    else:
        assert bc900 == [], bc900  # 3.14 parses every file of the corpus
        assert "BC001" in lines["except_314.py:6"], out


def test_fix_summary_does_not_count_unparsed_files(run, tmp_path):
    root = tmp_path / "newer"
    shutil.copytree(NEWER, root)
    code, out, err = run("--fix", root)
    files = 2 + newer_than((3, 12)) + CHECKS_314
    fixable = files + 1  # pep695.py has two
    unparsed = len(list(NEWER.glob("*.py"))) - files
    assert err == f"{fixable} of {fixable} findings fixed in {files} files." + (
        f" {unparsed} file{'s' if unparsed > 1 else ''} could not be parsed." if unparsed else "") + "\n"
    for name in ("pep695.py", "tstrings_314.py") + (("fstrings_312.py",) if newer_than((3, 12)) else ()):
        fixed = (root / name).read_text(encoding="utf-8")
        assert "import boundcache\n" in fixed and "@boundcache." in fixed
        assert "import functools" not in fixed  # made unused by the fix
        # It still parses (here, or under the newer Python that checked it).
        syntax.parse(fixed) if name != "fstrings_312.py" or RUNNING >= (3, 12) else _compile_elsewhere(fixed)


def _compile_elsewhere(source: str) -> None:
    python = next(p for v, p in syntax.newer_pythons() if v >= (3, 12))
    done = subprocess.run([python, "-c", "import sys; compile(sys.stdin.read(), 'f', 'exec')"],
                          input=source, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr


def test_ruff_finds_no_b019_we_miss_and_nothing_new_after_fix(run, tmp_path):
    root = tmp_path / "newer"
    shutil.copytree(NEWER, root)

    def ruff():
        done = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                               "--target-version", "py314", "--select", "E,F,W,I,B", "--output-format",
                               "json", "."], cwd=root, capture_output=True, text=True)
        return json.loads(done.stdout)

    before = ruff()
    b019 = {(d["filename"].rsplit("/", 1)[1], d["location"]["row"]) for d in before if d["code"] == "B019"}
    code, out, _ = run(root)
    ours = {(line.split(":")[0].rsplit("/", 1)[1], int(line.split(":")[1])) for line in out.splitlines()
            if "BC001" in line}
    unparsable = {"except_314.py"} if RUNNING < (3, 14) else set()
    if not newer_than((3, 12)):
        unparsable.add("fstrings_312.py")
    assert {hit for hit in b019 if hit[0] not in unparsable} <= ours
    run("--fix", root)
    after = ruff()
    assert {d["code"] for d in after} - {d["code"] for d in before} == set()
    assert len(after) <= len(before)


@pytest.mark.parametrize("source, version", [
    ("x = t'a'\n", "3.14"),
    ("try:\n    pass\nexcept A, B:\n    pass\n", "3.14"),
    ("try:\n    pass\nexcept socket.error, e:\n    pass\n", None),  # Python 2
    ("def f[T](): pass\n", "3.12"),
])
def test_needed_version(source, version):
    expected = version if version and tuple(map(int, version.split("."))) > RUNNING else None
    assert syntax.needed_version(source) == expected
