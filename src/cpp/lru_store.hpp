// The LRU store: an open-addressing hash table over a dense entry array, with
// the recency list threaded through the entries by index.
//
// Why not a dict plus link objects, as functools does: an entry here is 32
// bytes in one array (hash, key, value, two 32-bit links) plus a 4-byte index
// slot, with no per-entry Python object, so a cached entry costs well under
// half of what functools spends, and a hit touches two cache lines.
//
// Invariants (every public operation keeps them on return):
//  * entries_[0, size_) are live; index_ maps each to one slot on its probe
//    sequence (linear probing from home(hash)); empty slots hold kEmpty;
//    load is at most 2/3, so every probe ends at an empty slot.
//  * head_/tail_ and prev/next form a doubly linked list of all live entries,
//    most recently used first.
//  * version_ changes whenever entries or slots move, are added or removed.
//    find() runs user __eq__, which may re-enter and mutate this table (or
//    let another thread do so): it re-validates with version_ and restarts.
//  * No operation releases a reference while the table is inconsistent:
//    a decref can run __del__ or a weakref callback that re-enters the cache.
//    Released references go to a Graveyard freed by the caller afterwards.
//  * Memory comes from PyMem_* so that tracemalloc accounts for it.
#pragma once
#include "key.hpp"

#include <cstdint>
#include <cstring>

namespace bc {

// References taken out of a table, released when the graveyard goes out of
// scope (after the table is consistent again).
class Graveyard {
public:
    Graveyard() noexcept = default;
    Graveyard(const Graveyard&) = delete;
    Graveyard& operator=(const Graveyard&) = delete;
    ~Graveyard() { release(); }

    // Takes ownership of `block`, an array of `n` entries' references
    // (key, value pairs) allocated by PyMem_Malloc.
    void bury_block(void* block, struct Entry* entries, uint32_t n);
    void bury(PyObject* a, PyObject* b) noexcept {
        if (n_single_ < 4) {
            single_[n_single_++] = a;
            single_[n_single_++] = b;
        } else {  // never more than one eviction per operation; keep it safe anyway
            Py_XDECREF(a);
            Py_XDECREF(b);
        }
    }
    void release() noexcept;

private:
    PyObject* single_[4] = {};
    int n_single_ = 0;
    struct Block {
        void* mem;
        Entry* entries;
        uint32_t n;
    };
    Block* blocks_ = nullptr;
    uint32_t n_blocks_ = 0, cap_blocks_ = 0;
};

struct Entry {
    Py_hash_t hash;
    PyObject* key;    // owned
    PyObject* value;  // owned
    uint32_t prev;    // towards the most recently used
    uint32_t next;    // towards the least recently used
};

class Table {
public:
    static constexpr int64_t kNotFound = -1;
    static constexpr int64_t kError = -2;
    static constexpr uint32_t kNil = UINT32_MAX;

    Table() noexcept = default;
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    ~Table() {
        Graveyard g;
        take_all(g);
    }

    Py_ssize_t size() const noexcept { return size_; }

    // Index of the entry whose key equals `key`, kNotFound, or kError.
    template <class Key>
    int64_t find(const Key& key, Py_hash_t hash) {
    restart:
        if (size_ == 0) return kNotFound;
        for (uint32_t slot = home(hash);; slot = (slot + 1) & mask_) {
            int32_t ix = index_[slot];
            if (ix < 0) return kNotFound;
            const Entry& e = entries_[ix];
            if (e.hash != hash) continue;
            if (e.key == key.bare() && e.key) return ix;
            Ref stored = Ref::borrow(e.key);  // __eq__ may evict it
            uint64_t version = version_;
            int eq = key.equals(stored.get());
            if (eq < 0) return kError;
            if (version != version_) goto restart;
            if (eq) return ix;
        }
    }

    PyObject* value_at(int64_t ix) const noexcept { return entries_[ix].value; }

    void move_to_front(uint32_t ix) noexcept {
        if (head_ == ix) return;
        unlink(ix);
        link_front(ix);
    }

    // Inserts a key known to be absent (find() returned kNotFound with no
    // user code run since). Steals `key` and `value`. With maxsize > 0 and the
    // table full, the least recently used entry is evicted into `graveyard`.
    // Returns false with MemoryError set (key and value then released).
    bool insert(Py_hash_t hash, PyObject* key, PyObject* value, Py_ssize_t maxsize,
                Graveyard& graveyard);

    // Moves every reference into `graveyard` and empties the table.
    void take_all(Graveyard& graveyard) noexcept;

    int traverse(visitproc visit, void* arg) const {
        for (uint32_t i = 0; i < size_; i++) {
            Py_VISIT(entries_[i].key);
            Py_VISIT(entries_[i].value);
        }
        return 0;
    }

    // Calls f(key, value) for each entry, most recently used first. f must
    // not run user code that could mutate the table.
    template <class F>
    void for_each(F&& f) const {
        for (uint32_t ix = head_; ix != kNil; ix = entries_[ix].next) f(entries_[ix].key, entries_[ix].value);
    }

    // Statistics, as functools counts them.
    Py_ssize_t hits() const noexcept { return hits_; }
    Py_ssize_t misses() const noexcept { return misses_; }
    void count_hit() noexcept { hits_++; }
    void count_miss() noexcept { misses_++; }
    void reset_stats() noexcept { hits_ = misses_ = 0; }

private:
    uint32_t home(Py_hash_t hash) const noexcept {
        // Fibonacci hashing: Python's int hashes are the ints themselves, so
        // use the well-mixed high bits rather than the low ones.
        return (uint32_t)(((uint64_t)hash * 0x9E3779B97F4A7C15ULL) >> shift_);
    }
    void unlink(uint32_t ix) noexcept {
        Entry& e = entries_[ix];
        if (e.prev != kNil) entries_[e.prev].next = e.next; else head_ = e.next;
        if (e.next != kNil) entries_[e.next].prev = e.prev; else tail_ = e.prev;
    }
    void link_front(uint32_t ix) noexcept {
        Entry& e = entries_[ix];
        e.prev = kNil;
        e.next = head_;
        if (head_ != kNil) entries_[head_].prev = ix; else tail_ = ix;
        head_ = ix;
    }
    void place_in_index(uint32_t ix) noexcept;
    void remove_from_index(uint32_t ix) noexcept;
    bool grow(Py_ssize_t maxsize);

    void* block_ = nullptr;  // one allocation: index slots, then entries
    int32_t* index_ = nullptr;
    Entry* entries_ = nullptr;
    uint32_t size_ = 0;
    uint32_t capacity_ = 0;  // entries that fit before growing
    uint32_t mask_ = 0;      // index slots - 1
    uint32_t shift_ = 64;
    uint32_t head_ = kNil;
    uint32_t tail_ = kNil;
    uint64_t version_ = 0;
    Py_ssize_t hits_ = 0;
    Py_ssize_t misses_ = 0;
};

}  // namespace bc
