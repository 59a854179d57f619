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
many instances it pins and what they hold. The check keeps no reference to
any object: it remembers identities only.

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
    __slots__ = ("before", "reported")

    def __init__(self, before: dict[int, int]):
        self.before = before
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
    parser.addini(
        "boundcache_leaks",
        type="bool",
        default=False,
        help="check every test as --boundcache-leaks does.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


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
        from boundcache._audit._leaks import snapshot

        # Before the fixtures: what they create belongs to the test.
        item.stash[_STATE] = _State(snapshot())
    yield


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
        del item.stash[_STATE]
        return
    if call.when == "setup":
        return
    from boundcache._audit._leaks import find

    try:
        if call.when == "call":
            # The test function has returned; its fixtures' values are still alive.
            leaks = find(state.before, state.reported, phase="test")
        else:
            del item.stash[_STATE]
            # The fixtures are finalized; pytest drops their values (funcargs)
            # right after this report, so their references do not count.
            funcargs = getattr(item, "funcargs", None)
            forget = (funcargs,) if isinstance(funcargs, dict) else ()
            leaks = find(state.before, state.reported, forget, phase="test or its fixtures")
    except Exception as e:  # a failure of the check: this test's, not the session's
        import traceback

        report.outcome = "failed"
        details = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        report.longrepr = "boundcache: the leak check failed:\n" + details
        return
    if leaks is not None:
        state.reported |= leaks.ids
        report.outcome = "failed"
        report.longrepr = leaks.message
