"""boundcache.patch() / unpatch(), BOUNDCACHE_PATCH=1 at interpreter start,
exclusions, ``python -m boundcache run``, and the audit's mark (docs/patch.md)."""

from __future__ import annotations

import functools
import gc
import inspect
import os
import site
import subprocess
import sys
import textwrap
import weakref

import pytest
from cores import released

import boundcache
from boundcache import _patch

FUNCTOOLS_OWN = (functools.lru_cache, functools.cache, functools.cached_property)
# audit() counts references, which an interpreter without reference counting
# (PyPy) does not keep: it refuses there with an error saying so.
AUDITS = hasattr(sys, "getrefcount")


@pytest.fixture(autouse=True)
def restored_functools(monkeypatch):
    monkeypatch.delenv("BOUNDCACHE_PATCH_EXCLUDE", raising=False)
    assert (functools.lru_cache, functools.cache, functools.cached_property) == FUNCTOOLS_OWN
    yield
    boundcache.unpatch()
    assert (functools.lru_cache, functools.cache, functools.cached_property) == FUNCTOOLS_OWN


def in_module(module, func):
    """`func` as if defined in `module` (exclusions go by the function's module)."""
    func.__module__ = module
    return func


def made_by_functools(wrapper):
    """functools' own lru_cache wrapper: its C type on CPython; where functools
    has no C accelerator (PyPy), a function made in functools.py."""
    if isinstance(functools._lru_cache_wrapper, type):
        return type(wrapper) is functools._lru_cache_wrapper
    code = getattr(wrapper, "__code__", None)
    return code is not None and code.co_filename == functools.__file__


def test_patch_replaces_the_three_and_unpatch_restores_them():
    assert boundcache.patch() is True
    assert functools.lru_cache is _patch.lru_cache
    assert functools.cache is _patch.cache
    assert functools.cached_property is _patch.cached_property
    assert _patch.is_patched()
    assert boundcache.unpatch() is True
    assert (functools.lru_cache, functools.cache, functools.cached_property) == FUNCTOOLS_OWN
    assert not _patch.is_patched()


def test_patch_and_unpatch_are_idempotent():
    assert boundcache.unpatch() is False  # nothing to restore
    assert boundcache.patch() is True
    assert boundcache.patch() is True
    assert functools.lru_cache is _patch.lru_cache
    assert boundcache.unpatch() is True
    assert boundcache.unpatch() is False
    assert functools.lru_cache is FUNCTOOLS_OWN[0]


def test_unpatch_leaves_alone_what_someone_else_installed_since():
    boundcache.patch()
    theirs = object()
    functools.cache = theirs
    try:
        boundcache.unpatch()
        assert functools.cache is theirs
        assert functools.lru_cache is FUNCTOOLS_OWN[0]
    finally:
        functools.cache = FUNCTOOLS_OWN[1]


def test_methods_decorated_through_functools_get_per_instance_caches(no_gc):
    boundcache.patch()

    class Image:
        def __init__(self):
            self.pixels = bytearray(1000)

        @functools.lru_cache(maxsize=32)  # noqa: B019 - served by boundcache while patched
        def thumbnail(self, size):
            return size * 2

        @functools.cache  # noqa: B019 - served by boundcache while patched
        def histogram(self):
            return len(self.pixels)

        @functools.cached_property
        def area(self):
            return 10

    image = Image()
    assert (image.thumbnail(3), image.histogram(), image.area) == (6, 1000, 10)
    assert image.thumbnail.cache_info() == functools._CacheInfo(0, 1, 32, 1)
    assert isinstance(type(image).__dict__["area"], boundcache.cached_property)
    ref = weakref.ref(image)
    del image  # functools' class-level cache would keep it
    released()
    assert ref() is None


def test_functions_decorated_through_functools_behave_as_functools():
    boundcache.patch()

    @functools.lru_cache(maxsize=2)
    def square(x):
        return x * x

    @functools.lru_cache
    def bare(x):
        return x

    for x in (1, 2, 1, 3, 2):
        square(x)
    assert square.cache_info() == functools._CacheInfo(1, 4, 2, 2)
    assert isinstance(square, boundcache.CachedFunction)
    assert bare(1) == 1 and bare.cache_parameters() == {"maxsize": 128, "typed": False}
    with pytest.raises(TypeError, match="Expected first argument to be an integer, a callable, or None"):
        functools.lru_cache("big")


def test_bare_decorator_above_classmethod_and_staticmethod():
    boundcache.patch()

    class Config:
        @functools.lru_cache
        @classmethod
        def defaults(cls):
            return cls.__name__

        @functools.cache
        @staticmethod
        def parse(text):
            return text.upper()

    assert Config.defaults() == "Config" and Config.parse("a") == "A"
    assert Config.defaults.cache_info().hits == 0 and Config.defaults() == "Config"
    assert Config.defaults.cache_info().hits == 1


def test_cached_property_of_functools_own_still_passes_isinstance_while_patched():
    before = FUNCTOOLS_OWN[2](lambda self: 1)
    boundcache.patch()
    assert isinstance(before, functools.cached_property)
    assert issubclass(FUNCTOOLS_OWN[2], functools.cached_property)
    assert not isinstance(object(), functools.cached_property)

    class Sub(functools.cached_property):  # a subclass made while patched is boundcache's
        pass

    assert issubclass(Sub, boundcache.cached_property)
    assert not isinstance(before, Sub)


def test_excluded_modules_keep_functools():
    boundcache.patch(exclude=["legacy", "vendor.pkg"])

    kept = functools.lru_cache(maxsize=8)(in_module("legacy", lambda x: x))
    sub = functools.cache(in_module("legacy.models", lambda x: x))
    deeper = functools.lru_cache(in_module("vendor.pkg.mod", lambda x: x))
    served = functools.cache(in_module("legacy_tools", lambda x: x))  # not a submodule of "legacy"
    sibling = functools.cache(in_module("vendor.other", lambda x: x))
    prop = functools.cached_property(in_module("legacy", lambda self: 1))
    served_prop = functools.cached_property(in_module("app", lambda self: 1))

    assert made_by_functools(kept) and made_by_functools(sub) and made_by_functools(deeper)
    assert isinstance(served, boundcache.CachedFunction) and isinstance(sibling, boundcache.CachedFunction)
    assert type(prop) is FUNCTOOLS_OWN[2]
    assert isinstance(served_prop, boundcache.cached_property)
    assert isinstance(prop, functools.cached_property)


def test_exclusions_from_the_environment(monkeypatch):
    monkeypatch.setenv("BOUNDCACHE_PATCH_EXCLUDE", " legacy , ,other.pkg")
    boundcache.patch()
    assert made_by_functools(functools.cache(in_module("legacy.x", lambda: 1)))
    assert made_by_functools(functools.cache(in_module("other.pkg", lambda: 1)))
    assert isinstance(functools.cache(in_module("other", lambda: 1)), boundcache.CachedFunction)


def test_exclusions_from_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\npatch-exclude = ["legacy"]\n')
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)  # found from the current directory upward
    boundcache.patch()
    assert made_by_functools(functools.cache(in_module("legacy", lambda: 1)))
    assert isinstance(functools.cache(in_module("app", lambda: 1)), boundcache.CachedFunction)


def test_a_pyproject_without_the_key_excludes_nothing(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["boundcache"]\n')
    monkeypatch.chdir(tmp_path)
    boundcache.patch()
    assert isinstance(functools.cache(in_module("legacy", lambda: 1)), boundcache.CachedFunction)


@pytest.mark.parametrize(
    ("exclude", "error", "match"),
    [
        ("sqlalchemy", TypeError, "list of module names"),
        (["a b"], ValueError, "'a b' is not a module name"),
        (["ok", 3], ValueError, "3 is not a module name"),
        (["trailing."], ValueError, "'trailing.' is not a module name"),
    ],
)
def test_bad_exclusions_are_refused_and_nothing_is_patched(exclude, error, match):
    with pytest.raises(error, match=match):
        boundcache.patch(exclude=exclude)
    assert functools.lru_cache is FUNCTOOLS_OWN[0]


def test_a_bad_pyproject_key_is_refused(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\npatch-exclude = "legacy"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="patch-exclude must be a list of strings"):
        boundcache.patch()


def test_patch_is_a_no_op_with_a_warning_when_functools_cached_property_was_replaced():
    class Other:
        pass

    functools.cached_property = Other
    try:
        with pytest.warns(RuntimeWarning, match="another tool replaced it"):
            assert boundcache.patch() is False
        assert functools.cached_property is Other and functools.lru_cache is FUNCTOOLS_OWN[0]
    finally:
        functools.cached_property = FUNCTOOLS_OWN[2]


def test_patch_and_unpatch_from_many_threads(run_threads):
    made = []

    def work(i):
        for _ in range(200):
            if i % 2:
                boundcache.patch()
            else:
                boundcache.unpatch()
            made.append(functools.lru_cache(maxsize=4)(in_module("app", lambda x: x)))

    run_threads(work, 8)
    assert all(wrapper(1) == 1 for wrapper in made)
    state = (functools.lru_cache, functools.cache, functools.cached_property)
    assert state in (FUNCTOOLS_OWN, (_patch.lru_cache, _patch.cache, _patch.cached_property))
    boundcache.unpatch()
    assert (functools.lru_cache, functools.cache, functools.cached_property) == FUNCTOOLS_OWN


@pytest.mark.skipif(not AUDITS, reason="audit() needs reference counts (CPython)")
def test_audit_marks_the_caches_the_patch_made():
    boundcache.patch()

    class Service:
        @functools.lru_cache  # noqa: B019 - served by boundcache while patched
        def lookup(self, key):
            return key

    direct = boundcache.lru_cache(in_module("tests.direct", lambda x: x))
    own = FUNCTOOLS_OWN[0](in_module("tests.own", lambda x: x))
    service = Service()
    service.lookup(1)
    direct(1)
    own(1)
    rows = {row.module: row for row in boundcache.audit() if row.module in (__name__, "tests.direct", "tests.own")}
    lookup = rows[__name__]
    assert (lookup.qualname, lookup.kind, lookup.patched) == (Service.lookup.__qualname__, "boundcache", True)
    assert (rows["tests.direct"].patched, rows["tests.own"].patched) == (False, False)
    report = boundcache.audit()
    assert lookup.qualname in {row.qualname for row in report.patched}
    assert "(patched)" in str(report) and "under boundcache.patch()" in str(report)
    del service, direct, own
    gc.collect()


# ---- at interpreter start: BOUNDCACHE_PATCH and the .pth file ----


def python(code: str, env=None, cwd=None, args=()):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BOUNDCACHE_PATCH")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
    )


PROBE = """
import functools, sys
print(functools.lru_cache.__module__, functools.cached_property.__module__, "boundcache" in sys.modules)
"""


def test_the_pth_file_is_installed_beside_the_package():
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    assert any(os.path.isfile(os.path.join(d, "boundcache_patch.pth")) for d in dirs), dirs


def test_unset_the_start_imports_nothing_of_boundcache():
    for env in ({}, {"BOUNDCACHE_PATCH": "0"}):
        proc = python(PROBE, env)
        assert (proc.stdout.split(), proc.stderr) == (["functools", "functools", "False"], ""), env
    # Set but empty: looked at (boundcache imported), and off without a word.
    proc = python(PROBE, {"BOUNDCACHE_PATCH": " "})
    assert (proc.stdout.split()[:2], proc.stderr) == (["functools", "functools"], "")


def test_set_functools_is_boundcache_s_from_the_start():
    proc = python(
        PROBE
        + """
import fnmatch  # a standard module imported after the start: its cache is boundcache's
import boundcache
print(isinstance(fnmatch._compile_pattern, boundcache.CachedFunction), boundcache._patch.replaced_count() > 0)
""",
        {"BOUNDCACHE_PATCH": "1"},
    )
    assert proc.stderr == ""
    assert proc.stdout.split() == ["boundcache._patch", "boundcache._patch", "True", "True", "True"]


def test_child_processes_inherit_the_switch():
    proc = python(
        """
import subprocess, sys
print(subprocess.run([sys.executable, "-c", "import functools; print(functools.lru_cache.__module__)"],
                     capture_output=True, text=True).stdout.strip())
""",
        {"BOUNDCACHE_PATCH": "1"},
    )
    assert proc.stdout.strip() == "boundcache._patch", proc.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOUNDCACHE_PATCH": "yes"}, "BOUNDCACHE_PATCH='yes': set it to 1"),
        ({"BOUNDCACHE_PATCH": "1", "BOUNDCACHE_PATCH_EXCLUDE": "a b"}, "'a b' is not a module name"),
    ],
)
def test_a_bad_setting_at_start_is_one_line_on_stderr_and_functools_stays(env, message):
    proc = python(PROBE, env)
    assert proc.returncode == 0
    assert proc.stdout.split()[:2] == ["functools", "functools"]
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert proc.stderr.startswith("boundcache: ") and proc.stderr.endswith("functools is left as it is\n")


def test_a_boundcache_that_cannot_be_imported_leaves_the_start_alone():
    # The site module run by hand (-S), with boundcache made unimportable.
    proc = python(
        "import sys, site\nsys.modules['boundcache'] = None\nsite.main()\ndel sys.modules['boundcache']\n" + PROBE,
        {"BOUNDCACHE_PATCH": "1"},
        args=("-S",),
    )
    assert proc.returncode == 0
    assert proc.stdout.split() == ["functools", "functools", "False"]
    assert proc.stderr.startswith("boundcache: BOUNDCACHE_PATCH is set but boundcache cannot be imported (")
    assert proc.stderr.endswith("); functools is left as it is\n") and proc.stderr.count("\n") == 1


def test_pytest_under_the_switch_does_not_warn_about_boundcache(tmp_path):
    # pytest marks its plugins' packages for assertion rewriting; the .pth
    # imported boundcache before, and the warning that it cannot be rewritten
    # fails every suite configured with filterwarnings = error.
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path / "test_one.py"),
         "-W", "error:Module already imported so cannot be rewritten; boundcache:pytest.PytestAssertRewriteWarning"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, "BOUNDCACHE_PATCH": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_exclusions_from_pyproject_at_start(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.boundcache]\npatch-exclude = ["fnmatch"]\n')
    proc = python(
        "import fnmatch, functools\n" + inspect.getsource(made_by_functools)
        + "print(made_by_functools(fnmatch._compile_pattern))",
        {"BOUNDCACHE_PATCH": "1"},
        cwd=tmp_path,
    )  # fmt: skip
    assert (proc.stdout.strip(), proc.stderr) == ("True", "")


SQLALCHEMY_LOOP = """
import gc, sys, weakref
from sqlalchemy.dialects.postgresql.base import PGDialect

alive = weakref.WeakSet()
for _ in range(200):  # one dialect per engine, made and dropped: no server needed
    dialect = PGDialect()
    # SQLAlchemy's own @lru_cache() method (2.0 names it _has_table_query)
    (getattr(dialect, "_has_multi_table_query", None) or dialect._has_table_query)(None)
    alive.add(dialect)
    del dialect
gc.collect()
print(len(alive))
"""


def test_sqlalchemy_dialects_pinned_by_their_own_lru_cache_are_freed_with_the_switch():
    pytest.importorskip("sqlalchemy")
    plain = python(SQLALCHEMY_LOOP)
    switched = python(SQLALCHEMY_LOOP, {"BOUNDCACHE_PATCH": "1"})
    assert plain.stdout.strip() == "128", plain.stderr  # functools' maxsize: 128 dialects kept for good
    assert switched.stdout.strip() == "0", switched.stderr


@pytest.mark.parametrize("command", [["audit"], ["run", "--audit"]])
def test_audit_commands_say_up_front_where_they_cannot_audit(tmp_path, command):
    """Where references are not counted (PyPy) the audit commands refuse
    before the script runs, in one line that says what to do; elsewhere
    they run it and audit."""
    script = tmp_path / "script.py"
    script.write_text("print('ran')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "boundcache", *command, "--", str(script)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BOUNDCACHE_PATCH")},
    )
    if AUDITS:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("ran\nboundcache.audit(): ")
    else:
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "counting references" in proc.stderr, proc.stderr
        assert ("drop --audit" in proc.stderr) == (command[0] == "run")


def test_run_command_patches_runs_the_script_and_prints_the_audit(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import functools, os, subprocess, sys

            class Handler:
                @functools.lru_cache(maxsize=None)
                def render(self, page):
                    return page * 3

            for page in range(5):
                Handler().render(page)
            child = subprocess.run([sys.executable, "-c", "import functools; print(functools.cache.__module__)"],
                                   capture_output=True, text=True).stdout.strip()
            print("args", sys.argv[1:], "self", functools.cache.__module__, "child", child)
            sys.exit(3)
            """
        )
    )
    audit = ["--audit", "--no-stdlib"] if AUDITS else []  # no audit on PyPy: it refuses there
    proc = subprocess.run(
        [sys.executable, "-m", "boundcache", "run", *audit, "--", str(script), "x", "--y"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BOUNDCACHE_PATCH")},
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "args ['x', '--y'] self boundcache._patch child boundcache._patch"
    if not AUDITS:
        assert len(lines) == 1
        return
    assert "none pins an instance; 1 made by functools' decorators under boundcache.patch()" in lines[1]
    assert any("__main__.Handler.render  (patched)" in line for line in lines[2:])


def test_run_command_refuses_a_missing_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "boundcache", "run", "--", str(tmp_path / "missing.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "cannot open" in proc.stderr
