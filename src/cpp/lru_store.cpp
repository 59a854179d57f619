#include "lru_store.hpp"

namespace bc {

void Graveyard::bury_block(void* block, Entry* entries, uint32_t n) {
    if (n_blocks_ == cap_blocks_) {
        uint32_t cap = cap_blocks_ ? 2 * cap_blocks_ : 4;
        auto* grown = (Block*)PyMem_Realloc(blocks_, cap * sizeof(Block));
        if (!grown) {
            // Out of memory for bookkeeping: release now rather than leak.
            // The caller has already made its table consistent.
            for (uint32_t i = 0; i < n; i++) {
                Py_XDECREF(entries[i].key);
                Py_XDECREF(entries[i].value);
            }
            PyMem_Free(block);
            return;
        }
        blocks_ = grown;
        cap_blocks_ = cap;
    }
    blocks_[n_blocks_++] = Block{block, entries, n};
}

void Graveyard::release() noexcept {
    // Detach everything first: a finalizer run below may bury more in a
    // graveyard of its own, never in this one.
    PyObject* single[4];
    int n_single = n_single_;
    std::memcpy(single, single_, sizeof single);
    n_single_ = 0;
    Block* blocks = blocks_;
    uint32_t n_blocks = n_blocks_;
    blocks_ = nullptr;
    n_blocks_ = cap_blocks_ = 0;

    for (int i = 0; i < n_single; i++) Py_XDECREF(single[i]);
    for (uint32_t b = 0; b < n_blocks; b++) {
        for (uint32_t i = 0; i < blocks[b].n; i++) {
            Py_XDECREF(blocks[b].entries[i].key);
            Py_XDECREF(blocks[b].entries[i].value);
        }
        PyMem_Free(blocks[b].mem);
    }
    PyMem_Free(blocks);
}

void Table::place_in_index(uint32_t ix) noexcept {
    uint32_t slot = home(entries_[ix].hash);
    while (index_[slot] >= 0) slot = (slot + 1) & mask_;
    index_[slot] = (int32_t)ix;
}

// Backward-shift deletion: no tombstones, so probes stay short however many
// evictions a bounded cache goes through.
void Table::remove_from_index(uint32_t ix) noexcept {
    uint32_t hole = home(entries_[ix].hash);
    while (index_[hole] != (int32_t)ix) hole = (hole + 1) & mask_;
    for (uint32_t j = (hole + 1) & mask_; index_[j] >= 0; j = (j + 1) & mask_) {
        uint32_t h = home(entries_[index_[j]].hash);
        // The entry at j may move back to the hole unless its home lies
        // cyclically in (hole, j].
        bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        index_[hole] = index_[j];
        hole = j;
    }
    index_[hole] = -1;
}

bool Table::grow(Py_ssize_t maxsize) {
    uint64_t want = capacity_ ? 2 * (uint64_t)capacity_ : 8;
    if (maxsize > 0 && (uint64_t)maxsize < want) want = (uint64_t)maxsize;
    if (want > (1u << 30)) {
        PyErr_SetString(PyExc_MemoryError, "boundcache: a single cache holds at most 2**30 entries");
        return false;
    }
    uint32_t slots = 8;
    while (slots < want + want / 2 + 1) slots *= 2;  // load <= 2/3
    size_t index_bytes = slots * sizeof(int32_t);
    index_bytes = (index_bytes + alignof(Entry) - 1) / alignof(Entry) * alignof(Entry);
    void* block = PyMem_Malloc(index_bytes + want * sizeof(Entry));
    if (!block) {
        PyErr_NoMemory();
        return false;
    }
    auto* index = (int32_t*)block;
    auto* entries = (Entry*)((char*)block + index_bytes);
    std::memset(index, 0xff, slots * sizeof(int32_t));
    if (size_) std::memcpy(entries, entries_, size_ * sizeof(Entry));
    PyMem_Free(block_);
    block_ = block;
    index_ = index;
    entries_ = entries;
    capacity_ = (uint32_t)want;
    mask_ = slots - 1;
    shift_ = 64 - __builtin_ctz(slots);
    for (uint32_t i = 0; i < size_; i++) place_in_index(i);
    version_++;
    return true;
}

bool Table::insert(Py_hash_t hash, PyObject* key, PyObject* value, Py_ssize_t maxsize,
                   Graveyard& graveyard) {
    if (maxsize > 0 && (Py_ssize_t)size_ >= maxsize) {
        // Full: reuse the least recently used entry's place.
        uint32_t ix = tail_;
        Entry& e = entries_[ix];
        unlink(ix);
        remove_from_index(ix);
        graveyard.bury(e.key, e.value);
        e.hash = hash;
        e.key = key;
        e.value = value;
        place_in_index(ix);
        link_front(ix);
        version_++;
        return true;
    }
    if (size_ == capacity_ && !grow(maxsize)) {
        Py_DECREF(key);
        Py_DECREF(value);
        return false;
    }
    uint32_t ix = size_++;
    entries_[ix] = Entry{hash, key, value, kNil, kNil};
    place_in_index(ix);
    link_front(ix);
    version_++;
    return true;
}

void Table::take_all(Graveyard& graveyard) noexcept {
    if (!block_) return;
    void* block = block_;
    Entry* entries = entries_;
    uint32_t n = size_;
    block_ = nullptr;
    index_ = nullptr;
    entries_ = nullptr;
    size_ = capacity_ = mask_ = 0;
    shift_ = 64;
    head_ = tail_ = kNil;
    version_++;
    graveyard.bury_block(block, entries, n);
}

}  // namespace bc
