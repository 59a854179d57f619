"""pytest plugin: fail tests that leave instances pinned by a cache.

Registered through the ``pytest11`` entry point, so it is loaded wherever
boundcache is installed, but it does nothing unless asked:

- ``pytest --boundcache-leaks``, or ``boundcache_leaks = true`` in the ini
  file, checks every test;
- ``@pytest.mark.boundcache_leaks`` checks one test, and
  ``@pytest.mark.boundcache_leaks(False)`` exempts one.

A checked test fails when, after it, instances created during it (by the
test or its fixtures) are kept alive only by a cache, functools' or
boundcache's (see ``boundcache.audit()``); the failure names each cache, how
many instances it pins and what they hold.

Values in bounded caches do not fail a test: instances hashed and compared
by value (tuples, named tuples, frozen dataclasses, classes defining both
``__eq__`` and ``__hash__``) kept by a cache with a ``maxsize`` share entries
with equal values on purpose, and the cache's size bounds them. They are
reported in the test's output and in a summary at the end of the run;
``--boundcache-strict`` (ini ``boundcache_strict = true``) fails on them too.
Unbounded caches and identity-hashed owners fail as always.

The check keeps no reference to any object, and costs what the test made,
not what the process holds: it freezes the objects that exist before the
test (``gc.freeze``), so that only the test's own are looked at (see
``boundcache._audit._leaks``).

This module imports nothing but pytest at startup; the audit is imported by
the first checked test.
"""

from __future__ import annotations

import pytest

_STATE = pytest.StashKey["_State"]()

_MARKER = (
    "boundcache_leaks(enabled=True): fail this test if instances it created stay pinned by a "
    "cache (as --boundcache-leaks does for every test); boundcache_leaks(False) exempts it."
)


class _State:
    __slots__ = ("window", "reported")

    def __init__(self, window):
        self.window = window  # _leaks.Window: what the test makes
        self.reported: set[int] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("boundcache")
    group.addoption(
        "--boundcache-leaks",
        action="store_true",
        default=False,
        dest="boundcache_leaks",
        help="fail a test after which instances it created are still pinned by a cache "
        "(functools.lru_cache/cache on a method, or boundcache's weak table).",
    )
    group.addoption(
        "--boundcache-strict",
        action="store_true",
        default=False,
        dest="boundcache_strict",
        help="with --boundcache-leaks: also fail on values (tuples, named tuples, frozen "
        "dataclasses...) kept by bounded caches, which are otherwise only reported.",
    )
    parser.addini(
        "boundcache_strict",
        type="bool",
        default=False,
        help="fail on values kept by bounded caches too, as --boundcache-strict does.",
    )
    parser.addini(
        "boundcache_leaks",
        type="bool",
        default=False,
        help="check every test as --boundcache-leaks does.",
    )


_VALUES = pytest.StashKey["list[tuple[str, str]]"]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    config.stash[_VALUES] = []


def _strict(config: pytest.Config) -> bool:
    return bool(config.getoption("boundcache_strict", False) or config.getini("boundcache_strict"))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    values = config.stash.get(_VALUES, [])
    if not values:
        return
    terminalreporter.write_sep("=", "boundcache: values kept by bounded caches (not failures)")
    for nodeid, text in values:
        terminalreporter.write_line(nodeid)
        for line in text.splitlines()[1:]:
            terminalreporter.write_line(line)


def _enabled(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("boundcache_leaks")
    if marker is not None:
        if marker.args:
            return bool(marker.args[0])
        return bool(marker.kwargs.get("enabled", True))
    config = item.config
    return bool(config.getoption("boundcache_leaks", False) or config.getini("boundcache_leaks"))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    if _enabled(item):
        from boundcache._audit._leaks import Window

        # Before the fixtures: what they create belongs to the test.
        item.stash[_STATE] = _State(Window())
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    yield
    _finish(item)  # whatever happened in between (an interrupted teardown...)


def _finish(item: pytest.Item) -> None:
    state = item.stash.get(_STATE, None)
    if state is not None:
        del item.stash[_STATE]
        state.window.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    state = item.stash.get(_STATE, None)
    if state is None:
        return
    report = outcome.get_result()
    if not report.passed or hasattr(report, "wasxfail"):
        # Failed, skipped or xfailed: its traceback holds the test's objects,
        # and there is nothing to add to a failure.
        _finish(item)
        return
    if call.when == "setup":
        return
    from boundcache._audit._leaks import find

    strict = _strict(item.config)
    try:
        if call.when == "call":
            # The test function has returned; its fixtures' values are still alive.
            leaks = find(state.window, state.reported, phase="test", strict=strict)
        else:
            # The fixtures are finalized; pytest drops their values (funcargs)
            # right after this report, so their references do not count.
            funcargs = getattr(item, "funcargs", None)
            forget = (funcargs,) if isinstance(funcargs, dict) else ()
            leaks = find(state.window, state.reported, forget, phase="test or its fixtures", strict=strict)
    except Exception as e:  # a failure of the check: this test's, not the session's
        import traceback

        report.outcome = "failed"
        details = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        report.longrepr = "boundcache: the leak check failed:\n" + details
        return
    finally:
        if call.when == "teardown":
            _finish(item)
    if leaks is not None:
        state.reported |= leaks.ids
        if leaks.values:
            report.sections.append(("boundcache values", leaks.values))
            item.config.stash[_VALUES].append((item.nodeid, leaks.values))
        if leaks.message:
            report.outcome = "failed"
            report.longrepr = leaks.message
