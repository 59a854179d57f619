// The LRU store: an open-addressing hash table over a dense entry array, with
// the recency list threaded through the entries by index.
//
// Why not a dict plus link objects, as functools does: an entry here is 24
// bytes (hash, key, value) in one array, plus, for bounded caches only, 8
// bytes of 32-bit recency links in a parallel array, plus a 2-byte index slot
// (4 bytes past 65536 slots). There is no per-entry Python object, so a
// bounded entry costs well under half of what functools spends, an unbounded
// one no more than a dict entry, and a hit touches two or three cache lines.
// Capacity follows dict's schedule: the index has a power-of-two number of
// slots and holds at most 2/3 as many entries.
//
// Invariants (every public operation keeps them on return):
//  * entries_[0, size_) are live; the index maps each to one slot on its probe
//    sequence (home(hash), then next_slot(): linear when linear_, dict's
//    perturbed sequence otherwise, see home()); empty slots hold all ones;
//    load is at most 2/3, so every probe ends at an empty slot.
//  * for bounded tables, head_/tail_ and links_ form a doubly linked list of
//    all live entries, most recently used first.
//  * layout_ changes whenever the arrays are reallocated or emptied. find()
//    runs user __eq__, which may re-enter and mutate this table (or let
//    another thread do so). Like CPython's dict, it then restarts only if
//    the layout changed or the entry it compared is no longer in its slot:
//    entries added or evicted elsewhere do not disturb the probe (a
//    backward shift that would move earlier slots also moves this entry).
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
        if (n_single_ + 2 <= kSingles) {
            single_[n_single_++] = a;
            single_[n_single_++] = b;
        } else {
            spill(a, b);
        }
    }
    void release() noexcept {
        if (n_single_ || has_first_ || n_extra_) release_all();
    }

private:
    void release_all() noexcept;
    void spill(PyObject* a, PyObject* b) noexcept;
    static constexpr int kSingles = 8;  // an eviction, a replaced value, two small tables
    PyObject* single_[kSingles] = {};
    int n_single_ = 0;
    struct Block {
        void* mem;
        Entry* entries;
        uint32_t n;
    };
    Block first_{};  // most operations bury at most one block: no allocation for it
    bool has_first_ = false;
    Block* blocks_ = nullptr;
    uint32_t n_blocks_ = 0, cap_blocks_ = 0;
    PyObject** extra_ = nullptr;  // singles beyond the inline room
    size_t n_extra_ = 0, cap_extra_ = 0;
};

struct Entry {
    Py_hash_t hash;
    PyObject* key;    // owned
    PyObject* value;  // owned
};

struct Links {
    uint32_t prev;  // towards the most recently used
    uint32_t next;  // towards the least recently used
};

class Table;

// Recency order across every table of one cached method, for max_total: one
// node per entry, in a pool owned by the wrapper. A table with a TotalLru
// keeps each entry's node id and keeps the node's (table, index) current as
// entries are added, moved and removed, so that the wrapper can evict the
// least recently used entry of all its instances' caches.
class TotalLru {
public:
    static constexpr uint32_t kNil = UINT32_MAX;
    TotalLru() noexcept = default;
    TotalLru(const TotalLru&) = delete;
    TotalLru& operator=(const TotalLru&) = delete;
    ~TotalLru() { PyMem_Free(nodes_); }

    // A new most recently used node; kNil with MemoryError set.
    uint32_t push_front(Table* table, uint32_t ix);
    void touch(uint32_t node) noexcept {
        if (head_ == node) return;
        unlink(node);
        link_front(node);
    }
    void remove(uint32_t node) noexcept {
        unlink(node);
        nodes_[node].next = free_;
        free_ = node;
        count_--;
    }
    void moved(uint32_t node, uint32_t ix) noexcept { nodes_[node].ix = ix; }
    size_t count() const noexcept { return count_; }
    // The least recently used entry of all tables (count() > 0).
    Table* tail_table() const noexcept { return nodes_[tail_].table; }
    uint32_t tail_index() const noexcept { return nodes_[tail_].ix; }

private:
    struct Node {
        Table* table;
        uint32_t ix;
        uint32_t prev, next;  // next also chains the free list
    };
    void unlink(uint32_t n) noexcept {
        Node& x = nodes_[n];
        if (x.prev != kNil) nodes_[x.prev].next = x.next; else head_ = x.next;
        if (x.next != kNil) nodes_[x.next].prev = x.prev; else tail_ = x.prev;
    }
    void link_front(uint32_t n) noexcept {
        nodes_[n].prev = kNil;
        nodes_[n].next = head_;
        if (head_ != kNil) nodes_[head_].prev = n; else tail_ = n;
        head_ = n;
    }
    Node* nodes_ = nullptr;
    uint32_t cap_ = 0, used_ = 0;  // nodes [0, used_) have been handed out once
    uint32_t free_ = kNil, head_ = kNil, tail_ = kNil;
    size_t count_ = 0;
};

class Table {
public:
    static constexpr int64_t kNotFound = -1;
    static constexpr int64_t kError = -2;
    static constexpr uint32_t kNil = UINT32_MAX;

    Table() noexcept = default;

    // Room for a first, small layout inside the owning object (kSmallBytes,
    // aligned for Entry): a cache that never holds more than two entries,
    // as most per-instance caches, then needs no allocation of its own.
    static constexpr uint32_t kSmallSlots = 4;
    static constexpr uint32_t kSmallCapacity = 2;
    static constexpr size_t kSmallBytes = kSmallCapacity * (sizeof(Entry) + sizeof(Links)) + kSmallSlots * 2;
    void set_small_block(void* small) noexcept { small_ = small; }
    // A cache made for a call that is about to insert (a fresh instance's
    // first call) takes the small layout at once, so that its first insert
    // does not go through grow().
    void prepare_small(Py_ssize_t maxsize) noexcept {
        if (!block_ && small_) use_small_layout(maxsize);
    }

    // Options of wrappers made with ttl= or max_total=, set before the first
    // insert: a deadline per entry, and/or a node in the wrapper's TotalLru.
    // Such tables do not use the small layout.
    void enable_options(bool deadlines, TotalLru* total) noexcept {
        timed_ = deadlines;
        total_ = total;
        if (timed_ || total_) small_ = nullptr;
    }
    // Forgets the TotalLru of a wrapper that died (the table is empty then).
    void detach_total() noexcept { total_ = nullptr; }
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
        return linear_ ? find_as<true>(key, hash) : find_as<false>(key, hash);
    }
    // find() for a caller that knows which probing the table most likely
    // uses (bounded tables always probe linearly; unbounded ones unless they
    // lost an entry), so that the lookup computes only that home(). Right
    // whatever the table uses.
    template <bool Linear, class Key>
    int64_t find_as(const Key& key, Py_hash_t hash) {
        for (;;) {
            if (size_ == 0) return kNotFound;
            if (linear_ != Linear) return find_as<!Linear>(key, hash);
            int64_t r = wide_ ? probe<uint32_t, Linear>(key, hash) : probe<uint16_t, Linear>(key, hash);
            if (r != kRestart) return r;
        }
    }

    PyObject* value_at(int64_t ix) const noexcept { return entries_[ix].value; }

    // Replaces the value of entry ix; the old value goes to `graveyard`.
    void replace_value(int64_t ix, PyObject* value, Graveyard& graveyard) noexcept {
        graveyard.bury(entries_[ix].value, nullptr);
        entries_[ix].value = value;
        note_gc_refs(entries_[ix].key, value);
        mutations_++;
    }

    // Changes whenever an entry is added, replaced or removed: a miss that
    // sees the same count after running the function knows its key is still
    // absent and need not look it up again.
    uint64_t mutations() const noexcept { return mutations_; }

    // New references to every (key, value), most recently used first when
    // bounded, in a PyMem array of 2 * size() pointers (NULL if empty or out
    // of memory, then with MemoryError set). Taking them runs no user code,
    // so the caller may then build Python objects, which can run the GC and
    // through it anything, including code that clears this table.
    PyObject** snapshot() const;

    // Bounded tables only.
    void move_to_front(uint32_t ix) noexcept {
        if (head_ == ix) return;
        unlink(ix);
        link_front(ix);
    }

    // Inserts a key known to be absent (find() returned kNotFound with no
    // user code run since). Steals `key` and `value`. With maxsize > 0 and the
    // table full, the least recently used entry is evicted into `graveyard`.
    // Returns the entry's index, or -1 with MemoryError set (key and value
    // then released).
    int64_t insert(Py_hash_t hash, PyObject* key, PyObject* value, Py_ssize_t maxsize,
                   Graveyard& graveyard);

    // Removes entry ix into `graveyard`; the last entry moves into its place.
    void remove_at(uint32_t ix, Graveyard& graveyard) noexcept;
    // Removes every entry whose deadline is at or before `now`; returns how many.
    uint32_t purge_expired(double now, Graveyard& graveyard) noexcept;
    bool full() const noexcept { return size_ == capacity_; }
    // Grows now rather than at the next insert; false with MemoryError set.
    bool grow_now(Py_ssize_t maxsize) { return grow(maxsize); }
    uint32_t lru_tail() const noexcept { return tail_; }

    double deadline(uint32_t ix) const noexcept { return deadlines_[ix]; }
    void set_deadline(uint32_t ix, double when) noexcept { deadlines_[ix] = when; }
    void touch_total(uint32_t ix) noexcept { total_->touch(nodes_[ix]); }
    // Gives a just inserted entry its TotalLru node; false with MemoryError
    // set (the entry, which has none, must then be removed). Kept out of insert() so that the
    // default wrappers' inserts do not test for it.
    bool add_total_node(uint32_t ix);

    // Moves every reference into `graveyard` and empties the table.
    void take_all(Graveyard& graveyard) noexcept;

    int traverse(visitproc visit, void* arg) const {
        if (!gc_refs_) return 0;  // nothing the collector could follow
        for (uint32_t i = 0; i < size_; i++) {
            Py_VISIT(entries_[i].key);
            Py_VISIT(entries_[i].value);
        }
        return 0;
    }

    // Calls f(key, value) for each entry (most recently used first when
    // bounded). f must not run user code that could mutate the table.
    template <class F>
    void for_each(F&& f) const {
        if (links_) {
            for (uint32_t ix = head_; ix != kNil; ix = links_[ix].next) f(entries_[ix].key, entries_[ix].value);
        } else {
            for (uint32_t ix = 0; ix < size_; ix++) f(entries_[ix].key, entries_[ix].value);
        }
    }

    // Statistics, as functools counts them.
    Py_ssize_t hits() const noexcept { return hits_; }
    Py_ssize_t misses() const noexcept { return misses_; }
    void count_hit() noexcept { hits_++; }
    void count_miss() noexcept { misses_++; }
    void reset_stats() noexcept { hits_ = misses_ = 0; }

private:
    static constexpr int64_t kRestart = -3;

    // Most caches hold ints, strs, floats and tuples of them, which the
    // cyclic GC never follows (CPython leaves such dicts and tuples
    // untracked). Until a key or value that the GC may follow is stored,
    // traverse() has nothing to visit and returns at once: a collection
    // then costs the same whatever the size of the cache, and a
    // per-instance container is visited without touching its entries.
    void note_gc_refs(PyObject* key, PyObject* value) noexcept {
        if (!gc_refs_ && (may_be_tracked(key) || may_be_tracked(value))) gc_refs_ = true;
    }

    template <class Slot, bool Linear, class Key>
    int64_t probe(const Key& key, Py_hash_t hash) {
        const Slot* index = static_cast<const Slot*>(index_);
        uint64_t perturb = (uint64_t)hash;
        for (uint32_t slot = home<Linear>(hash);; slot = next_slot<Linear>(slot, perturb)) {
            Slot ix = index[slot];
            if (ix == Slot(~Slot(0))) return kNotFound;
            const Entry& e = entries_[ix];
            if (e.hash != hash) continue;
            if (e.key == key.bare() && e.key) return ix;
            Ref stored = Ref::borrow(e.key);  // __eq__ may evict it
            uint64_t layout = layout_;
            int eq = key.equals(stored.get());
            if (eq < 0) return kError;
            if (layout != layout_ || index[slot] != ix || entries_[ix].key != stored.get())
                return kRestart;  // what we compared moved under __eq__
            if (eq) return ix;
        }
    }

    // Python's int hashes are the ints themselves. Tables that lose single
    // entries (bounded ones, ttl= and max_total= ones, any table once
    // remove_at ran) probe linearly, since backward-shift deletion needs it.
    // Linear probing clusters badly on patterned hashes, so they use
    // Fibonacci hashing (the high bits of the product). That scatters
    // successive ints over the index, a cache miss per insert once the index
    // outgrows the caches: unbounded tables of successive ints were 1.0-1.3x
    // functools at 10**6 entries. The other tables (unbounded, nothing
    // removed yet) probe as dict does: start from the low bits, folded so
    // that strided ints (multiples of 2**12 or 2**32, ids) still spread, and
    // leave a collision by dict's perturbed sequence, which escapes runs of
    // successive ints at once (linear probing after a low-bits home would
    // walk them: a foreign key after 10**6 successive ints cost about
    // 240,000 probes). Successive ints then land in successive slots.
    // Measurements: bench/NOTES.md. Linear is linear_, as a template argument
    // so that a lookup computes only the home its table uses.
    template <bool Linear>
    uint32_t home(Py_hash_t hash) const noexcept {
        uint64_t h = (uint64_t)hash;
        if (Linear) return (uint32_t)((h * 0x9E3779B97F4A7C15ULL) >> shift_);
        h ^= h >> 32;
        return (uint32_t)((h ^ (h >> (64 - shift_))) & mask_);
    }
    // The slot after `slot` on a probe sequence that started at home(hash)
    // with perturb == hash. Once perturb is 0, dict's i = 5i + 1 visits every
    // slot, so a probe always finds an empty one.
    template <bool Linear>
    uint32_t next_slot(uint32_t slot, uint64_t& perturb) const noexcept {
        if (Linear) return (slot + 1) & mask_;
        perturb >>= 5;
        return (uint32_t)((slot * 5ULL + perturb + 1) & mask_);
    }
    void unlink(uint32_t ix) noexcept {
        Links& l = links_[ix];
        if (l.prev != kNil) links_[l.prev].next = l.next; else head_ = l.next;
        if (l.next != kNil) links_[l.next].prev = l.prev; else tail_ = l.prev;
    }
    void link_front(uint32_t ix) noexcept {
        links_[ix] = Links{kNil, head_};
        if (head_ != kNil) links_[head_].prev = ix; else tail_ = ix;
        head_ = ix;
    }
    uint32_t slot_value(uint32_t slot) const noexcept {
        return wide_ ? static_cast<uint32_t*>(index_)[slot] : static_cast<uint16_t*>(index_)[slot];
    }
    void set_slot(uint32_t slot, uint32_t ix) noexcept {
        if (wide_) static_cast<uint32_t*>(index_)[slot] = ix;
        else static_cast<uint16_t*>(index_)[slot] = (uint16_t)ix;
    }
    bool slot_empty(uint32_t slot) const noexcept { return slot_value(slot) == (wide_ ? UINT32_MAX : UINT16_MAX); }
    void place_in_index(uint32_t ix) noexcept;
    template <bool Linear>
    void place_in_index(uint32_t ix) noexcept;
    void remove_from_index(uint32_t ix) noexcept;  // linear_ tables only
    void make_linear() noexcept;
    bool grow(Py_ssize_t maxsize);
    // The small layout of an empty table without a block.
    void use_small_layout(Py_ssize_t maxsize) noexcept {
        bool linked = maxsize > 0;
        capacity_ = linked && maxsize < kSmallCapacity ? (uint32_t)maxsize : kSmallCapacity;
        entries_ = static_cast<Entry*>(small_);
        links_ = linked ? reinterpret_cast<Links*>(entries_ + kSmallCapacity) : nullptr;
        index_ = reinterpret_cast<Links*>(entries_ + kSmallCapacity) + kSmallCapacity;
        std::memset(index_, 0xff, kSmallSlots * sizeof(uint16_t));
        block_ = small_;
        linear_ = linked;
        mask_ = kSmallSlots - 1;
        shift_ = 64 - __builtin_ctz(kSmallSlots);
        layout_++;
    }

    // Fields in order of use: every collection reads gc_refs_ (first, next
    // to the owner's header in a per-instance container), every lookup the
    // next ones.
    bool gc_refs_ = false;  // a key or value may be tracked by the GC (sticky until emptied)
    bool linear_ = false;   // linear probing: see home()
    bool wide_ = false;
    bool timed_ = false;
    uint32_t size_ = 0;
    uint32_t mask_ = 0;  // index slots - 1
    uint32_t shift_ = 64;
    void* index_ = nullptr;  // uint16_t or uint32_t slots (wide_), all ones when empty
    Entry* entries_ = nullptr;
    Links* links_ = nullptr;  // bounded tables only
    uint32_t head_ = kNil;
    uint32_t tail_ = kNil;
    uint64_t layout_ = 0;
    uint64_t mutations_ = 0;
    Py_ssize_t hits_ = 0;
    Py_ssize_t misses_ = 0;
    uint32_t capacity_ = 0;  // entries that fit before growing
    void* block_ = nullptr;  // entries, links, index slots: small_ or one allocation
    void* small_ = nullptr;
    double* deadlines_ = nullptr;  // ttl= tables only
    uint32_t* nodes_ = nullptr;    // max_total= tables only: each entry's TotalLru node
    TotalLru* total_ = nullptr;
};

}  // namespace bc
