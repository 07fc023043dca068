// The shared-memory crash table (see module/shm/table.h and shm/table_layout.h).
#include "shm/table_layout.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <unordered_map>

namespace selfheal {
namespace {

constexpr int64_t kStealUs = 500 * 1000;  // a slot owner silent this long has died

constexpr uint32_t kMaxSigSlots = 1u << 16;
constexpr uint32_t kMaxQSlots = 1u << 20;
constexpr uint32_t kMaxRecent = 1024;

size_t round64(size_t n) noexcept {
  return (n + 63) & ~size_t{63};
}

ShmLayout clamp(const ShmLayout& in) noexcept {
  ShmLayout l = in;
  l.signature_slots = std::clamp<uint32_t>(l.signature_slots, 1, kMaxSigSlots);
  l.quarantine_slots = std::clamp<uint32_t>(l.quarantine_slots, 1, kMaxQSlots);
  l.recent_crashes = std::clamp<uint32_t>(l.recent_crashes, 1, kMaxRecent);
  return l;
}

struct Offsets {
  size_t sig, q, recent, total;
};

Offsets offsets(const ShmLayout& l) noexcept {
  Offsets o;
  o.sig = round64(sizeof(ShmTable));
  o.q = o.sig + round64(sizeof(SigSlot) * l.signature_slots);
  o.recent = o.q + round64(sizeof(QSlot) * l.quarantine_slots);
  o.total = o.recent + round64(sizeof(RecentSlot) * l.recent_crashes);
  return o;
}

int64_t mono_us() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// "<pid>-<time_us in lowercase hex>", as the crash log's record id. Async-signal-safe.
void format_record_id(long pid, int64_t time_us, char* out, size_t size) noexcept {
  char tmp[48];
  size_t n = 0;
  unsigned long p = pid < 0 ? 0ul : static_cast<unsigned long>(pid);
  char digits[24];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + p % 10);
    p /= 10;
  } while (p && d < sizeof digits);
  while (d) tmp[n++] = digits[--d];
  tmp[n++] = '-';
  uint64_t t = static_cast<uint64_t>(time_us);
  d = 0;
  do {
    digits[d++] = "0123456789abcdef"[t & 0xf];
    t >>= 4;
  } while (t && d < sizeof digits);
  while (d) tmp[n++] = digits[--d];
  tmp[n] = '\0';
  size_t i = 0;
  for (; i + 1 < size && tmp[i]; ++i) out[i] = tmp[i];
  if (size) out[i] = '\0';
}

void atomic_min_nonzero(AI64& a, int64_t v) noexcept {
  int64_t cur = a.load(std::memory_order_relaxed);
  while ((cur == 0 || v < cur) && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// The signature's slot, locked (*held), (re)initialised when freshly claimed; null when the
// slots stayed contended (counted). Async-signal-safe.
SigSlot* lock_signature(ShmTable* t, uint64_t signature, int64_t now, uint64_t* held,
                        bool* fresh) noexcept {
  const uint32_t n = t->sig_slots.load(std::memory_order_relaxed);
  bool evicted = false;
  SigSlot* slot = find_or_claim(sig_slots(t), n, n, signature, held, fresh, &evicted,
                                [](const SigSlot& x) noexcept {  // least recently seen
                                  return x.last_us.load(std::memory_order_relaxed);
                                });
  if (!slot) {
    t->busy_giveups.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (evicted) t->sig_evictions.fetch_add(1, std::memory_order_relaxed);
  if (*fresh) {
    slot->count.store(0, std::memory_order_relaxed);
    slot->first_us.store(now, std::memory_order_relaxed);
    slot->last_us.store(now, std::memory_order_relaxed);
    slot->signo.store(0, std::memory_order_relaxed);
    slot->path.clear();
    slot->vhost.clear();
    slot->frame.clear();
    slot->fold_window_us.store(0, std::memory_order_relaxed);
    slot->fold_written.store(0, std::memory_order_relaxed);
    slot->fold_pending.store(0, std::memory_order_relaxed);
  }
  return slot;
}

void record_signature(ShmTable* t, const crash::CrashSummary& s, const char* path,
                      const ShmCrashInfo& info, int64_t now) noexcept {
  uint64_t held = 0;
  bool fresh = false;
  SigSlot* slot = lock_signature(t, s.signature, now, &held, &fresh);
  if (!slot) return;
  // A slot first claimed by the fold limiter has no crash yet: fill it as fresh.
  if (slot->count.load(std::memory_order_relaxed) == 0) fresh = true;
  slot->count.fetch_add(1, std::memory_order_relaxed);
  atomic_min_nonzero(slot->first_us, now);
  if (now >= slot->last_us.load(std::memory_order_relaxed) || fresh) {
    slot->last_us.store(now, std::memory_order_relaxed);
    slot->signo.store(static_cast<uint32_t>(s.signo), std::memory_order_relaxed);
    slot->path.store(path);
    slot->vhost.store(info.vhost);
    if (info.top_frame || fresh) slot->frame.store(info.top_frame);
  }
  slot_unlock(slot->seq, held);
}

void record_recent(ShmTable* t, const crash::CrashSummary& s, const char* path,
                   const ShmCrashInfo& info, int64_t now) noexcept {
  const uint32_t n = t->recent_slots.load(std::memory_order_relaxed);
  const uint64_t ticket = t->recent_head.fetch_add(1, std::memory_order_relaxed) + 1;
  RecentSlot& r = recent_slots(t)[(ticket - 1) % n];
  uint64_t held = slot_lock(r.seq);
  if (r.ticket.load(std::memory_order_relaxed) < ticket) {  // a lapping writer may be newer
    long pid = info.pid ? info.pid : static_cast<long>(getpid());
    char id[kShmIdChars];
    const char* rid = info.record_id;
    if (!rid) {
      format_record_id(pid, now, id, sizeof id);
      rid = id;
    }
    r.ticket.store(ticket, std::memory_order_relaxed);
    r.time_us.store(now, std::memory_order_relaxed);
    r.signature.store(s.signature, std::memory_order_relaxed);
    r.pid.store(pid, std::memory_order_relaxed);
    r.signo.store(static_cast<uint32_t>(s.signo), std::memory_order_relaxed);
    r.id.store(rid);
    r.method.store(info.method);
    r.path.store(path);
    r.vhost.store(info.vhost);
  }
  slot_unlock(r.seq, held);
}

// Copies a slot with the seqlock protocol: fn(slot) copies, returns true when the copy is
// consistent. A few retries, then the slot is skipped (a writer owns it right now).
template <class Slot, class Fn>
bool read_slot(const Slot& s, Fn&& fn) {
  for (int i = 0; i < 64; ++i) {
    uint64_t b = slot_read_begin(s.seq);
    if ((b & 1) == 0) {
      fn(s);
      if (slot_read_ok(s.seq, b)) return true;
    }
    if (i > 8) sched_yield();
  }
  return false;
}

template <size_t N>
std::string text_of(const AtomicText<N>& t) {
  char buf[N];
  t.load(buf);
  return std::string(buf);
}

}  // namespace

// ---- slot locks --------------------------------------------------------------------------

uint64_t slot_lock(AU64& seq) noexcept {
  uint64_t v = seq.load(std::memory_order_relaxed);
  bool watching = false;
  uint64_t watched = 0;
  int64_t since = 0;
  unsigned spins = 0;
  for (;;) {
    if ((v & 1) == 0) {
      if (seq.compare_exchange_weak(v, v + 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
        std::atomic_thread_fence(std::memory_order_release);
        return v + 1;
      }
      continue;
    }
    if (++spins >= 64) {
      spins = 0;
      int64_t now = mono_us();
      if (!watching || v != watched) {
        watching = true;
        watched = v;
        since = now;
      } else if (now - since >= kStealUs) {
        if (seq.compare_exchange_strong(v, v + 2, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
          std::atomic_thread_fence(std::memory_order_release);
          return v + 2;
        }
        continue;
      }
      sched_yield();
    } else {
      cpu_relax();
    }
    v = seq.load(std::memory_order_relaxed);
  }
}

void slot_unlock(AU64& seq, uint64_t held) noexcept {
  uint64_t expected = held;
  seq.compare_exchange_strong(expected, held + 1, std::memory_order_release,
                              std::memory_order_relaxed);
}

int64_t shm_now_us() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// ---- lifecycle ---------------------------------------------------------------------------

// apr_shm's usable address is the mapping + 8 (APR keeps the size in front): the table starts
// at the next 64-byte boundary, the same offset in every process that maps the segment.
static char* align64(void* mem) noexcept {
  uintptr_t a = (reinterpret_cast<uintptr_t>(mem) + 63) & ~uintptr_t{63};
  return reinterpret_cast<char*>(a);
}

size_t shm_table_bytes(const ShmLayout& layout) noexcept {
  return offsets(clamp(layout)).total + 64;  // + room to align
}

ShmTable* shm_table_init(void* mem, size_t bytes, const ShmLayout& layout) noexcept {
  if (!mem) return nullptr;
  const ShmLayout l = clamp(layout);
  const Offsets o = offsets(l);
  char* base = align64(mem);
  const size_t skip = static_cast<size_t>(base - static_cast<char*>(mem));
  if (bytes < skip || bytes - skip < o.total) return nullptr;
  std::memset(base, 0, o.total);
  auto* t = new (base) ShmTable();
  for (uint32_t i = 0; i < l.signature_slots; ++i)
    new (base + o.sig + i * sizeof(SigSlot)) SigSlot();
  for (uint32_t i = 0; i < l.quarantine_slots; ++i) new (base + o.q + i * sizeof(QSlot)) QSlot();
  for (uint32_t i = 0; i < l.recent_crashes; ++i)
    new (base + o.recent + i * sizeof(RecentSlot)) RecentSlot();
  t->version.store(kShmVersion, std::memory_order_relaxed);
  t->sig_slots.store(l.signature_slots, std::memory_order_relaxed);
  t->q_slots.store(l.quarantine_slots, std::memory_order_relaxed);
  t->recent_slots.store(l.recent_crashes, std::memory_order_relaxed);
  t->total_bytes.store(o.total, std::memory_order_relaxed);
  t->sig_offset.store(o.sig, std::memory_order_relaxed);
  t->q_offset.store(o.q, std::memory_order_relaxed);
  t->recent_offset.store(o.recent, std::memory_order_relaxed);
  t->created_us.store(shm_now_us(), std::memory_order_relaxed);
  quarantine_set_policy(t, QuarantinePolicy{});
  t->magic.store(kShmMagic, std::memory_order_release);  // last: attach() checks it
  return t;
}

ShmTable* shm_table_attach(void* mem) noexcept {
  if (!mem) return nullptr;
  auto* t = reinterpret_cast<ShmTable*>(align64(mem));
  if (t->magic.load(std::memory_order_acquire) != kShmMagic) return nullptr;
  if (t->version.load(std::memory_order_relaxed) != kShmVersion) return nullptr;
  ShmLayout l{t->sig_slots.load(std::memory_order_relaxed),
              t->q_slots.load(std::memory_order_relaxed),
              t->recent_slots.load(std::memory_order_relaxed)};
  const Offsets o = offsets(l);
  if (l.signature_slots != clamp(l).signature_slots ||
      l.quarantine_slots != clamp(l).quarantine_slots ||
      l.recent_crashes != clamp(l).recent_crashes ||
      t->total_bytes.load(std::memory_order_relaxed) != o.total ||
      t->sig_offset.load(std::memory_order_relaxed) != o.sig ||
      t->q_offset.load(std::memory_order_relaxed) != o.q ||
      t->recent_offset.load(std::memory_order_relaxed) != o.recent)
    return nullptr;
  return t;
}

ShmLayout shm_table_layout(const ShmTable* t) noexcept {
  if (!t) return ShmLayout{0, 0, 0};
  return ShmLayout{t->sig_slots.load(std::memory_order_relaxed),
                   t->q_slots.load(std::memory_order_relaxed),
                   t->recent_slots.load(std::memory_order_relaxed)};
}

// ---- writers -----------------------------------------------------------------------------

void shm_record_crash(ShmTable* t, const crash::CrashSummary& s, const char* key_text) noexcept {
  ShmCrashInfo info;
  info.key_text = key_text;
  shm_record_crash_ex(t, s, info);
}

void shm_record_crash_ex(ShmTable* t, const crash::CrashSummary& s,
                         const ShmCrashInfo& info) noexcept {
  if (!t) return;
  const int64_t now = s.time_us ? s.time_us : shm_now_us();
  const int sig = (s.signo >= 0 && s.signo <= kShmMaxSignal) ? s.signo : 0;
  t->crashes_total.fetch_add(1, std::memory_order_relaxed);
  t->crashes_by_signal[sig].fetch_add(1, std::memory_order_relaxed);
  t->generation_crashes.fetch_add(1, std::memory_order_relaxed);
  if (s.record_written)
    t->records_written.fetch_add(1, std::memory_order_relaxed);
  else if (s.record_dropped)
    t->records_dropped.fetch_add(1, std::memory_order_relaxed);
  else if (s.folded)
    t->records_folded.fetch_add(1, std::memory_order_relaxed);

  const char* path = info.path ? info.path : s.path;
  if (s.signature != 0) record_signature(t, s, path, info, now);
  record_recent(t, s, path, info, now);
  if (s.key_hash != 0) quarantine_note_crash(t, s.key_hash, info.key_text, now);
}

uint64_t shm_note_early_crash(ShmTable* t, int64_t uptime_us, int64_t early_us, int64_t now_us,
                              int64_t window_us) noexcept {
  if (!t || uptime_us < 0 || uptime_us >= early_us) return 0;
  constexpr auto rx = std::memory_order_relaxed;
  t->generation_early_crashes.fetch_add(1, rx);
  constexpr uint32_t n = sizeof t->early_ring / sizeof t->early_ring[0];
  t->early_ring[t->early_pos.fetch_add(1, rx) % n].store(now_us, rx);
  uint64_t recent = 0;
  for (const auto& r : t->early_ring) {
    int64_t ts = r.load(rx);
    if (ts != 0 && ts > now_us - window_us && ts <= now_us) ++recent;
  }
  return recent;
}

bool shm_fold_check(ShmTable* t, uint64_t signature, int64_t now, uint32_t after, uint32_t window_s,
                    uint64_t* carried) noexcept {
  *carried = 0;
  if (!t || after == 0 || signature == 0) return false;
  uint64_t held = 0;
  bool fresh = false;
  SigSlot* slot = lock_signature(t, signature, now, &held, &fresh);
  if (!slot) return false;  // contended: write the record (never lose one silently)
  constexpr auto rx = std::memory_order_relaxed;
  const int64_t window = static_cast<int64_t>(window_s ? window_s : 1) * 1000000;
  int64_t start = slot->fold_window_us.load(rx);
  if (start == 0 || now - start >= window || now < start) {
    slot->fold_window_us.store(now, rx);
    slot->fold_written.store(0, rx);
  }
  bool fold = false;
  if (slot->fold_written.load(rx) >= after) {
    *carried = slot->fold_pending.fetch_add(1, rx) + 1;
    fold = true;
  } else {
    slot->fold_written.fetch_add(1, rx);
    *carried = slot->fold_pending.exchange(0, rx);
  }
  slot_unlock(slot->seq, held);
  return fold;
}

void shm_note_child_died(ShmTable* t, int /*signo*/) noexcept {
  if (t) t->children_died.fetch_add(1, std::memory_order_relaxed);
}

void shm_table_begin_generation(ShmTable* t, uint32_t generation) noexcept {
  if (!t) return;
  t->generation.store(generation, std::memory_order_relaxed);
  t->generation_crashes.store(0, std::memory_order_relaxed);
  t->generation_early_crashes.store(0, std::memory_order_relaxed);
  for (auto& r : t->early_ring) r.store(0, std::memory_order_relaxed);
}

bool shm_claim_generation_diagnosis(ShmTable* t, uint32_t generation) noexcept {
  if (!t) return false;
  // Stored as generation + 1 so that generation 0 can be claimed too.
  uint32_t cur = t->diagnosed_generation.load(std::memory_order_relaxed);
  while (cur != generation + 1) {
    if (t->diagnosed_generation.compare_exchange_weak(cur, generation + 1,
                                                      std::memory_order_relaxed))
      return true;
  }
  return false;
}

void shm_table_reset_quarantine(ShmTable* t) noexcept {
  if (!t) return;
  t->q_max_until.store(0, std::memory_order_relaxed);
  const uint32_t n = t->q_slots.load(std::memory_order_relaxed);
  QSlot* q = q_slots(t);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t held = slot_lock(q[i].seq);
    q[i].key.store(0, std::memory_order_relaxed);
    q[i].until_us.store(0, std::memory_order_relaxed);
    q[i].last_logged_until.store(0, std::memory_order_relaxed);
    q[i].refused.store(0, std::memory_order_relaxed);
    q[i].crashes.store(0, std::memory_order_relaxed);
    q[i].first_us.store(0, std::memory_order_relaxed);
    q[i].last_us.store(0, std::memory_order_relaxed);
    q[i].since_us.store(0, std::memory_order_relaxed);
    q[i].last_duration_us.store(0, std::memory_order_relaxed);
    q[i].strikes.store(0, std::memory_order_relaxed);
    q[i].ring_pos.store(0, std::memory_order_relaxed);
    for (auto& r : q[i].ring) r.store(0, std::memory_order_relaxed);
    q[i].text.clear();
    slot_unlock(q[i].seq, held);
  }
}

// ---- readers -----------------------------------------------------------------------------

ShmSnapshot shm_snapshot(const ShmTable* t, int64_t now_us) {
  ShmSnapshot snap;
  snap.taken_us = now_us;
  if (!t) return snap;
  snap.layout = shm_table_layout(t);
  snap.policy = quarantine_policy(t);
  constexpr auto rx = std::memory_order_relaxed;

  ShmCounters& c = snap.counters;
  c.crashes_total = t->crashes_total.load(rx);
  for (int i = 0; i <= kShmMaxSignal; ++i)
    c.crashes_by_signal[i] = t->crashes_by_signal[i].load(rx);
  c.records_written = t->records_written.load(rx);
  c.records_dropped = t->records_dropped.load(rx);
  c.records_folded = t->records_folded.load(rx);
  c.children_died = t->children_died.load(rx);
  c.quarantine_refused = t->refused_total.load(rx);
  c.quarantines_started = t->quarantines_started.load(rx);
  c.signature_evictions = t->sig_evictions.load(rx);
  c.quarantine_evictions = t->q_evictions.load(rx);
  c.slot_busy_giveups = t->busy_giveups.load(rx);
  c.generation = t->generation.load(rx);
  c.generation_crashes = t->generation_crashes.load(rx);
  c.generation_early_crashes = t->generation_early_crashes.load(rx);
  c.created_us = t->created_us.load(rx);

  // Signatures, merged by signature (two racing claims of a new one under eviction).
  std::unordered_map<uint64_t, size_t> sig_index;
  const SigSlot* ss = sig_slots(t);
  for (uint32_t i = 0; i < snap.layout.signature_slots; ++i) {
    SignatureRow row;
    bool ok = read_slot(ss[i], [&](const SigSlot& s) {
      row.signature = s.key.load(rx);
      row.count = s.count.load(rx);
      row.first_us = s.first_us.load(rx);
      row.last_us = s.last_us.load(rx);
      row.signo = static_cast<int>(s.signo.load(rx));
      row.last_path = text_of(s.path);
      row.last_vhost = text_of(s.vhost);
      row.top_frame = text_of(s.frame);
    });
    if (!ok || row.signature == 0 || row.count == 0) continue;
    auto [it, inserted] = sig_index.emplace(row.signature, snap.signatures.size());
    if (inserted) {
      snap.signatures.push_back(std::move(row));
      continue;
    }
    SignatureRow& m = snap.signatures[it->second];
    m.count += row.count;
    m.first_us = std::min(m.first_us, row.first_us);
    if (row.last_us > m.last_us) {
      m.last_us = row.last_us;
      m.last_path = std::move(row.last_path);
      m.last_vhost = std::move(row.last_vhost);
      m.top_frame = std::move(row.top_frame);
    }
  }
  std::sort(snap.signatures.begin(), snap.signatures.end(), [](const auto& a, const auto& b) {
    return a.count != b.count ? a.count > b.count : a.last_us > b.last_us;
  });

  const RecentSlot* rs = recent_slots(t);
  for (uint32_t i = 0; i < snap.layout.recent_crashes; ++i) {
    RecentCrashRow row;
    bool ok = read_slot(rs[i], [&](const RecentSlot& r) {
      row.seq = r.ticket.load(rx);
      row.time_us = r.time_us.load(rx);
      row.signature = r.signature.load(rx);
      row.pid = static_cast<long>(r.pid.load(rx));
      row.signo = static_cast<int>(r.signo.load(rx));
      row.id = text_of(r.id);
      row.method = text_of(r.method);
      row.path = text_of(r.path);
      row.vhost = text_of(r.vhost);
    });
    if (ok && row.seq != 0) snap.recent.push_back(std::move(row));
  }
  std::sort(snap.recent.begin(), snap.recent.end(),
            [](const auto& a, const auto& b) { return a.seq > b.seq; });

  std::unordered_map<uint64_t, size_t> q_index;
  const QSlot* qs = q_slots(t);
  const int64_t window_us = static_cast<int64_t>(snap.policy.window_s) * 1000000;
  for (uint32_t i = 0; i < snap.layout.quarantine_slots; ++i) {
    QuarantineRow row;
    bool ok = read_slot(qs[i], [&](const QSlot& q) {
      row.key_hash = q.key.load(rx);
      row.key = text_of(q.text);
      row.crashes = q.crashes.load(rx);
      row.first_crash_us = q.first_us.load(rx);
      row.last_crash_us = q.last_us.load(rx);
      row.since_us = q.since_us.load(rx);
      row.until_us = q.until_us.load(rx);
      row.strikes = q.strikes.load(rx);
      row.refused = q.refused.load(rx);
      row.crashes_in_window = 0;
      for (const auto& r : q.ring) {
        int64_t ts = r.load(rx);
        if (ts != 0 && ts > now_us - window_us && ts <= now_us) ++row.crashes_in_window;
      }
    });
    if (!ok || row.key_hash == 0) continue;
    row.active = snap.policy.enabled && row.until_us > now_us;
    auto [it, inserted] = q_index.emplace(row.key_hash, snap.quarantine.size());
    if (inserted) {
      snap.quarantine.push_back(std::move(row));
      continue;
    }
    QuarantineRow& m = snap.quarantine[it->second];
    m.crashes += row.crashes;
    m.refused += row.refused;
    m.crashes_in_window += row.crashes_in_window;
    m.first_crash_us = std::min(m.first_crash_us, row.first_crash_us);
    m.last_crash_us = std::max(m.last_crash_us, row.last_crash_us);
    if (row.until_us > m.until_us) {
      m.until_us = row.until_us;
      m.since_us = row.since_us;
      m.strikes = row.strikes;
      m.active = row.active;
    }
    if (m.key.empty()) m.key = std::move(row.key);
  }
  std::sort(snap.quarantine.begin(), snap.quarantine.end(), [](const auto& a, const auto& b) {
    if (a.active != b.active) return a.active;
    return a.last_crash_us > b.last_crash_us;
  });
  return snap;
}

}  // namespace selfheal
