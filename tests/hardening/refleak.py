"""A pytest plugin that does what CPython's ``regrtest -R`` does, test by test.

Load it on a debug build of CPython (one with ``sys.gettotalrefcount``)::

    PYTHONPATH=tests/hardening python -m pytest -p refleak --refleak=3:3 tests/test_functions.py ...

Every test function is called WARMUP + RUNS times in a row (its fixtures are
set up once), and after each call the interpreter's caches are cleared and the
garbage collector run. The test fails when, over the last RUNS calls, the
total reference count or the number of allocated memory blocks grew on *every*
call: regrtest's own rule (``check_rc_deltas``), which ignores the one-off
growth of a cache filled on first use but catches a leak of even one
reference per call.

Hypothesis tests are run with a fixed seed and no example database while this
plugin is active, so that every repetition replays the same examples;
``--refleak-max-examples=N`` caps their examples per repetition.
"""

from __future__ import annotations

import gc
import sys

import pytest

_CONFIG: dict[str, int] = {}


def pytest_addoption(parser):
    parser.addoption(
        "--refleak",
        default=None,
        metavar="WARMUP:RUNS",
        help="run each test WARMUP+RUNS times and fail it if refcounts or memory blocks grow on every run",
    )
    parser.addoption(
        "--refleak-max-examples",
        type=int,
        default=None,
        metavar="N",
        help="with --refleak, run at most N examples of each hypothesis test per repetition",
    )


def pytest_configure(config):
    spec = config.getoption("--refleak")
    if not spec:
        return
    if not hasattr(sys, "gettotalrefcount"):
        raise pytest.UsageError("--refleak needs a debug build of CPython (sys.gettotalrefcount)")
    warmup, runs = (int(x) for x in spec.split(":"))
    if warmup < 1 or runs < 1:
        raise pytest.UsageError("--refleak: WARMUP and RUNS must be at least 1")
    _CONFIG.update(warmup=warmup, runs=runs, max_examples=config.getoption("--refleak-max-examples") or 0)
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    settings.register_profile(
        "refleak",
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("refleak")


def _cap_examples(func, n):
    """Fewer examples per repetition for a hypothesis test (its own @settings
    take precedence over a profile, so they are replaced here)."""
    inner = getattr(func, "__func__", func)
    own = getattr(inner, "_hypothesis_internal_use_settings", None)
    if not n or own is None or own.max_examples <= n:
        return
    from hypothesis import settings

    inner._hypothesis_internal_use_settings = settings(own, max_examples=n, derandomize=True, database=None)


def _clear_caches():
    """What regrtest's dash_R_cleanup clears that a test could fill."""
    import linecache
    import re
    import typing

    for cls in _abc_classes():
        cls._abc_caches_clear()
    re.purge()
    linecache.clearcache()
    for f in typing._cleanups:  # type: ignore[attr-defined]
        f()
    sys._clear_type_cache()
    gc.collect()


def _forget_captured_logs(config):
    """Drop the log records pytest captured during the last repetition.

    pytest's logging plugin keeps every record of a test's call phase, and
    here that phase holds all the repetitions, so one record a run looks like
    a leak. CI's -X dev runs asyncio in debug mode, which logs "Executing
    <Handle ...> took 0.1 seconds" whenever a loaded machine makes a callback
    slow: that, not boundcache, was test_async.py's "leak" under CI load.
    (The records of a failing test's earlier repetitions are not reported.)
    """
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    for handler in (getattr(plugin, "caplog_handler", None), getattr(plugin, "report_handler", None)):
        if handler is not None:
            handler.reset()


def _abc_classes():
    import abc

    seen = set()
    out = []
    stack = [object]
    while stack:
        cls = stack.pop()
        try:
            subs = type.__subclasses__(cls)
        except TypeError:
            continue
        for sub in subs:
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            stack.append(sub)
            if isinstance(sub, abc.ABCMeta) and hasattr(sub, "_abc_caches_clear"):
                out.append(sub)
    return out


try:
    # 3.11: specialised bytecode is allocated lazily; regrtest discounts it.
    from sys import _getquickenedcount as _quickened  # type: ignore[attr-defined]
except ImportError:

    def _quickened():
        return 0


def _leaked(deltas):
    # regrtest's check_rc_deltas: [3, 0, 0], [0, 1, 0] and [8, -8, 1] are
    # noise; [5, 5, 6] and [10, 1, 1] are leaks.
    return all(d >= 1 for d in deltas)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not _CONFIG:
        return None
    func = pyfuncitem.obj
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    warmup, runs = _CONFIG["warmup"], _CONFIG["runs"]
    _cap_examples(func, _CONFIG["max_examples"])
    # As regrtest: everything the measuring loop keeps is allocated before
    # it starts, and the deltas it keeps come from a pool, so that the
    # measurement itself neither allocates nor takes references per run
    # (each new reading replaces, and frees, the previous one).
    pool: dict[int, int] = {}
    ref_deltas = [0] * runs
    block_deltas = [0] * runs
    refs_before = blocks_before = 0
    for i in range(warmup + runs):
        func(**args)
        _forget_captured_logs(pyfuncitem.config)
        _clear_caches()
        blocks_after = sys.getallocatedblocks() - _quickened()
        refs_after = sys.gettotalrefcount()
        if i >= warmup:
            ref_deltas[i - warmup] = pool.setdefault(refs_after - refs_before, refs_after - refs_before)
            block_deltas[i - warmup] = pool.setdefault(blocks_after - blocks_before, blocks_after - blocks_before)
        refs_before, blocks_before = refs_after, blocks_after
    problems = []
    if _leaked(ref_deltas):
        problems.append(f"leaked references: {ref_deltas} (sum {sum(ref_deltas)})")
    if _leaked(block_deltas):
        problems.append(f"leaked memory blocks: {block_deltas} (sum {sum(block_deltas)})")
    pyfuncitem.user_properties.append(("refleak_refs", ref_deltas))
    pyfuncitem.user_properties.append(("refleak_blocks", block_deltas))
    if problems:
        pytest.fail(f"{pyfuncitem.nodeid}: " + "; ".join(problems), pytrace=False)
    return True
