"""The command line: output, exit codes, walking, --fix/--diff, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from checker_helpers import CORPUS, expected_lines

TRAP = "import functools\n\nclass A:\n    @functools.lru_cache(maxsize=32)\n    def m(self): pass\nP = functools.partial\n"
CLEAN = "import functools\n\n@functools.cache\ndef f(): pass\n"


def write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_text_output_and_exit_1(run, tmp_path):
    path = write(tmp_path / "a.py", TRAP)
    code, out, err = run(path)
    assert code == 1 and err == ""
    assert out == (
        f"{path}:4:6: BC001 functools.lru_cache on method A.m keeps every instance it is called on "
        "alive (its cache is keyed on self); use boundcache.lru_cache\n"
    )


def test_clean_file_exit_0(run, tmp_path):
    assert run(write(tmp_path / "a.py", CLEAN)) == (0, "", "")


def test_json_output(run, tmp_path):
    path = write(tmp_path / "a.py", TRAP)
    code, out, _ = run("--format", "json", path)
    assert code == 1
    assert json.loads(out) == [{
        "path": str(path), "line": 4, "col": 6, "code": "BC001", "fixable": True,
        "message": "functools.lru_cache on method A.m keeps every instance it is called on alive "
                   "(its cache is keyed on self); use boundcache.lru_cache",
    }]
    assert run("--format", "json", write(tmp_path / "b.py", CLEAN))[:2] == (0, "[]\n")


def test_noqa_through_the_cli(run):
    path = CORPUS / "noqa_comments.py"
    code, out, _ = run(path)
    assert code == 1
    assert {int(line.split(":")[1]) for line in out.splitlines()} == expected_lines(path)


UNPARSABLE_TRAP = "import functools\n\nclass A:\n    @functools.cache\n    def broken(:\n        pass\n"


def test_unparsable_file_is_reported_and_the_run_goes_on(run, tmp_path):
    write(tmp_path / "a_bad.py", UNPARSABLE_TRAP)
    write(tmp_path / "b_bad_encoding.py", "# -*- coding: no-such-codec -*-\nx = 1\n")
    write(tmp_path / "c_bad_bytes.py", b"x = '\xff'\n", mode="wb")
    write(tmp_path / "d.py", TRAP)
    # A file whose text cannot hold a finding is not parsed (issue 27): its
    # syntax is not ours to check.
    write(tmp_path / "e_bad_no_trap.py", "def broken(:\n")
    code, out, err = run(tmp_path)
    lines = out.splitlines()
    assert code == 1 and err == ""
    assert [line.split(": ")[1].split()[0] for line in lines] == ["BC900", "BC900", "BC900", "BC001"]
    assert lines[0].startswith(f"{tmp_path / 'a_bad.py'}:5:")


def test_only_syntax_errors_still_exit_1(run, tmp_path):
    assert run(write(tmp_path / "a.py", UNPARSABLE_TRAP))[0] == 1
    assert run(write(tmp_path / "b.py", "def broken(:\n"))[0] == 0


def test_walk_skips_hidden_virtualenvs_and_non_python(run, tmp_path):
    write(tmp_path / "pkg" / "mod.py", TRAP)
    write(tmp_path / ".hidden" / "mod.py", TRAP)
    write(tmp_path / "env" / "pyvenv.cfg", "home = /usr\n")
    write(tmp_path / "env" / "lib" / "mod.py", TRAP)
    write(tmp_path / "conda" / "conda-meta" / "history", "")
    write(tmp_path / "conda" / "mod.py", TRAP)
    write(tmp_path / "node_modules" / "mod.py", TRAP)
    write(tmp_path / "pkg" / "notes.txt", TRAP)
    write(tmp_path / "pkg" / "stub.pyi", TRAP)
    code, out, _ = run(tmp_path)
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [str(tmp_path / "pkg" / "mod.py")]


def test_explicit_file_is_checked_whatever_its_name(run, tmp_path):
    path = write(tmp_path / ".hidden" / "script", TRAP)
    assert run(path)[0] == 1


def test_default_path_is_the_current_directory(run, tmp_path, monkeypatch):
    write(tmp_path / "a.py", TRAP)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run()
    assert code == 1 and out.startswith(os.path.join(".", "a.py") + ":4:6: BC001")


def test_fix_writes_and_second_run_is_clean(run, tmp_path):
    path = write(tmp_path / "a.py", TRAP)
    code, out, err = run("--fix", path)
    assert (code, out) == (0, "")
    assert err == "1 of 1 findings fixed in 1 files.\n"
    # functools is still used (functools.partial): it stays; boundcache gets a section of its own.
    assert path.read_text() == TRAP.replace(
        "import functools\n", "import functools\n\nimport boundcache\n"
    ).replace("functools.lru_cache(", "boundcache.lru_cache(")
    before = path.read_bytes()
    assert run("--fix", path)[0] == 0
    assert path.read_bytes() == before
    assert run(path) == (0, "", "")


def test_fix_keeps_encoding_bom_and_line_endings(run, tmp_path):
    latin = write(tmp_path / "latin.py",
                  "# -*- coding: latin-1 -*-\r\nimport functools\r\nclass A:\r\n    s = 'caf\xe9'\r\n"
                  "    @functools.cache\r\n    def m(self): pass\r\n".encode("latin-1"), mode="wb")
    bom = write(tmp_path / "bom.py", b"\xef\xbb\xbfimport functools\nclass A:\n    @functools.cache\n"
                                     b"    def m(self): pass\n", mode="wb")
    assert run("--fix", latin, bom)[0] == 0
    # functools is no longer used: its import goes, and isort's blank lines come with ours.
    assert latin.read_bytes() == (
        "# -*- coding: latin-1 -*-\r\nimport boundcache\r\n\r\n\r\nclass A:\r\n"
        "    s = 'caf\xe9'\r\n    @boundcache.cache\r\n    def m(self): pass\r\n".encode("latin-1"))
    assert bom.read_bytes() == (b"\xef\xbb\xbfimport boundcache\n\n\nclass A:\n"
                                b"    @boundcache.cache\n    def m(self): pass\n")


def test_fix_reports_what_it_cannot_fix(run, tmp_path):
    path = write(tmp_path / "a.py", "from async_lru import alru_cache\nclass A:\n"
                                    "    @alru_cache\n    async def m(self): pass\n")
    code, out, err = run("--fix", path)
    assert code == 1
    assert out.startswith(f"{path}:3:6: BC001 async_lru.alru_cache on method A.m")
    assert err == "0 of 1 findings fixed in 0 files.\n"


def test_diff_prints_and_does_not_write(run, tmp_path):
    path = write(tmp_path / "a.py", TRAP)
    code, out, err = run("--diff", path)
    assert code == 1
    assert path.read_text() == TRAP
    assert out == (
        f"--- {path}\n"
        f"+++ {path}\n"
        "@@ -1,6 +1,8 @@\n"
        " import functools\n"
        " \n"
        "+import boundcache\n"
        "+\n"
        " class A:\n"
        "-    @functools.lru_cache(maxsize=32)\n"
        "+    @boundcache.lru_cache(maxsize=32)\n"
        "     def m(self): pass\n"
        " P = functools.partial\n"
    )
    assert err == "1 of 1 findings would be fixed in 1 files.\n"
    assert run("--diff", write(tmp_path / "b.py", CLEAN)) == (0, "", "0 of 0 findings would be fixed in 0 files.\n")


def test_usage_errors_exit_2_with_one_line(run, tmp_path):
    for args in (["--bogus"], ["--format", "xml", "."], [tmp_path / "missing.py"]):
        code, out, err = run(*args)
        assert code == 2 and out == ""
        assert "error:" in err.splitlines()[-1] and "Traceback" not in err
    assert run("--help")[0] == 0


def test_bad_pyproject_exits_2(run, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.boundcache]\nexclude = 'build'\n")
    write(tmp_path / "a.py", TRAP)
    code, out, err = run(tmp_path)
    assert code == 2 and out == ""
    assert err == f"boundcache check: error: {tmp_path / 'pyproject.toml'}: exclude must be a list of strings\n"


def test_unwritable_file_is_reported_not_a_traceback(run, tmp_path, monkeypatch):
    from boundcache.checker import cli

    def refuse(path, result):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli, "_write", refuse)  # root may write anywhere: simulate
    path = write(tmp_path / "a.py", TRAP)
    code, out, err = run("--fix", path)
    assert code == 1
    assert f"cannot write {path}: Permission denied" in err
    assert out.startswith(f"{path}:4:6: BC001")
    assert path.read_text() == TRAP


def test_python_dash_m_and_console_script(tmp_path):
    path = write(tmp_path / "a.py", TRAP)
    module = subprocess.run([sys.executable, "-m", "boundcache", "check", str(path)],
                            capture_output=True, text=True)
    assert module.returncode == 1 and module.stdout.startswith(f"{path}:4:6: BC001")
    script = shutil.which("boundcache", path=os.path.dirname(sys.executable))
    assert script is not None, "the boundcache console script is installed next to python"
    console = subprocess.run([script, "check", "--format", "json", str(path)], capture_output=True, text=True)
    assert console.returncode == 1 and json.loads(console.stdout)[0]["line"] == 4


def test_a_pool_of_processes_gives_the_same_output(run, tmp_path, monkeypatch):
    from boundcache.checker import cli

    from checker_helpers import CORPUS

    monkeypatch.setattr(cli, "PARALLEL_MIN_FILES", 10**9)
    sequential = run(CORPUS)
    monkeypatch.setattr(cli, "PARALLEL_MIN_FILES", 2)
    calls = []
    real = cli._check_parallel
    monkeypatch.setattr(cli, "_check_parallel", lambda *a: calls.append(1) or real(*a))
    assert run(CORPUS) == sequential
    assert calls == [1]
    assert sequential[0] == 1 and sequential[1].count("BC001") >= 40
