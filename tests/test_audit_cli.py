"""`python -m boundcache audit -- script.py args...`: run a script, then audit."""

import subprocess
import sys
import textwrap

import pytest

# audit() counts references, which an interpreter without reference counting
# (PyPy) does not keep: it refuses there with an error saying so.
if not hasattr(sys, "getrefcount"):
    pytest.skip("audit() needs reference counts (CPython)", allow_module_level=True)

SCRIPT = textwrap.dedent(
    """
    import functools, sys

    class ImageCache:
        def __init__(self):
            self.buffer = bytearray(1024 * 1024)

        @functools.lru_cache(maxsize=None)
        def thumbnail(self, width):
            return bytes(width)

    for _ in range(3):
        ImageCache().thumbnail(16)

    live = ImageCache()       # a global: alive at the end, so held but not pinned
    live.thumbnail(8)

    print("script args:", sys.argv[1:], "name:", __name__)
    if sys.argv[1:] == ["raise"]:
        raise RuntimeError("boom")
    if sys.argv[1:2] == ["exit"]:
        sys.exit(int(sys.argv[2]))
    """
)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "service.py"
    path.write_text(SCRIPT)
    return path


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "boundcache", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def table_row(stdout, name):
    [line] = [line for line in stdout.splitlines() if name in line]
    return line.split()


def test_runs_the_script_with_its_arguments_and_prints_the_audit(script):
    out = run("--", script, "a", "--flag")
    assert out.returncode == 0, out.stderr
    assert "script args: ['a', '--flag'] name: __main__" in out.stdout
    head = out.stdout.index("boundcache.audit(): ")
    assert out.stdout.index("script args") < head  # printed when the script ends
    fields = table_row(out.stdout, "__main__.ImageCache.thumbnail")
    # bytes, unit, pinned, held, entries, kind, cache, [3 ImageCache]
    assert fields[1] == "MiB" and 3.0 <= float(fields[0]) < 6.0
    assert fields[2:6] == ["3", "4", "4", "functools"]


def test_separator_is_optional_and_options_trim(script, tmp_path):
    out = run("--no-stdlib", "--min-bytes", "1M", script)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["bytes", "pinned"])
    rows = lines[header + 1 :]
    assert len(rows) == 1 and "ImageCache.thumbnail" in rows[0]

    report = tmp_path / "report.txt"
    out = run("-o", report, "--", script)
    assert out.returncode == 0
    assert "boundcache.audit()" not in out.stdout
    assert "ImageCache.thumbnail" in report.read_text()


def test_exit_status_and_uncaught_exception_of_the_script(script):
    out = run("--", script, "exit", "3")
    assert out.returncode == 3
    assert "ImageCache.thumbnail" in out.stdout

    out = run("--", script, "raise")
    assert out.returncode == 1
    assert "RuntimeError: boom" in out.stderr
    assert "_cli.py" not in out.stderr  # the traceback is the script's own
    assert table_row(out.stdout, "ImageCache.thumbnail")[2] == "3"


def test_usage_errors(tmp_path):
    assert run().returncode == 2
    assert run("--").returncode == 2
    missing = run(tmp_path / "nope.py")
    assert missing.returncode == 2 and "cannot open" in missing.stderr
    usage = subprocess.run([sys.executable, "-m", "boundcache", "--help"], capture_output=True, text=True)
    assert "audit" in usage.stdout
