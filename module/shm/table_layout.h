// Private layout of the shared-memory table (public API: module/shm/table.h).
// Only module/shm/table.cpp and module/shm/quarantine.cpp include this.
//
// Segment: [ShmTable header][SigSlot x n][QSlot x n][RecentSlot x n], each 64-byte aligned.
// Every field is a std::atomic of a lock-free, address-free type, so the same memory mapped
// in several processes is a valid object in each.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/quarantine.h"
#include "shm/table.h"

namespace selfheal {

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);

using AU64 = std::atomic<uint64_t>;
using AI64 = std::atomic<int64_t>;
using AU32 = std::atomic<uint32_t>;

// A fixed-size string stored as relaxed atomic 64-bit words, so that a reader racing a writer
// has no data race (the slot's sequence word then tells it to discard the copy).
template <size_t N>
struct AtomicText {
  static_assert(N % 8 == 0 && N >= 8);
  AU64 w[N / 8];

  // Copies at most N - 1 bytes of s (null: empty). Async-signal-safe.
  void store(const char* s) noexcept {
    bool end = (s == nullptr);
    for (size_t i = 0; i < N / 8; ++i) {
      uint64_t v = 0;
      for (size_t b = 0; b < 8; ++b) {
        size_t pos = i * 8 + b;
        if (!end && (pos == N - 1 || s[pos] == '\0')) end = true;
        if (!end) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[pos])) << (8 * b);
      }
      w[i].store(v, std::memory_order_relaxed);
    }
  }
  // Copies into out[N], NUL-terminated. Async-signal-safe.
  void load(char* out) const noexcept {
    for (size_t i = 0; i < N / 8; ++i) {
      uint64_t v = w[i].load(std::memory_order_relaxed);
      for (size_t b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((v >> (8 * b)) & 0xff);
    }
    out[N - 1] = '\0';
  }
  void clear() noexcept {
    for (auto& x : w) x.store(0, std::memory_order_relaxed);
  }
};

// Slots: seq even = stable, odd = owned by a writer. key 0 = empty.
struct alignas(64) SigSlot {
  AU64 seq;
  AU64 key;  // the crash signature
  AU64 count;
  AI64 first_us, last_us;
  AU32 signo;
  AtomicText<kShmPathChars> path;
  AtomicText<kShmVhostChars> vhost;
  AtomicText<kShmFrameChars> frame;
  // Cross-process fold limiter of the crash log (shm_fold_check), under the slot's sequence.
  AI64 fold_window_us;  // start of the current window
  AU64 fold_written;    // records written in it
  AU64 fold_pending;    // records folded since the last one written
};

struct alignas(64) QSlot {
  // Hot: read by quarantine_check on every request when something is quarantined.
  AU64 seq;
  AU64 key;  // quarantine key hash
  AI64 until_us;
  AI64 last_logged_until;  // CAS: one log line per key and period
  AU64 refused;
  // Cold: written by the crash handler under the slot's sequence.
  AU64 crashes;
  AI64 first_us, last_us;
  AI64 since_us;
  AI64 last_duration_us;
  AU32 strikes;
  AU32 ring_pos;
  AI64 ring[kQuarantineRing];
  AtomicText<kShmKeyChars> text;
};

struct alignas(64) RecentSlot {
  AU64 seq;
  AU64 ticket;  // ring position + 1 (0: never written)
  AI64 time_us;
  AU64 signature;
  AI64 pid;
  AU32 signo;
  AtomicText<kShmIdChars> id;
  AtomicText<kShmMethodChars> method;
  AtomicText<kShmPathChars> path;
  AtomicText<kShmVhostChars> vhost;
};

struct alignas(64) ShmTable {
  AU64 magic;
  AU32 version;
  AU32 sig_slots, q_slots, recent_slots;
  AU64 total_bytes;
  AU64 sig_offset, q_offset, recent_offset;
  AI64 created_us;

  // Policy (written by the parent, read by every process).
  AU32 q_enabled, q_threshold, q_window_s, q_duration_s, q_cap_s;
  // Latest until_us of any quarantine set since the last reset: the request path's fast "no".
  alignas(64) AI64 q_max_until;

  alignas(64) AU64 crashes_total;
  AU64 crashes_by_signal[kShmMaxSignal + 1];
  AU64 records_written, records_dropped, records_folded;
  AU64 children_died;
  AU64 quarantines_started;
  AU64 sig_evictions, q_evictions, busy_giveups;
  AU64 recent_head;
  AU32 generation;
  AU32 diagnosed_generation;
  AU64 generation_crashes;
  AU64 generation_early_crashes;  // crashes soon after their child's start (this generation)
  AI64 early_ring[8];             // times of the latest early crashes (shm_note_early_crash)
  AU32 early_pos;
  // Refusals are counted on the request path: keep them off the other counters' line.
  alignas(64) AU64 refused_total;
};

inline SigSlot* sig_slots(ShmTable* t) noexcept {
  return reinterpret_cast<SigSlot*>(reinterpret_cast<char*>(t) +
                                    t->sig_offset.load(std::memory_order_relaxed));
}
inline const SigSlot* sig_slots(const ShmTable* t) noexcept {
  return sig_slots(const_cast<ShmTable*>(t));
}
inline QSlot* q_slots(ShmTable* t) noexcept {
  return reinterpret_cast<QSlot*>(reinterpret_cast<char*>(t) +
                                  t->q_offset.load(std::memory_order_relaxed));
}
inline const QSlot* q_slots(const ShmTable* t) noexcept {
  return q_slots(const_cast<ShmTable*>(t));
}
inline RecentSlot* recent_slots(ShmTable* t) noexcept {
  return reinterpret_cast<RecentSlot*>(reinterpret_cast<char*>(t) +
                                       t->recent_offset.load(std::memory_order_relaxed));
}
inline const RecentSlot* recent_slots(const ShmTable* t) noexcept {
  return recent_slots(const_cast<ShmTable*>(t));
}

// Home index of a 64-bit hash in n slots (multiply-shift, no division). Async-signal-safe.
inline uint32_t home_index(uint64_t hash, uint32_t n) noexcept {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * n) >> 64);
}

// Takes the slot: spins while another writer owns it, steals it from a writer that has held it
// for 0.5 s (it died inside the handler). Returns the odd sequence value now held.
// Async-signal-safe (clock_gettime, sched_yield only).
uint64_t slot_lock(AU64& seq) noexcept;
// Releases a slot taken with slot_lock (a no-op when it was stolen meanwhile).
// Async-signal-safe.
void slot_unlock(AU64& seq, uint64_t held) noexcept;

// Reader side of a slot: returns the even sequence value to validate against after copying,
// or an odd value when a writer owns it. Async-signal-safe.
inline uint64_t slot_read_begin(const AU64& seq) noexcept {
  return seq.load(std::memory_order_acquire);
}
// True when nothing was written while the reader copied the slot. Async-signal-safe.
inline bool slot_read_ok(const AU64& seq, uint64_t begun) noexcept {
  std::atomic_thread_fence(std::memory_order_acquire);
  return (begun & 1) == 0 && seq.load(std::memory_order_relaxed) == begun;
}

// Wall-clock µs (CLOCK_REALTIME). Async-signal-safe.
int64_t shm_now_us() noexcept;

// Quarantine accounting of one crash (called by shm_record_crash_ex). Async-signal-safe.
void quarantine_note_crash(ShmTable* t, uint64_t key_hash, const char* key_text,
                           int64_t now_us) noexcept;

}  // namespace selfheal

namespace selfheal {

// Finds key's slot among the `window` slots starting at its home index, or claims the first
// empty one, or evicts the one with the lowest score(slot). Returns the slot locked (*held =
// the sequence to unlock with), *fresh when the slot was (re)claimed for key and must be
// initialised by the caller, or null when the slots stayed contended (counted by the caller).
// The key scan comes first and empty slots are claimed under the slot lock in probe order, so
// two processes recording the same new key meet in the same slot. Async-signal-safe.
template <class Slot, class Score>
Slot* find_or_claim(Slot* slots, uint32_t n, uint32_t window, uint64_t key, uint64_t* held,
                    bool* fresh, bool* evicted, Score score) noexcept {
  if (n == 0 || key == 0 || window == 0) return nullptr;
  if (window > n) window = n;
  const uint32_t h = home_index(key, n);
  auto at = [&](uint32_t i) -> Slot& {
    uint32_t j = h + i;
    if (j >= n) j -= n;
    return slots[j];
  };
  *fresh = false;
  *evicted = false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    for (uint32_t i = 0; i < window; ++i) {  // 1. the key itself
      Slot& s = at(i);
      if (s.key.load(std::memory_order_acquire) != key) continue;
      uint64_t l = slot_lock(s.seq);
      if (s.key.load(std::memory_order_relaxed) == key) {
        *held = l;
        return &s;
      }
      slot_unlock(s.seq, l);
    }
    for (uint32_t i = 0; i < window; ++i) {  // 2. the first empty slot
      Slot& s = at(i);
      if (s.key.load(std::memory_order_acquire) != 0) continue;
      uint64_t l = slot_lock(s.seq);
      uint64_t k = s.key.load(std::memory_order_relaxed);
      if (k == key || k == 0) {
        if (k == 0) {
          s.key.store(key, std::memory_order_relaxed);
          *fresh = true;
        }
        *held = l;
        return &s;
      }
      slot_unlock(s.seq, l);
    }
    Slot* victim = nullptr;  // 3. evict the lowest score
    int64_t best = INT64_MAX;
    for (uint32_t i = 0; i < window; ++i) {
      int64_t sc = score(at(i));
      if (!victim || sc < best) {
        best = sc;
        victim = &at(i);
      }
    }
    if (!victim) return nullptr;  // window 0: cannot happen (n > 0)
    uint64_t l = slot_lock(victim->seq);
    uint64_t k = victim->key.load(std::memory_order_relaxed);
    if (k == key) {
      *held = l;
      return victim;
    }
    bool elsewhere = false;
    for (uint32_t i = 0; i < window && !elsewhere; ++i)
      elsewhere = (&at(i) != victim && at(i).key.load(std::memory_order_acquire) == key);
    if (elsewhere || k == 0) {  // claimed meanwhile, or emptied by a reset: look again
      slot_unlock(victim->seq, l);
      continue;
    }
    victim->key.store(key, std::memory_order_relaxed);
    *fresh = true;
    *evicted = true;
    *held = l;
    return victim;
  }
  return nullptr;
}

}  // namespace selfheal
