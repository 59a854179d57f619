"""The wait of single-flight computations (the C++ core's flight_gate.hpp):
``lock=True`` misses and ``cached_property``'s first read. One thread
computes; others that want the same result wait for it to finish.

The computing thread takes the gate's lock when the gate is made and releases
it in ``finish()``; a waiter takes and releases it in turn, the GIL released
meanwhile. (The C++ core makes the lock only when a first waiter comes,
which needs no user code and no thread switch between looking and filing;
Python code can be switched anywhere, so the lock is made up front.)

Fork: every unfinished gate is in one process-wide table, so that a forked
child, where only the forking thread lives on, can finish the gates whose
computing thread is gone (nobody would ever finish them, and the child would
wait on their key forever) and take them out of where later callers find
them (``detach``).
"""

from __future__ import annotations

from _thread import allocate_lock, get_ident

# id -> gate: the gates whose computation has not finished.
_unfinished: dict = {}


class FlightGate:
    __slots__ = ("detach", "finished", "lock", "orphaned", "thread")

    def __init__(self, detach) -> None:
        self.thread = get_ident()
        self.lock = allocate_lock()
        self.lock.acquire()
        self.finished = False
        self.orphaned = (
            False  # finished by a fork that its computing thread did not survive
        )
        self.detach = detach  # detach(gate): take it out of where callers find it
        _unfinished[id(self)] = self

    def computing_here(self) -> bool:
        return self.thread == get_ident()

    def wait(self) -> None:
        """Blocks until finish() (at once if it already ran)."""
        lock = self.lock
        lock.acquire()
        lock.release()  # the next waiter's turn

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        _unfinished.pop(id(self), None)
        self.lock.release()


def after_fork_child() -> None:
    """In a forked child: finish and detach the gates of threads that did not survive."""
    for gate in list(_unfinished.values()):
        if gate.computing_here():
            continue  # a computation further up this thread's own stack
        gate.orphaned = True
        gate.detach(gate)
        # The old lock is copied in whatever state the parent's threads left
        # it: a new one, held as the computing thread's was, for finish() to
        # release (releasing an unheld lock raises, which ended this loop and
        # left the gates after it unfinished).
        lock = allocate_lock()
        lock.acquire()
        gate.lock = lock
        gate.finish()
