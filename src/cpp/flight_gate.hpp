// The wait of single-flight computations (lock=True calls, cached_property's
// first read): one thread computes, others that want the same result wait
// for it to finish.
#pragma once
#include "pyref.hpp"

#include <pythread.h>

namespace bc {

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
class FlightGate {
public:
    FlightGate() noexcept : thread_(PyThread_get_thread_ident()) {}
    FlightGate(const FlightGate&) = delete;
    FlightGate& operator=(const FlightGate&) = delete;
    ~FlightGate() {
        if (lock_) PyThread_free_lock(lock_);
    }

    bool computing_here() const noexcept { return thread_ == PyThread_get_thread_ident(); }

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
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(lock_, WAIT_LOCK);
        PyThread_release_lock(lock_);  // the next waiter's turn
        Py_END_ALLOW_THREADS
        return true;
    }

    void finish() noexcept {
        finished_ = true;
        if (lock_) PyThread_release_lock(lock_);
    }

private:
    PyThread_type_lock lock_ = nullptr;  // made by the first waiter; held until finish()
    unsigned long thread_;               // the computing thread
    bool finished_ = false;
};

}  // namespace bc
