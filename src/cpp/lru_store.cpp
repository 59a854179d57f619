#include "lru_store.hpp"

namespace bc {

void Graveyard::bury_block(void* block, Entry* entries, uint32_t n) {
    if (!has_first_) {
        first_ = Block{block, entries, n};
        has_first_ = true;
        return;
    }
    if (n_blocks_ == cap_blocks_) {
        uint32_t cap = cap_blocks_ ? 2 * cap_blocks_ : 4;
        auto* grown = (Block*)PyMem_Realloc(blocks_, cap * sizeof(Block));
        if (!grown) return;  // out of memory: leak the block, as spill() does, rather than release mid-walk
        blocks_ = grown;
        cap_blocks_ = cap;
    }
    blocks_[n_blocks_++] = Block{block, entries, n};
}

// Releasing now could run a finalizer in the middle of the caller's walk
// (Cls.m.cache_clear() over every instance's cache), so keep them; if even
// that memory cannot be had, leak them rather than risk the walk (bury_block
// follows the same rule).
void Graveyard::spill(PyObject* a, PyObject* b) noexcept {
    if (n_extra_ + 2 > cap_extra_) {
        size_t cap = cap_extra_ ? 2 * cap_extra_ : 16;
        auto** grown = (PyObject**)PyMem_Realloc(extra_, cap * sizeof(PyObject*));
        if (!grown) return;
        extra_ = grown;
        cap_extra_ = cap;
    }
    extra_[n_extra_++] = a;
    extra_[n_extra_++] = b;
}

void Graveyard::release_all() noexcept {
    // Detach everything first: a finalizer run below may bury more in a
    // graveyard of its own, never in this one.
    PyObject* single[kSingles];
    int n_single = n_single_;
    std::memcpy(single, single_, sizeof single);
    n_single_ = 0;
    Block first = first_;
    bool has_first = has_first_;
    has_first_ = false;
    Block* blocks = blocks_;
    uint32_t n_blocks = n_blocks_;
    blocks_ = nullptr;
    n_blocks_ = cap_blocks_ = 0;
    PyObject** extra = extra_;
    size_t n_extra = n_extra_;
    extra_ = nullptr;
    n_extra_ = cap_extra_ = 0;

    auto release_block = [](const Block& b) {
        for (uint32_t i = 0; i < b.n; i++) {
            Py_XDECREF(b.entries[i].key);
            Py_XDECREF(b.entries[i].value);
        }
        PyMem_Free(b.mem);
    };
    for (int i = 0; i < n_single; i++) Py_XDECREF(single[i]);
    for (size_t i = 0; i < n_extra; i++) Py_XDECREF(extra[i]);
    PyMem_Free(extra);
    if (has_first) release_block(first);
    for (uint32_t b = 0; b < n_blocks; b++) release_block(blocks[b]);
    if (blocks) PyMem_Free(blocks);
}

template <bool Linear>
void Table::place_in_index(uint32_t ix) noexcept {
    uint64_t perturb = (uint64_t)entries_[ix].hash;
    uint32_t slot = home<Linear>(entries_[ix].hash);
    while (!slot_empty(slot)) slot = next_slot<Linear>(slot, perturb);
    set_slot(slot, ix);
}

void Table::place_in_index(uint32_t ix) noexcept {
    if (linear_) place_in_index<true>(ix);
    else place_in_index<false>(ix);
}

// An unbounded table about to lose an entry (remove_at: _discard): re-place
// every entry for linear probing, which backward-shift deletion needs. Once
// per table until it is emptied; allocates nothing.
void Table::make_linear() noexcept {
    linear_ = true;
    std::memset(index_, 0xff, ((size_t)mask_ + 1) * (wide_ ? sizeof(uint32_t) : sizeof(uint16_t)));
    for (uint32_t i = 0; i < size_; i++) place_in_index<true>(i);
    layout_++;  // a find() suspended in __eq__ starts over
}

// Backward-shift deletion: no tombstones, so probes stay short however many
// evictions a bounded cache goes through. Linear probing only (linear_).
void Table::remove_from_index(uint32_t ix) noexcept {
    uint32_t hole = home<true>(entries_[ix].hash);
    while (slot_value(hole) != ix) hole = (hole + 1) & mask_;
    for (uint32_t j = (hole + 1) & mask_; !slot_empty(j); j = (j + 1) & mask_) {
        uint32_t h = home<true>(entries_[slot_value(j)].hash);
        // The entry at j may move back to the hole unless its home lies
        // cyclically in (hole, j].
        bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        set_slot(hole, slot_value(j));
        hole = j;
    }
    set_slot(hole, wide_ ? UINT32_MAX : UINT16_MAX);
}

bool Table::grow(Py_ssize_t maxsize) {
    // dict's schedule: a power-of-two number of slots, at most 2/3 used,
    // starting from the small inline layout when the owner provides one.
    if (!block_ && small_) {
        use_small_layout(maxsize);  // empty: nothing to copy or place
        return true;
    }
    uint64_t slots = mask_ ? 2 * ((uint64_t)mask_ + 1) : 8;
    uint64_t capacity = slots * 2 / 3;
    bool linked = maxsize > 0;
    if (linked && (uint64_t)maxsize < capacity) capacity = (uint64_t)maxsize;
    if (slots > (1u << 31)) {
        PyErr_SetString(PyExc_MemoryError, "boundcache: a single cache holds at most 2**30 entries");
        return false;
    }
    bool wide = slots > 65536;
    // One block, in decreasing alignment: entries, deadlines, links, nodes, index.
    size_t entry_bytes = capacity * sizeof(Entry);
    size_t deadline_bytes = timed_ ? capacity * sizeof(double) : 0;
    size_t link_bytes = linked ? capacity * sizeof(Links) : 0;
    size_t node_bytes = total_ ? capacity * sizeof(uint32_t) : 0;
    size_t slot_bytes = slots * (wide ? sizeof(uint32_t) : sizeof(uint16_t));
    void* block = PyMem_Malloc(entry_bytes + deadline_bytes + link_bytes + node_bytes + slot_bytes);
    if (!block) {
        PyErr_NoMemory();
        return false;
    }
    char* p = (char*)block;
    auto* entries = (Entry*)p;
    auto* deadlines = timed_ ? (double*)(p += entry_bytes) : nullptr;
    p = (char*)block + entry_bytes + deadline_bytes;
    auto* links = linked ? (Links*)p : nullptr;
    p += link_bytes;
    auto* nodes = total_ ? (uint32_t*)p : nullptr;
    void* index = p + node_bytes;
    std::memset(index, 0xff, slot_bytes);
    if (size_) {
        std::memcpy(entries, entries_, size_ * sizeof(Entry));
        if (deadlines) std::memcpy(deadlines, deadlines_, size_ * sizeof(double));
        if (links) std::memcpy(links, links_, size_ * sizeof(Links));
        if (nodes) std::memcpy(nodes, nodes_, size_ * sizeof(uint32_t));
    }
    if (block_ != small_) PyMem_Free(block_);
    block_ = block;
    entries_ = entries;
    deadlines_ = deadlines;
    links_ = links;
    // Tables that may lose entries probe linearly from the start; the others
    // until the first removal (make_linear), and while not emptied.
    linear_ = linear_ || linked || timed_ || total_;
    nodes_ = nodes;
    index_ = index;
    wide_ = wide;
    capacity_ = (uint32_t)capacity;
    mask_ = (uint32_t)slots - 1;
    shift_ = 64 - __builtin_ctzll(slots);
    if (linear_) {
        for (uint32_t i = 0; i < size_; i++) place_in_index<true>(i);
    } else {
        for (uint32_t i = 0; i < size_; i++) place_in_index<false>(i);
    }
    layout_++;
    return true;
}

int64_t Table::insert(Py_hash_t hash, PyObject* key, PyObject* value, Py_ssize_t maxsize,
                      Graveyard& graveyard) {
    if (maxsize > 0 && (Py_ssize_t)size_ >= maxsize) {
        // Full: reuse the least recently used entry's place. (Tables with a
        // TotalLru never get here: their owner evicts with remove_at first.)
        uint32_t ix = tail_;
        Entry& e = entries_[ix];
        unlink(ix);
        remove_from_index(ix);
        graveyard.bury(e.key, e.value);
        e = Entry{hash, key, value};
        note_gc_refs(key, value);
        place_in_index(ix);
        link_front(ix);
        mutations_++;
        return ix;
    }
    if (size_ == capacity_ && !grow(maxsize)) {
        Py_DECREF(key);
        Py_DECREF(value);
        return -1;
    }
    uint32_t ix = size_++;
    entries_[ix] = Entry{hash, key, value};
    note_gc_refs(key, value);
    place_in_index(ix);
    if (links_) link_front(ix);
    mutations_++;
    return ix;
}

void Table::remove_at(uint32_t ix, Graveyard& graveyard) noexcept {
    if (!linear_) make_linear();
    Entry& e = entries_[ix];
    if (links_) unlink(ix);
    if (total_ && nodes_[ix] != TotalLru::kNil) total_->remove(nodes_[ix]);
    remove_from_index(ix);
    graveyard.bury(e.key, e.value);
    uint32_t last = --size_;
    if (ix != last) {
        // Keep the entries dense: the last one takes the freed place, and
        // everything that names it by index follows.
        uint32_t slot = home<true>(entries_[last].hash);
        while (slot_value(slot) != last) slot = (slot + 1) & mask_;
        set_slot(slot, ix);
        entries_[ix] = entries_[last];
        if (deadlines_) deadlines_[ix] = deadlines_[last];
        if (links_) {
            Links l = links_[ix] = links_[last];
            if (l.prev != kNil) links_[l.prev].next = ix; else head_ = ix;
            if (l.next != kNil) links_[l.next].prev = ix; else tail_ = ix;
        }
        if (total_) {
            nodes_[ix] = nodes_[last];
            total_->moved(nodes_[ix], ix);  // last always has a node: only a new entry may lack one
        }
    }
    // An entry moved: a find() suspended in __eq__ must start over.
    layout_++;
    mutations_++;
}

bool Table::add_total_node(uint32_t ix) {
    nodes_[ix] = total_->push_front(this, ix);
    return nodes_[ix] != TotalLru::kNil;
}

uint32_t Table::purge_expired(double now, Graveyard& graveyard) noexcept {
    uint32_t removed = 0;
    // From the end, so that the entry moved into a freed place was already seen.
    for (uint32_t ix = size_; ix-- > 0;) {
        if (deadlines_[ix] <= now) {
            remove_at(ix, graveyard);
            removed++;
        }
    }
    return removed;
}

void Table::take_all(Graveyard& graveyard) noexcept {
    if (!block_) return;
    void* block = block_;
    Entry* entries = entries_;
    uint32_t n = size_;
    Entry small_entries[kSmallCapacity];
    if (block == small_) {
        // The small layout is reused at once: copy its few references out.
        std::memcpy(small_entries, entries, n * sizeof(Entry));
        entries = small_entries;
        block = nullptr;
    }
    if (total_) {
        for (uint32_t i = 0; i < n; i++) total_->remove(nodes_[i]);
    }
    block_ = index_ = nullptr;
    entries_ = nullptr;
    links_ = nullptr;
    linear_ = false;
    gc_refs_ = false;
    deadlines_ = nullptr;
    nodes_ = nullptr;
    wide_ = false;
    size_ = capacity_ = mask_ = 0;
    shift_ = 64;
    head_ = tail_ = kNil;
    layout_++;
    mutations_++;
    if (block) {
        graveyard.bury_block(block, entries, n);
    } else {
        for (uint32_t i = 0; i < n; i++) graveyard.bury(entries[i].key, entries[i].value);
    }
}

uint32_t TotalLru::push_front(Table* table, uint32_t ix) {
    uint32_t n = free_;
    if (n != kNil) {
        free_ = nodes_[n].next;
    } else {
        if (used_ == cap_) {
            uint32_t cap = cap_ ? 2 * cap_ : 64;
            auto* grown = cap_ < (1u << 30) ? (Node*)PyMem_Realloc(nodes_, (size_t)cap * sizeof(Node)) : nullptr;
            if (!grown) {
                PyErr_NoMemory();
                return kNil;
            }
            nodes_ = grown;
            cap_ = cap;
        }
        n = used_++;
    }
    nodes_[n].table = table;
    nodes_[n].ix = ix;
    link_front(n);
    count_++;
    return n;
}

PyObject** Table::snapshot() const {
    if (size_ == 0) return nullptr;
    auto** items = (PyObject**)PyMem_Malloc(2 * (size_t)size_ * sizeof(PyObject*));
    if (!items) {
        PyErr_NoMemory();
        return nullptr;
    }
    size_t i = 0;
    for_each([&](PyObject* k, PyObject* v) {
        items[i++] = Py_NewRef(k);
        items[i++] = Py_NewRef(v);
    });
    return items;
}

}  // namespace bc
