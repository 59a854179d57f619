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
//    sequence (home(hash), then next_slot(): linear when kLinear, dict's
//    perturbed sequence otherwise, see home()); empty slots hold all ones;
//    load is at most 2/3, so every probe ends at an empty slot. The inline
//    layout of a per-instance cache (two entries, index_ NULL) has no index.
//  * for bounded tables, head_/tail_ and the links form a doubly linked list
//    of all live entries, most recently used first (in the inline layout,
//    head_ and tail_ alone order its one or two entries).
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
    PyObject* single_[kSingles];  // [0, n_single_) in use; not zeroed, as every miss makes a graveyard
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
    // What the owner of a Table keeps right after it (checked where the
    // owners are declared): room for the inline layout's entries, or, for
    // a table that never uses it, at least a TotalLru* (max_total=).
    static constexpr uint32_t kInlineCapacity = 2;
    static constexpr size_t kTailBytes = kInlineCapacity * sizeof(Entry);

    Table() noexcept = default;

    // A per-instance cache keeps its first two entries in its own memory,
    // right after its Table (MethodCache::inline_entries), without index or
    // links: a lookup compares their stored hashes, and a bounded table's
    // order is head_/tail_. The third entry moves everything to a heap
    // block with an index (8 slots), and growth continues on dict's schedule.
    // Most instances cache one or two results per method; their container
    // then needs no other allocation and fits in 224 bytes (bench/NOTES.md,
    // "Issue 26").
    void use_inline_entries() noexcept { flags_ |= kHasInline; }
    // A cache made for a call that is about to insert (a fresh instance's
    // first call) takes the inline layout at once, so that its first insert
    // does not go through grow().
    void prepare_inline() noexcept {
        if (!entries_ && (flags_ & kHasInline)) use_inline_layout();
    }

    // Options of wrappers made with ttl= or max_total=, set before the first
    // insert: a deadline per entry, and/or a node in the wrapper's TotalLru
    // (kept in the tail, which such tables do not use for entries).
    void enable_options(bool deadlines, TotalLru* total) noexcept {
        flags_ &= (uint8_t)~(kHasInline | kTimed | kTotal);
        if (deadlines) flags_ |= kTimed;
        if (total) {
            flags_ |= kTotal;
            *reinterpret_cast<TotalLru**>(tail()) = total;
        }
    }
    // Forgets the TotalLru of a wrapper that died (the table is empty then).
    void detach_total() noexcept { flags_ &= (uint8_t)~kTotal; }
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
        return linear() ? find_as<true>(key, hash) : find_as<false>(key, hash);
    }
    // find() for a caller that knows which probing the table most likely
    // uses (bounded tables always probe linearly; unbounded ones unless they
    // lost an entry), so that the lookup computes only that home(). Right
    // whatever the table uses.
    template <bool Linear, class Key>
    int64_t find_as(const Key& key, Py_hash_t hash) {
        for (;;) {
            if (size_ == 0) return kNotFound;
            int64_t r;
            if (!index_) {
                r = find_inline(key, hash);
            } else {
                if (linear() != Linear) return find_as<!Linear>(key, hash);
                r = (flags_ & kWide) ? probe<uint32_t, Linear>(key, hash) : probe<uint16_t, Linear>(key, hash);
            }
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
        if (!index_) {  // the inline layout: two entries, ix is the other one
            tail_ = head_;
            head_ = ix;
            return;
        }
        Links* links = this->links();
        unlink(links, ix);
        link_front(links, ix);
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
    bool full() const noexcept { return size_ == capacity(); }
    // Grows now rather than at the next insert; false with MemoryError set.
    bool grow_now(Py_ssize_t maxsize) { return grow(maxsize); }
    uint32_t lru_tail() const noexcept { return tail_; }

    double deadline(uint32_t ix) const noexcept { return deadlines()[ix]; }
    void set_deadline(uint32_t ix, double when) noexcept { deadlines()[ix] = when; }
    void touch_total(uint32_t ix) noexcept { total()->touch(nodes()[ix]); }
    // Gives a just inserted entry its TotalLru node; false with MemoryError
    // set (the entry, which has none, must then be removed). Kept out of insert() so that the
    // default wrappers' inserts do not test for it.
    bool add_total_node(uint32_t ix);

    // Moves every reference into `graveyard` and empties the table.
    void take_all(Graveyard& graveyard) noexcept;

    int traverse(visitproc visit, void* arg) const {
        if (!(flags_ & kGcRefs)) return 0;  // nothing the collector could follow
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
        if (flags_ & kLinked) {
            const Links* links = this->links();
            for (uint32_t ix = head_; ix != kNil; ix = links[ix].next) f(entries_[ix].key, entries_[ix].value);
        } else if (!index_ && head_ != kNil) {  // the inline layout of a bounded table
            f(entries_[head_].key, entries_[head_].value);
            if (size_ == 2) f(entries_[tail_].key, entries_[tail_].value);
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
    // flags_
    static constexpr uint8_t kGcRefs = 1;      // a key or value may be tracked by the GC (sticky until emptied)
    static constexpr uint8_t kLinear = 2;      // linear probing: see home()
    static constexpr uint8_t kWide = 4;        // 32-bit index slots
    static constexpr uint8_t kLinked = 8;      // recency links in the heap block (bounded)
    static constexpr uint8_t kTimed = 16;      // a deadline per entry (ttl=)
    static constexpr uint8_t kTotal = 32;      // a TotalLru node per entry (max_total=); the TotalLru* is in the tail
    static constexpr uint8_t kHasInline = 64;  // the tail holds the inline layout's entries

    // A heap block: a header, then entries, links (bounded), deadlines
    // (ttl=), TotalLru nodes (max_total=), index slots. entries_ points past
    // the header.
    struct BlockHeader {
        uint32_t capacity;  // entries that fit before growing
        uint32_t unused;
    };

    bool linear() const noexcept { return flags_ & kLinear; }
    char* tail() noexcept { return reinterpret_cast<char*>(this) + sizeof(Table); }
    TotalLru* total() const noexcept {
        return (flags_ & kTotal) ? *reinterpret_cast<TotalLru* const*>(reinterpret_cast<const char*>(this) + sizeof(Table))
                                 : nullptr;
    }
    uint32_t mask() const noexcept { return (uint32_t)((1ULL << (64 - shift_)) - 1); }  // index slots - 1
    uint32_t capacity() const noexcept {
        if (!entries_) return 0;
        return index_ ? (reinterpret_cast<const BlockHeader*>(entries_) - 1)->capacity : kInlineCapacity;
    }
    Links* links() const noexcept { return reinterpret_cast<Links*>(entries_ + capacity()); }
    double* deadlines() const noexcept {
        uint32_t cap = capacity();
        char* p = reinterpret_cast<char*>(entries_ + cap);
        if (flags_ & kLinked) p += cap * sizeof(Links);
        return reinterpret_cast<double*>(p);
    }
    uint32_t* nodes() const noexcept {
        uint32_t cap = capacity();
        char* p = reinterpret_cast<char*>(entries_ + cap);
        if (flags_ & kLinked) p += cap * sizeof(Links);
        if (flags_ & kTimed) p += cap * sizeof(double);
        return reinterpret_cast<uint32_t*>(p);
    }

    // Most caches hold ints, strs, floats and tuples of them, which the
    // cyclic GC never follows (CPython leaves such dicts and tuples
    // untracked). Until a key or value that the GC may follow is stored,
    // traverse() has nothing to visit and returns at once: a collection
    // then costs the same whatever the size of the cache, and a
    // per-instance container is visited without touching its entries.
    void note_gc_refs(PyObject* key, PyObject* value) noexcept {
        if (!(flags_ & kGcRefs) && (may_be_tracked(key) || may_be_tracked(value))) flags_ |= kGcRefs;
    }

    // Compares `key` with entry ix, whose stored hash equals key's and whose
    // key is another object: 1 equal, 0 not, kError, or kRestart when __eq__
    // changed what was compared (the layout, the entry, or, as `moved()`
    // tells, the place that led to it).
    // Out of line: it runs __eq__, and lookups stay small without it.
    template <class Key, class Moved>
    [[gnu::noinline]] int64_t compare_at(uint32_t ix, const Key& key, Moved moved) {
        Ref stored = Ref::borrow(entries_[ix].key);  // __eq__ may evict it
        uint64_t layout = layout_;
        int eq = key.equals(stored.get());
        if (eq < 0) return kError;
        if (layout != layout_ || moved() || entries_[ix].key != stored.get()) return kRestart;
        return eq;
    }

    // The inline layout's entries (size_ is 1 or 2).
    template <class Key>
    int64_t find_inline(const Key& key, Py_hash_t hash) {
        for (uint32_t ix = 0; ix < size_; ix++) {
            const Entry& e = entries_[ix];
            if (e.hash != hash) continue;
            if (e.key == key.bare() && e.key) return ix;
            int64_t r = compare_at(ix, key, [&] { return ix >= size_; });
            if (r == 1) return ix;
            if (r != 0) return r;
        }
        return kNotFound;
    }

    template <class Slot, bool Linear, class Key>
    int64_t probe(const Key& key, Py_hash_t hash) {
        const Slot* index = static_cast<const Slot*>(index_);
        uint32_t mask = this->mask();
        uint64_t perturb = (uint64_t)hash;
        for (uint32_t slot = home<Linear>(hash, mask);; slot = next_slot<Linear>(slot, perturb, mask)) {
            Slot ix = index[slot];
            if (ix == Slot(~Slot(0))) return kNotFound;
            const Entry& e = entries_[ix];
            if (e.hash != hash) continue;
            if (e.key == key.bare() && e.key) return ix;
            int64_t r = compare_at(ix, key, [&] { return index[slot] != ix; });
            if (r == 1) return ix;
            if (r != 0) return r;
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
    // Measurements: bench/NOTES.md. Linear is linear(), as a template argument
    // so that a lookup computes only the home its table uses.
    template <bool Linear>
    uint32_t home(Py_hash_t hash, uint32_t mask) const noexcept {
        uint64_t h = (uint64_t)hash;
        if (Linear) return (uint32_t)((h * 0x9E3779B97F4A7C15ULL) >> shift_);
        h ^= h >> 32;
        return (uint32_t)((h ^ (h >> (64 - shift_))) & mask);
    }
    // The slot after `slot` on a probe sequence that started at home(hash)
    // with perturb == hash. Once perturb is 0, dict's i = 5i + 1 visits every
    // slot, so a probe always finds an empty one.
    template <bool Linear>
    static uint32_t next_slot(uint32_t slot, uint64_t& perturb, uint32_t mask) noexcept {
        if (Linear) return (slot + 1) & mask;
        perturb >>= 5;
        return (uint32_t)((slot * 5ULL + perturb + 1) & mask);
    }
    void unlink(Links* links, uint32_t ix) noexcept {
        Links& l = links[ix];
        if (l.prev != kNil) links[l.prev].next = l.next; else head_ = l.next;
        if (l.next != kNil) links[l.next].prev = l.prev; else tail_ = l.prev;
    }
    void link_front(Links* links, uint32_t ix) noexcept {
        links[ix] = Links{kNil, head_};
        if (head_ != kNil) links[head_].prev = ix; else tail_ = ix;
        head_ = ix;
    }
    uint32_t slot_value(uint32_t slot) const noexcept {
        return (flags_ & kWide) ? static_cast<uint32_t*>(index_)[slot] : static_cast<uint16_t*>(index_)[slot];
    }
    void set_slot(uint32_t slot, uint32_t ix) noexcept {
        if (flags_ & kWide) static_cast<uint32_t*>(index_)[slot] = ix;
        else static_cast<uint16_t*>(index_)[slot] = (uint16_t)ix;
    }
    bool slot_empty(uint32_t slot) const noexcept {
        return slot_value(slot) == ((flags_ & kWide) ? UINT32_MAX : UINT16_MAX);
    }
    void place_in_index(uint32_t ix) noexcept;
    template <bool Linear>
    void place_in_index(uint32_t ix) noexcept;
    void remove_from_index(uint32_t ix) noexcept;  // linear tables only
    void make_linear() noexcept;
    bool grow(Py_ssize_t maxsize);
    // The inline layout of an empty table without a block.
    void use_inline_layout() noexcept {
        entries_ = reinterpret_cast<Entry*>(tail());
        layout_++;
    }

    // Fields in order of use: every collection reads flags_ (kGcRefs), every
    // lookup size_, index_, shift_ and entries_. 64 bytes, so that a
    // per-instance cache with its two inline entries takes 136.
    uint8_t flags_ = 0;
    uint8_t shift_ = 64;  // 64 - log2(index slots); 64 without an index
    uint32_t size_ = 0;
    uint32_t head_ = kNil;  // bounded tables: most recently used
    uint32_t tail_ = kNil;  // bounded tables: least recently used
    void* index_ = nullptr;     // uint16_t or uint32_t slots (kWide), all ones when empty; NULL in the inline layout
    Entry* entries_ = nullptr;  // in the heap block, or the inline entries
    uint64_t layout_ = 0;
    uint64_t mutations_ = 0;
    Py_ssize_t hits_ = 0;
    Py_ssize_t misses_ = 0;
};

}  // namespace bc
