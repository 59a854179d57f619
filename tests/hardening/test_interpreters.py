"""Interpreter lifecycle: caches alive at exit, subinterpreters, reload.

Each scenario runs in a fresh interpreter (a subprocess), so that a crash at
finalisation shows as an exit code and nothing leaks into this process. The
module uses single-phase initialisation with static types (docs/design.md):

| CPython | legacy subinterpreter (shared GIL) | isolated (own GIL) |
| --- | --- | --- |
| 3.10, 3.11 | works (`_testcapi.run_in_subinterp`, `_xxsubinterpreters.create()`) | none exists |
| 3.12 | works (`_testcapi.run_in_subinterp`) | `_xxsubinterpreters.create()`: ImportError |
| 3.13+ | works (`_testcapi.run_in_subinterp`, `_interpreters` "legacy") | `_interpreters` "isolated": ImportError |

The ImportError is CPython's own: "module boundcache._core does not support
loading in subinterpreters".
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

if sys.implementation.name != "cpython":
    pytest.skip("subinterpreters, reloads and the extension's import are CPython's", allow_module_level=True)

# Runs inside a subinterpreter: every storage kind, then checks.
SUB_CODE = textwrap.dedent(
    """
    import boundcache
    @boundcache.lru_cache(maxsize=2)
    def f(x): return x * 2
    class C:
        @boundcache.lru_cache
        def m(self, x): return x + 1
        @boundcache.cached_property
        def p(self): return 5
    class S:
        __slots__ = ("__boundcache__", "__weakref__")
        @boundcache.lru_cache
        def m(self, x): return x + 1
    class W:
        __slots__ = ("__weakref__",)
        @boundcache.lru_cache
        def m(self, x): return x + 1
    assert [f(i) for i in (1, 2, 1, 3)] == [2, 4, 2, 6]
    assert tuple(f.cache_info()) == (1, 3, 2, 2), f.cache_info()
    c, s, w = C(), S(), W()
    assert c.m(1) == 2 and c.m(1) == 2 and c.p == 5 and s.m(2) == 3 and w.m(3) == 4
    assert tuple(C.m.cache_info()) == (1, 1, 128, 1)
    assert repr(f.cache_info()).startswith("CacheInfo(")
    del c, s, w
    assert C.m.cache_info().currsize == S.m.cache_info().currsize == W.m.cache_info().currsize == 0
    """
)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return subprocess.run(
        [sys.executable, "-X", "dev", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def check(proc: subprocess.CompletedProcess[str], expect_out: str = "") -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    # -X dev prints "Exception ignored ..." for errors in finalizers and
    # weakref callbacks; a clean run prints nothing on stderr.
    assert proc.stderr == "", proc.stderr
    assert expect_out in proc.stdout


# ---- interpreter exit ----

EXIT_SCENARIO = """
import gc, sys, threading, weakref
import boundcache

busy = []

class Value:
    # Its finalizer calls back into the caches while the interpreter shuts
    # down (not from within another Value's finalizer: that would recurse).
    def __init__(self, owner, x):
        self.owner, self.x = owner, x
    def __del__(self):
        if busy:
            return
        busy.append(1)
        try:
            f(self.x + 50)
            if self.owner is not None:
                self.owner.m(self.x)
                type(self.owner).m.cache_clear()
        except Exception:  # names may already be None at shutdown
            pass
        finally:
            busy.clear()

@boundcache.lru_cache(maxsize=None)
def f(x):
    return Value(None, x) if x < 50 else x

class D:
    @boundcache.lru_cache(maxsize=8)
    def m(self, x):
        return Value(self, x) if x < 50 else x
    @boundcache.cached_property
    def p(self):
        return Value(self, 99)

class S:
    __slots__ = ("__boundcache__", "__weakref__", "me")
    @boundcache.lru_cache
    def m(self, x):
        return Value(self, x) if x < 50 else x

class W:
    __slots__ = ("__weakref__",)
    @boundcache.lru_cache
    def m(self, x):
        return Value(self, x) if x < 50 else x
    @boundcache.cached_property
    def p(self):
        return [self]        # pins self through the weak table (documented)

class K:
    @classmethod
    @boundcache.lru_cache
    def c(cls, x):
        return Value(None, x)

keep = []
for i in range(200):
    for cls in (D, S, W):
        o = cls()
        o.m(i % 60); o.m(i % 60); o.m(i)
        if cls is not S:
            o.p
        keep.append(o)
    f(i)
    K.c(i % 10)
cyc = D(); cyc.me = cyc; cyc.m(1)           # cycles left for the collector
scyc = S(); scyc.me = scyc; scyc.m(1)
del o, cyc, scyc

# A daemon thread still calling the caches when the interpreter exits.
stop = threading.Event()
def spin():
    i = 0
    while True:
        keep[i % len(keep)].m(i % 70); f(i % 70); i += 1
        if i == 2000: stop.set()
t = threading.Thread(target=spin, daemon=True); t.start()
stop.wait(30)
gc.disable() if "nogc" in sys.argv else None
print("exiting with", D.m.cache_info().currsize + S.m.cache_info().currsize + W.m.cache_info().currsize, "method entries")
"""


@pytest.mark.parametrize("gc_mode", ["gc", "nogc"])
def test_caches_alive_at_interpreter_exit(gc_mode):
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-c", EXIT_SCENARIO, gc_mode],
        capture_output=True,
        text=True,
        timeout=120,
    )
    check(proc, "exiting with")


def test_caches_alive_when_sys_exit_is_called_from_a_cached_call():
    proc = run_python(
        """
        import sys, boundcache
        class C:
            @boundcache.lru_cache
            def m(self, x):
                if x == 3:
                    sys.exit(0)
                return [self, x]
        @boundcache.cache
        def f(x):
            return C().m(x)
        for i in range(5):
            f(i)
        """
    )
    check(proc)


# ---- subinterpreters ----


def _legacy_available():
    try:
        import _testcapi
    except ImportError:
        return False
    return hasattr(_testcapi, "run_in_subinterp")


@pytest.mark.skipif(not _legacy_available(), reason="no _testcapi.run_in_subinterp")
@pytest.mark.parametrize("main_first", [True, False], ids=["main-first", "sub-first"])
def test_legacy_subinterpreter_imports_and_works(main_first):
    # Legacy subinterpreters share the GIL: the single-phase module loads and
    # works there, whether the main interpreter imported it first or not, and
    # the main interpreter's caches keep working afterwards.
    proc = run_python(
        f"""
        import gc, _testcapi
        SUB = {SUB_CODE!r}
        if {main_first}:
            import boundcache
        for _ in range(3):
            assert _testcapi.run_in_subinterp(SUB) == 0
        gc.collect()
        import boundcache
        @boundcache.lru_cache(maxsize=2)
        def g(x): return x
        g(1); g(1)
        assert tuple(g.cache_info()) == (1, 1, 2, 1)
        assert len(boundcache.audit()) >= 1
        print("main ok")
        """
    )
    check(proc, "main ok")


def _isolated_api():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return name, __import__(name)
        except ImportError:
            pass
    return None, None


@pytest.mark.skipif(_isolated_api()[1] is None, reason="no subinterpreter module")
@pytest.mark.c_core("an interpreter with its own GIL refuses an extension without multi-phase init")
def test_subinterpreter_module_own_gil_gets_the_pure_core_else_works():
    name, _ = _isolated_api()
    proc = run_python(
        f"""
        import sys
        import {name} as xi
        SUB = {SUB_CODE!r}
        interp = xi.create()
        # Which core the interpreter got, printed from inside it.
        probe = "import boundcache._backend as b; print('CORE', b.core.__name__)"
        try:
            run = xi.exec if hasattr(xi, "exec") else xi.run_string
            err = run(interp, SUB) or run(interp, probe)
        except Exception as e:  # 3.12: RunFailedError
            err = e
        print("RESULT", repr(err))
        xi.destroy(interp)
        if hasattr(xi, "new_config"):           # 3.13+: a legacy config works
            interp = xi.create(xi.new_config("legacy"))
            assert xi.exec(interp, SUB) is None
            xi.destroy(interp)
            print("LEGACY OK")
        """
    )
    check(proc, "RESULT")
    result = proc.stdout.split("RESULT", 1)[1].splitlines()[0]
    # It works everywhere (contract 9): an interpreter with its own GIL (3.12+)
    # refuses the extension, which has no multi-phase init, and gets the
    # pure-Python core instead; 3.10/3.11's create() makes a shared-GIL one,
    # which gets the extension.
    assert result.strip() == "None", result
    want = "boundcache._pure" if sys.version_info >= (3, 12) else "boundcache._core"
    assert f"CORE {want}" in proc.stdout, proc.stdout
    if sys.version_info >= (3, 13):
        assert "LEGACY OK" in proc.stdout


@pytest.mark.skipif(not _legacy_available(), reason="no _testcapi.run_in_subinterp")
def test_finished_subinterpreter_leaves_nothing_in_the_weak_table():
    proc = run_python(
        f"""
        import _testcapi
        import boundcache
        from boundcache import _core
        SUB = {SUB_CODE!r} + "keep = [W() for _ in range(10)]\\nfor o in keep: o.m(1)\\n"
        assert _testcapi.run_in_subinterp(SUB) == 0
        print("LEFT", len(_core._weak_table_containers()))
        """
    )
    check(proc, "LEFT")
    assert proc.stdout.split("LEFT")[1].strip() == "0"


# ---- reload ----


@pytest.mark.c_core("single-phase initialisation of the extension module")
def test_reload_and_fresh_import_keep_existing_caches_working():
    proc = run_python(
        """
        import gc, importlib, sys
        import boundcache
        from boundcache import _core
        @boundcache.lru_cache(maxsize=4)
        def f(x): return x
        class C:
            @boundcache.lru_cache
            def m(self, x): return x
        c = C(); c.m(1); f(1)
        types = (_core.CachedFunction, _core.CacheInfo, _core._weak_table_containers)
        b2 = importlib.reload(boundcache)
        core2 = importlib.reload(boundcache._core)
        # Single-phase init: the extension module is not re-initialised.
        assert (core2.CachedFunction, core2.CacheInfo, core2._weak_table_containers) == types
        assert f(1) == 1 and tuple(f.cache_info()) == (1, 1, 4, 1)
        assert c.m(1) == 1 and tuple(C.m.cache_info()) == (1, 1, 128, 1)
        @b2.lru_cache(maxsize=4)
        def g(x): return x
        g(1); g(1)
        assert g.cache_info() == f.cache_info() and type(g.cache_info()) is type(f.cache_info())
        # Forget the package entirely and import it again.
        for name in [n for n in sys.modules if n == "boundcache" or n.startswith("boundcache.")]:
            del sys.modules[name]
        gc.collect()
        import boundcache as b3
        assert b3._core.CachedFunction is types[0]
        @b3.cache
        def h(x): return x
        h(1); h(1)
        assert tuple(h.cache_info()) == (1, 1, None, 1)
        assert c.m(1) == 1 and tuple(C.m.cache_info()) == (2, 1, 128, 1)
        del c
        assert C.m.cache_info().currsize == 0
        print("reload ok")
        """
    )
    check(proc, "reload ok")


# ---- the weak table holds nothing that leads back to its owners ----


@pytest.mark.parametrize("kind", ["method", "property"])
def test_weak_table_owner_referenced_by_its_cached_function_is_collectable(kind):
    proc = run_python(
        f"""
        import gc, weakref, boundcache
        def make():
            class WeakOnly:
                __slots__ = ("__weakref__",)
                if {kind!r} == "method":
                    @boundcache.lru_cache
                    def m(self, x):
                        return obj is self          # the function refers to the instance
                else:
                    @boundcache.cached_property
                    def m(self):
                        return obj is self
            obj = WeakOnly()
            obj.m(1) if {kind!r} == "method" else obj.m
            return weakref.ref(obj)
        r = make()
        gc.collect()
        print("ALIVE", r() is not None)
        """
    )
    check(proc, "ALIVE")
    # With a __dict__ or a __boundcache__ slot this is an ordinary,
    # collectable cycle; it should be in the weak table too.
    assert "ALIVE False" in proc.stdout
