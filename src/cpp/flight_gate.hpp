// The wait of single-flight computations (lock=True calls, cached_property's
// first read): one thread computes, others that want the same result wait
// for it to finish.
#pragma once
#include "pyref.hpp"

#include <pythread.h>

namespace bc {

class FlightGate;

// What the kind of flight that embeds a gate does at a fork (see
// FlightGate::after_fork_child). Both run in the child, with the GIL.
struct FlightKind {
    // The computing thread did not survive the fork: remove the flight from
    // the container where later readers would find it. Runs no user code and
    // frees nothing (the dead thread's references are still counted).
    void (*detach)(FlightGate* gate);
    // Drop `refs` references to the flight that threads gone with the fork
    // held. May free the flight (and the gate) and run user code.
    void (*release)(FlightGate* gate, int refs);
};

// Every member is used with the GIL held; wait() releases it only around
// the blocking acquire.
//
// Most computations are never waited for, so the computing thread makes no
// lock: the first waiter makes one and takes it on the computing thread's
// behalf, and finish() releases it (a PyThread lock is a binary semaphore,
// any thread may release it). Making, taking and freeing a lock on every
// lock=True miss cost about 350 instructions. A waiter that reaches
// wait() after finish() (it compared keys first, which runs user code, and
// that may switch threads) returns at once instead of taking a lock that
// nobody would release.
//
// Fork: every unfinished gate is in one process-wide list, so that a forked
// child, where only the forking thread lives on, can finish the gates whose
// computing thread is gone (orphaned: nobody would ever finish them, and the
// child would wait on their key forever) and drop the references that the
// vanished threads held. Linking costs a few stores per computation.
class FlightGate {
public:
    explicit FlightGate(const FlightKind* kind) noexcept : thread_(PyThread_get_thread_ident()), kind_(kind) {
        next_ = head();
        if (next_) next_->prev_ = this;
        head() = this;
    }
    FlightGate(const FlightGate&) = delete;
    FlightGate& operator=(const FlightGate&) = delete;
    ~FlightGate() {
        unlink();
        if (lock_) PyThread_free_lock(lock_);
    }

    bool computing_here() const noexcept { return thread_ == PyThread_get_thread_ident(); }

    // Finished by a fork that its computing thread did not survive: there is
    // no outcome; look again (and compute).
    bool orphaned() const noexcept { return orphaned_; }

    // Blocks until finish(). false with MemoryError set.
    bool wait() noexcept {
        if (finished_) return true;
        if (!lock_) {
            lock_ = PyThread_allocate_lock();
            if (!lock_) {
                PyErr_NoMemory();
                return false;
            }
            PyThread_acquire_lock(lock_, NOWAIT_LOCK);  // fresh: always succeeds
        }
        // Counted while blocked, so that a fork can release the flight
        // reference of each waiter it leaves behind (every waiter holds one).
        waiters_++;
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(lock_, WAIT_LOCK);
        PyThread_release_lock(lock_);  // the next waiter's turn
        Py_END_ALLOW_THREADS
        waiters_--;
        return true;
    }

    void finish() noexcept {
        unlink();
        if (lock_) PyThread_release_lock(lock_);
    }

    // Run in the child after os.fork() (os.register_at_fork, from the
    // package). Only the forking thread lives on, and it cannot be blocked in
    // wait(): every thread counted in waiters_ is gone. A gate of another
    // thread is orphaned; one of this thread is a computation further up its
    // own stack, which finishes as usual. Every orphan is finished and
    // detached first, with no user code, so that code run by the releases
    // finds none still filed; then the vanished threads' references go.
    // (A waiter that was still comparing keys, in user code, when the fork
    // came holds a reference that no count records: it stays, as whatever
    // else the vanished threads held.)
    static void after_fork_child() noexcept {
        FlightGate* orphans = nullptr;
        for (FlightGate* gate = head(); gate;) {
            FlightGate* next = gate->next_;
            if (gate->computing_here()) {
                gate->dead_refs_ = gate->waiters_;
            } else {
                gate->unlink();
                gate->orphaned_ = true;
                if (gate->lock_) {
                    // Copied in whatever state the parent's threads left it;
                    // no thread of the child waits on it.
                    PyThread_free_lock(gate->lock_);
                    gate->lock_ = nullptr;
                }
                gate->kind_->detach(gate);
                gate->dead_refs_ = gate->waiters_ + 1;  // and the computing thread's
                gate->next_ = orphans;                  // unlinked: next_ now chains the orphans
                orphans = gate;
            }
            gate->waiters_ = 0;
            gate = next;
        }
        while (FlightGate* gate = orphans) {
            orphans = gate->next_;
            gate->next_ = nullptr;
            gate->kind_->release(gate, gate->dead_refs_);  // may free gate
        }
        // The releases may run code that starts and finishes computations of
        // this thread: look for the survivors again after each.
        for (;;) {
            FlightGate* gate = head();
            while (gate && gate->dead_refs_ == 0) gate = gate->next_;
            if (!gate) break;
            int refs = gate->dead_refs_;
            gate->dead_refs_ = 0;
            gate->kind_->release(gate, refs);  // frees nothing: the computing thread's reference remains
        }
    }

private:
    static FlightGate*& head() noexcept {
        static FlightGate* first = nullptr;
        return first;
    }

    void unlink() noexcept {
        if (!linked()) return;
        if (prev_) {
            prev_->next_ = next_;
        } else {
            head() = next_;
        }
        if (next_) next_->prev_ = prev_;
        prev_ = next_ = nullptr;
        finished_ = true;  // and no longer linked
    }

    bool linked() const noexcept { return !finished_; }

    PyThread_type_lock lock_ = nullptr;  // made by the first waiter; held until finish()
    unsigned long thread_;               // the computing thread
    const FlightKind* kind_;
    FlightGate* prev_ = nullptr;  // the process-wide list of unfinished gates
    FlightGate* next_ = nullptr;
    int waiters_ = 0;    // threads blocked in wait()
    int dead_refs_ = 0;  // after a fork: references of vanished waiters, not yet released
    bool finished_ = false;
    bool orphaned_ = false;
};

}  // namespace bc
