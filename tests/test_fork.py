"""os.fork() while other threads compute (issue 15 item 7).

A fork keeps only the forking thread. A computation that another thread had
in progress (a lock=True miss, a cached_property first read) would never
finish in the child, and the child would wait for it forever: the child must
start with no computation in flight but its own. Every child reports through
its exit status; the parent gives it a generous deadline, so that a deadlock
fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
import warnings
import weakref

import pytest

import boundcache
from cores import PURE

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

DEADLINE = 60  # seconds: only ever reached when the child deadlocked


def fork():
    with warnings.catch_warnings():
        # 3.12+: "This process is multi-threaded, use of fork() may lead to deadlocks".
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def finish_child(check):
    """In the child: exit 0 if check() is true, else 1 (2 if it raised). Never returns."""
    code = 2
    try:
        code = 0 if check() else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait_for_child(pid):
    deadline = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child deadlocked: it waited for a computation of a thread that the fork left behind")
        time.sleep(0.02)
    assert os.WIFEXITED(status), status
    assert os.WEXITSTATUS(status) == 0, "the child's check failed (1) or raised (2)"


class Key:
    """A key= result that nothing but the cache and the calls' C code holds."""

    made: list[Key] = []

    def __init__(self, value):
        self.value = value
        Key.made.append(self)

    def __hash__(self):
        return hash(self.value)

    def __eq__(self, other):
        return isinstance(other, Key) and other.value == self.value


class Computing:
    """A thread that starts a computation and blocks in it until released."""

    def __init__(self, compute):
        self.inside, self.release = threading.Event(), threading.Event()
        self.results = []
        self.thread = threading.Thread(target=lambda: self.results.append(compute()))

    def body(self, value):
        """Call from the computation: blocks (with the GIL released) until released."""
        self.inside.set()
        assert self.release.wait(DEADLINE)
        return value

    def start(self):
        self.thread.start()
        assert self.inside.wait(DEADLINE)

    def finish(self):
        self.release.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


def test_lock_true_miss_of_another_thread_is_dropped_in_the_child():
    Key.made.clear()
    runs = []

    @boundcache.lru_cache(lock=True, key=lambda x: Key(x))
    def f(x):
        runs.append(os.getpid())
        if os.getpid() == parent:
            return computing.body(("parent", x))
        return ("child", x)

    parent = os.getpid()
    computing = Computing(lambda: f(1))
    computing.start()
    key = Key.made[0]
    refs_before = None if PURE else sys.getrefcount(key)  # exact counts: the C++ core's (PyPy has none)
    pid = fork()
    if pid == 0:
        # The flight released its key: only the vanished thread's own
        # reference (on its C stack) is left of the call. (The pure core's
        # call is Python frames of that thread, which hold references of
        # their own: exact counts are the C++ core's.)
        finish_child(
            lambda: (PURE or sys.getrefcount(key) == refs_before - 1) and f(1) == ("child", 1) and f(1) == ("child", 1)
        )
    computing.finish()
    wait_for_child(pid)
    assert computing.results == [("parent", 1)] and f(1) == ("parent", 1)
    assert runs == [parent]


def test_lock_true_waiters_of_another_thread_are_dropped_in_the_child():
    @boundcache.lru_cache(lock=True)
    def f(x):
        if os.getpid() == parent:
            return computing.body(("parent", x))
        return ("child", x)

    parent = os.getpid()
    computing = Computing(lambda: f(1))
    computing.start()
    waiting = []
    waiters = [threading.Thread(target=lambda: waiting.append(f(1))) for _ in range(3)]
    for t in waiters:
        t.start()
    time.sleep(0.05)  # lets the waiters block (not needed for the child to pass)
    pid = fork()
    if pid == 0:
        finish_child(lambda: f(1) == ("child", 1) and f(2) == ("child", 2))
    computing.finish()
    for t in waiters:
        t.join(DEADLINE)
    wait_for_child(pid)
    assert waiting == [("parent", 1)] * 3


def test_lock_true_misses_of_two_other_threads_are_both_dropped_in_the_child():
    # The pure core once stopped at the first flight it dropped (releasing the
    # unheld lock it had just made raised in the fork hook): the child then
    # waited forever for the second.
    release, inside = threading.Event(), [threading.Event(), threading.Event()]

    @boundcache.lru_cache(lock=True)
    def f(x):
        if os.getpid() == parent:
            inside[x].set()
            assert release.wait(DEADLINE)
            return ("parent", x)
        return ("child", x)

    parent = os.getpid()
    computing = [threading.Thread(target=f, args=(x,)) for x in (0, 1)]
    for t in computing:
        t.start()
    for e in inside:
        assert e.wait(DEADLINE)
    pid = fork()
    if pid == 0:
        finish_child(lambda: f(0) == ("child", 0) and f(1) == ("child", 1))
    release.set()
    for t in computing:
        t.join(DEADLINE)
    wait_for_child(pid)
    assert f(0) == ("parent", 0) and f(1) == ("parent", 1)


def test_a_fork_inside_the_computation_finishes_it_in_the_child():
    # The forking thread's own computation lives on in the child, and ends
    # as usual; the waiter of another thread is gone, and so is its
    # reference to the flight, which then frees its key.
    Key.made.clear()
    forked, compared = [], threading.Event()

    class Compared(Key):
        __hash__ = Key.__hash__

        def __eq__(self, other):
            compared.set()  # the waiter then blocks, with no Python code in between
            return super().__eq__(other)

    @boundcache.lru_cache(lock=True, key=lambda x: Compared(x))
    def f(x):
        waiter.start()
        assert compared.wait(DEADLINE)
        forked.append(fork())
        return [os.getpid(), x]

    def in_child():
        if not (result[0] == os.getpid() and f(1) is result and f.cache_info().currsize == 1):
            return False
        key = weakref.ref(Key.made[0])  # the key of the computation
        Key.made.clear()
        f.cache_clear()
        # The pure core's waiter was Python frames of the vanished thread,
        # which CPython never releases in the child: they keep the key.
        return PURE or key() is None

    waiter = threading.Thread(target=lambda: f(1))
    parent = os.getpid()
    result = f(1)
    if os.getpid() != parent:
        finish_child(in_child)
    waiter.join(DEADLINE)
    wait_for_child(forked[0])
    assert result == [parent, 1] and f(1) is result


def test_a_waiter_that_forks_while_comparing_keys_computes_in_the_child():
    # The forking thread was looking at another thread's flight (its key's
    # __eq__ forked): in the child that flight is gone, and the call computes.
    forked, armed = [], []

    class Forking:
        def __init__(self, value):
            self.value = value

        def __hash__(self):
            return hash(self.value)

        def __eq__(self, other):
            if armed and not forked:
                forked.append(fork())
                if forked[0] != 0:
                    computing.release.set()  # the parent goes on to wait for it
            return self.value == other.value

    @boundcache.lru_cache(lock=True, key=lambda k: k)
    def f(k):
        if os.getpid() == parent:
            return computing.body(("parent", k.value))
        return ("child", k.value)

    parent = os.getpid()
    computing = Computing(lambda: f(Forking(1)))
    computing.start()
    armed.append(True)
    result = f(Forking(1))
    if os.getpid() != parent:
        finish_child(lambda: result == ("child", 1) and f(Forking(1)) == ("child", 1))
    computing.finish()
    wait_for_child(forked[0])
    assert result == ("parent", 1) and computing.results == [("parent", 1)]


@pytest.mark.parametrize("slots", [None, ("__weakref__",)])
def test_cached_property_first_read_of_another_thread_is_dropped_in_the_child(slots):
    def value(self):
        if os.getpid() == parent:
            return computing.body("parent")
        return "child"

    namespace = {"value": boundcache.cached_property(value)}
    if slots:
        namespace["__slots__"] = slots
    Owner = type("Owner", (), namespace)
    parent = os.getpid()
    owner = Owner()
    computing = Computing(lambda: owner.value)
    computing.start()
    waiter = threading.Thread(target=lambda: owner.value)
    waiter.start()
    time.sleep(0.05)  # lets the waiter block (not needed for the child to pass)
    pid = fork()
    if pid == 0:
        finish_child(lambda: owner.value == "child" and owner.value == "child" and Owner().value == "child")
    computing.finish()
    waiter.join(DEADLINE)
    wait_for_child(pid)
    assert owner.value == "parent" and computing.results == ["parent"]


def test_cached_property_read_that_forks_finishes_in_the_child():
    forked = []

    class Owner:
        @boundcache.cached_property
        def value(self):
            waiter.start()
            time.sleep(0.05)  # lets the waiter block on this read
            forked.append(fork())
            return [os.getpid()]

    owner = Owner()
    waiter = threading.Thread(target=lambda: owner.value)
    parent = os.getpid()
    result = owner.value
    if os.getpid() != parent:
        finish_child(lambda: result == [os.getpid()] and owner.value is result)
    waiter.join(DEADLINE)
    wait_for_child(forked[0])
    assert result == [parent] and owner.value is result
