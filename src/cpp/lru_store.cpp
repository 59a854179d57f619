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
    std::memcpy(single, single_, (size_t)n_single * sizeof(PyObject*));
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
    uint32_t mask = this->mask();
    uint64_t perturb = (uint64_t)entries_[ix].hash;
    uint32_t slot = home<Linear>(entries_[ix].hash, mask);
    while (!slot_empty(slot)) slot = next_slot<Linear>(slot, perturb, mask);
    set_slot(slot, ix);
}

void Table::place_in_index(uint32_t ix) noexcept {
    if (linear()) place_in_index<true>(ix);
    else place_in_index<false>(ix);
}

// An unbounded table about to lose an entry (remove_at: _discard): re-place
// every entry for linear probing, which backward-shift deletion needs. Once
// per table until it is emptied; allocates nothing.
void Table::make_linear() noexcept {
    flags_ |= kLinear;
    std::memset(index_, 0xff, ((size_t)mask() + 1) * ((flags_ & kWide) ? sizeof(uint32_t) : sizeof(uint16_t)));
    for (uint32_t i = 0; i < size_; i++) place_in_index<true>(i);
    layout_++;  // a find() suspended in __eq__ starts over
}

// Backward-shift deletion: no tombstones, so probes stay short however many
// evictions a bounded cache goes through. Linear probing only.
void Table::remove_from_index(uint32_t ix) noexcept {
    uint32_t mask = this->mask();
    uint32_t hole = home<true>(entries_[ix].hash, mask);
    while (slot_value(hole) != ix) hole = (hole + 1) & mask;
    for (uint32_t j = (hole + 1) & mask; !slot_empty(j); j = (j + 1) & mask) {
        uint32_t h = home<true>(entries_[slot_value(j)].hash, mask);
        // The entry at j may move back to the hole unless its home lies
        // cyclically in (hole, j].
        bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        set_slot(hole, slot_value(j));
        hole = j;
    }
    set_slot(hole, (flags_ & kWide) ? UINT32_MAX : UINT16_MAX);
}

bool Table::grow(Py_ssize_t maxsize) {
    // dict's schedule: a power-of-two number of slots, at most 2/3 used,
    // starting from the inline layout when the owner provides room for it.
    if (!entries_ && (flags_ & kHasInline)) {
        use_inline_layout();  // empty: nothing to copy or place
        return true;
    }
    uint64_t slots = index_ ? 2 * ((uint64_t)mask() + 1) : 8;
    uint64_t capacity = slots * 2 / 3;
    bool linked = maxsize > 0;
    bool timed = flags_ & kTimed;
    bool total = flags_ & kTotal;
    if (linked && (uint64_t)maxsize < capacity) capacity = (uint64_t)maxsize;
    if (slots > (1u << 31)) {
        PyErr_SetString(PyExc_MemoryError, "boundcache: a single cache holds at most 2**30 entries");
        return false;
    }
    bool wide = slots > 65536;
    // One block: a header, entries, links, deadlines, nodes, index (in
    // decreasing alignment after the entries, except that links are next
    // to the entries they order).
    size_t entry_bytes = capacity * sizeof(Entry);
    size_t link_bytes = linked ? capacity * sizeof(Links) : 0;
    size_t deadline_bytes = timed ? capacity * sizeof(double) : 0;
    size_t node_bytes = total ? capacity * sizeof(uint32_t) : 0;
    size_t slot_bytes = slots * (wide ? sizeof(uint32_t) : sizeof(uint16_t));
    void* block = PyMem_Malloc(sizeof(BlockHeader) + entry_bytes + link_bytes + deadline_bytes + node_bytes + slot_bytes);
    if (!block) {
        PyErr_NoMemory();
        return false;
    }
    static_cast<BlockHeader*>(block)->capacity = (uint32_t)capacity;
    auto* entries = reinterpret_cast<Entry*>(static_cast<BlockHeader*>(block) + 1);
    char* p = reinterpret_cast<char*>(entries) + entry_bytes;
    auto* links = reinterpret_cast<Links*>(p);
    auto* deadlines = reinterpret_cast<double*>(p + link_bytes);
    auto* nodes = reinterpret_cast<uint32_t*>(p + link_bytes + deadline_bytes);
    void* index = p + link_bytes + deadline_bytes + node_bytes;
    std::memset(index, 0xff, slot_bytes);
    if (size_) {
        std::memcpy(entries, entries_, size_ * sizeof(Entry));
        if (timed) std::memcpy(deadlines, this->deadlines(), size_ * sizeof(double));
        if (total) std::memcpy(nodes, this->nodes(), size_ * sizeof(uint32_t));
        if (flags_ & kLinked) {
            std::memcpy(links, this->links(), size_ * sizeof(Links));
        } else if (linked) {
            // The inline layout's order: head_, then tail_ if there are two.
            links[head_] = Links{kNil, size_ == 2 ? tail_ : kNil};
            if (size_ == 2) links[tail_] = Links{head_, kNil};
        }
    }
    if (index_) PyMem_Free(reinterpret_cast<BlockHeader*>(entries_) - 1);  // the inline entries are not a block
    entries_ = entries;
    if (linked) flags_ |= kLinked;
    // Tables that may lose entries probe linearly from the start; the others
    // until the first removal (make_linear), and while not emptied.
    if (linked || timed || total) flags_ |= kLinear;
    index_ = index;
    if (wide) flags_ |= kWide;
    shift_ = (uint8_t)(64 - __builtin_ctzll(slots));
    if (linear()) {
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
        graveyard.bury(e.key, e.value);
        if (!index_) {
            // The inline layout (maxsize 1 or 2): the least recent entry is
            // replaced and becomes the most recent.
            e = Entry{hash, key, value};
            note_gc_refs(key, value);
            tail_ = size_ == 2 ? head_ : ix;
            head_ = ix;
            layout_++;  // a find() suspended in __eq__ on the old key starts over
            mutations_++;
            return ix;
        }
        Links* links = this->links();
        unlink(links, ix);
        remove_from_index(ix);
        e = Entry{hash, key, value};
        note_gc_refs(key, value);
        place_in_index(ix);
        link_front(links, ix);
        mutations_++;
        return ix;
    }
    if (size_ == capacity() && !grow(maxsize)) {
        Py_DECREF(key);
        Py_DECREF(value);
        return -1;
    }
    uint32_t ix = size_++;
    entries_[ix] = Entry{hash, key, value};
    note_gc_refs(key, value);
    if (index_) {
        place_in_index(ix);
        if (flags_ & kLinked) link_front(links(), ix);
    } else if (maxsize > 0) {
        tail_ = ix ? head_ : ix;  // the inline layout's order
        head_ = ix;
    }
    mutations_++;
    return ix;
}

void Table::remove_at(uint32_t ix, Graveyard& graveyard) noexcept {
    Entry& e = entries_[ix];
    if (!index_) {
        // The inline layout: the other entry, if any, moves to 0 and is
        // head and tail of a bounded table's order.
        graveyard.bury(e.key, e.value);
        uint32_t last = --size_;
        if (ix != last) entries_[ix] = entries_[last];
        if (head_ != kNil) head_ = tail_ = size_ ? 0 : kNil;
        layout_++;
        mutations_++;
        return;
    }
    if (!linear()) make_linear();
    Links* links = (flags_ & kLinked) ? this->links() : nullptr;
    if (links) unlink(links, ix);
    uint32_t* node = (flags_ & kTotal) ? nodes() : nullptr;
    if (node && node[ix] != TotalLru::kNil) total()->remove(node[ix]);
    remove_from_index(ix);
    graveyard.bury(e.key, e.value);
    uint32_t last = --size_;
    if (ix != last) {
        // Keep the entries dense: the last one takes the freed place, and
        // everything that names it by index follows.
        uint32_t mask = this->mask();
        uint32_t slot = home<true>(entries_[last].hash, mask);
        while (slot_value(slot) != last) slot = (slot + 1) & mask;
        set_slot(slot, ix);
        entries_[ix] = entries_[last];
        if (flags_ & kTimed) deadlines()[ix] = deadlines()[last];
        if (links) {
            Links l = links[ix] = links[last];
            if (l.prev != kNil) links[l.prev].next = ix; else head_ = ix;
            if (l.next != kNil) links[l.next].prev = ix; else tail_ = ix;
        }
        if (node) {
            node[ix] = node[last];
            total()->moved(node[ix], ix);  // last always has a node: only a new entry may lack one
        }
    }
    // An entry moved: a find() suspended in __eq__ must start over.
    layout_++;
    mutations_++;
}

bool Table::add_total_node(uint32_t ix) {
    uint32_t* node = nodes();
    node[ix] = total()->push_front(this, ix);
    return node[ix] != TotalLru::kNil;
}

uint32_t Table::purge_expired(double now, Graveyard& graveyard) noexcept {
    uint32_t removed = 0;
    // From the end, so that the entry moved into a freed place was already seen.
    for (uint32_t ix = size_; ix-- > 0;) {
        if (deadlines()[ix] <= now) {
            remove_at(ix, graveyard);
            removed++;
        }
    }
    return removed;
}

void Table::take_all(Graveyard& graveyard) noexcept {
    if (!entries_) return;
    uint32_t n = size_;
    if (flags_ & kTotal) {
        uint32_t* node = nodes();
        for (uint32_t i = 0; i < n; i++) total()->remove(node[i]);
    }
    if (index_) {
        graveyard.bury_block(reinterpret_cast<BlockHeader*>(entries_) - 1, entries_, n);
    } else {
        // The inline entries, reused at once.
        for (uint32_t i = 0; i < n; i++) graveyard.bury(entries_[i].key, entries_[i].value);
    }
    entries_ = nullptr;
    index_ = nullptr;
    flags_ &= (uint8_t)(kTimed | kTotal | kHasInline);  // not linear, wide or linked; nothing the GC could follow
    size_ = 0;
    shift_ = 64;
    head_ = tail_ = kNil;
    layout_++;
    mutations_++;
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
