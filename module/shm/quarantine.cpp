// Quarantine: key hash, per-request check, crash accounting, lift (see
// module/shm/quarantine.h for the policy and shm/table_layout.h for the slot layout).
#include "shm/quarantine.h"

#include <algorithm>

#include "selfheal/fnv.h"
#include "shm/table_layout.h"

namespace selfheal {
namespace {

constexpr int64_t kUs = 1000000;

inline uint64_t nonzero(uint64_t h) noexcept {
  return h ? h : 1;
}

// Eviction order inside a probe window: entries not quarantined, least recently crashed
// first; active quarantines only after them, the one expiring first.
struct QScore {
  int64_t now;
  int64_t operator()(const QSlot& s) const noexcept {
    int64_t until = s.until_us.load(std::memory_order_relaxed);
    if (until > now) return INT64_MAX / 2 + std::min<int64_t>(until - now, INT64_MAX / 4);
    return s.last_us.load(std::memory_order_relaxed);
  }
};

void clear_ring(QSlot& s) noexcept {
  for (auto& r : s.ring) r.store(0, std::memory_order_relaxed);
  s.ring_pos.store(0, std::memory_order_relaxed);
}

void init_slot(QSlot& s, const char* key_text, int64_t now) noexcept {
  constexpr auto rx = std::memory_order_relaxed;
  s.text.store(key_text);
  s.until_us.store(0, rx);
  s.last_logged_until.store(0, rx);
  s.refused.store(0, rx);
  s.crashes.store(0, rx);
  s.first_us.store(now, rx);
  s.last_us.store(0, rx);
  s.since_us.store(0, rx);
  s.last_duration_us.store(0, rx);
  s.strikes.store(0, rx);
  clear_ring(s);
}

uint32_t probe_window(uint32_t n) noexcept {
  return std::min<uint32_t>(kQuarantineProbe, n);
}

// Forgets a slot's quarantine (caller holds the slot). Async-signal-safe.
void lift_locked(QSlot& s) noexcept {
  s.until_us.store(0, std::memory_order_relaxed);
  s.last_duration_us.store(0, std::memory_order_relaxed);
  s.strikes.store(0, std::memory_order_relaxed);
  s.last_logged_until.store(0, std::memory_order_relaxed);
  clear_ring(s);
}

}  // namespace

uint64_t quarantine_key_hash(const char* method, const char* vhost, const char* path) noexcept {
  uint64_t h = fnv::kOffset;
  bool first = true;
  for (const char* part : {method, vhost, path}) {
    if (!part || !*part) continue;
    if (!first) h = fnv::byte(h, ' ');
    first = false;
    h = fnv::str(h, part);
  }
  return nonzero(h);
}

uint64_t quarantine_key_hash_text(const char* key_text) noexcept {
  return nonzero(key_text ? fnv::str(fnv::kOffset, key_text) : fnv::kOffset);
}

size_t quarantine_key_text(const char* method, const char* vhost, const char* path, char* out,
                           size_t size) noexcept {
  if (!out || size == 0) return 0;
  size_t n = 0;
  bool first = true;
  for (const char* part : {method, vhost, path}) {
    if (!part || !*part) continue;
    if (!first && n + 1 < size) out[n++] = ' ';
    first = false;
    for (; *part && n + 1 < size; ++part) out[n++] = *part;
  }
  out[n] = '\0';
  return n;
}

namespace {

// Feeds the key text of parts to sink(const char*, size_t) in pieces. Async-signal-safe.
template <class Sink>
void key_pieces(uint32_t mask, const QuarantineKeyParts& k, Sink&& sink) noexcept {
  bool first = true;
  auto part = [&](const char* a, const char* b = nullptr, const char* b_prefix = nullptr) {
    const bool has_a = a && *a, has_b = b && *b;
    if (!has_a && !has_b) return;
    if (!first) sink(" ", 1);
    first = false;
    if (has_a) sink(a, __builtin_strlen(a));
    if (has_b) {
      sink(b_prefix, 1);
      sink(b, __builtin_strlen(b));
    }
  };
  if (mask & kKeyMethod) part(k.method);
  if (mask & kKeyVhost) part(k.vhost);
  const char* query = (mask & kKeyQuery) ? k.query : nullptr;
  if (mask & kKeyPath)
    part(k.path, query, "?");
  else if (query)
    part(nullptr, query, "?");
  if (mask & kKeyClient) part(k.client);
}

}  // namespace

uint64_t quarantine_key_hash_parts(uint32_t mask, const QuarantineKeyParts& parts) noexcept {
  uint64_t h = fnv::kOffset;
  key_pieces(mask, parts, [&](const char* s, size_t n) { h = fnv::bytes(h, s, n); });
  return nonzero(h);
}

size_t quarantine_key_format(uint32_t mask, const QuarantineKeyParts& parts, char* out,
                             size_t size) noexcept {
  if (!out || size == 0) return 0;
  size_t len = 0;
  key_pieces(mask, parts, [&](const char* s, size_t n) {
    for (size_t i = 0; i < n && len + 1 < size; ++i) out[len++] = s[i];
  });
  out[len] = '\0';
  return len;
}

QuarantineVerdict quarantine_check(ShmTable* t, uint64_t key, int64_t now) noexcept {
  QuarantineVerdict v;
  if (!t || key == 0) return v;
  constexpr auto rx = std::memory_order_relaxed;
  if (now >= t->q_max_until.load(rx)) return v;  // nothing is quarantined: the common case
  if (!t->q_enabled.load(rx)) return v;
  const uint32_t n = t->q_slots.load(rx);
  const uint32_t window = probe_window(n);
  const uint32_t h = home_index(key, n);
  QSlot* q = q_slots(t);
  for (uint32_t i = 0; i < window; ++i) {
    uint32_t j = h + i;
    if (j >= n) j -= n;
    QSlot& s = q[j];
    if (s.key.load(rx) != key) continue;
    // Consistent (key, until): a writer may be evicting or re-quarantining the slot. It holds
    // it for a few hundred ns; after a few tries, fail open (serve the request).
    int64_t until = 0;
    uint32_t strikes = 0;
    uint64_t crashes = 0;
    bool ok = false;
    for (int attempt = 0; attempt < 4 && !ok; ++attempt) {
      uint64_t b = slot_read_begin(s.seq);
      if (b & 1) continue;
      uint64_t k = s.key.load(rx);
      until = s.until_us.load(rx);
      strikes = s.strikes.load(rx);
      crashes = s.crashes.load(rx);
      ok = slot_read_ok(s.seq, b) && k == key;
    }
    if (!ok || until <= now) continue;
    v.quarantined = true;
    v.until_us = until;
    v.strikes = strikes;
    v.crashes = crashes;
    int64_t secs = (until - now + kUs - 1) / kUs;
    v.retry_after_s = static_cast<uint32_t>(std::clamp<int64_t>(secs, 1, UINT32_MAX));
    s.refused.fetch_add(1, rx);
    t->refused_total.fetch_add(1, rx);
    int64_t logged = s.last_logged_until.load(rx);
    if (logged != until) v.log_now = s.last_logged_until.compare_exchange_strong(logged, until, rx);
    return v;
  }
  return v;
}

void quarantine_note_crash(ShmTable* t, uint64_t key, const char* key_text, int64_t now) noexcept {
  constexpr auto rx = std::memory_order_relaxed;
  const uint32_t n = t->q_slots.load(rx);
  uint64_t held = 0;
  bool fresh = false, evicted = false;
  QSlot* s =
      find_or_claim(q_slots(t), n, probe_window(n), key, &held, &fresh, &evicted, QScore{now});
  if (!s) {
    t->busy_giveups.fetch_add(1, rx);
    return;
  }
  if (evicted) t->q_evictions.fetch_add(1, rx);
  if (fresh) init_slot(*s, key_text, now);

  s->crashes.fetch_add(1, rx);
  if (now > s->last_us.load(rx)) s->last_us.store(now, rx);
  if (now < s->first_us.load(rx)) s->first_us.store(now, rx);
  uint32_t pos = s->ring_pos.load(rx);
  s->ring[pos % kQuarantineRing].store(now, rx);
  s->ring_pos.store((pos + 1) % kQuarantineRing, rx);

  const QuarantinePolicy p = quarantine_policy(t);
  const int64_t until = s->until_us.load(rx);
  if (p.enabled && until <= now) {
    const int64_t window_us = static_cast<int64_t>(p.window_s) * kUs;
    const int64_t cap_us = static_cast<int64_t>(p.cap_s) * kUs;
    const int64_t last_dur = s->last_duration_us.load(rx);
    const bool served = until > 0 && last_dur > 0;  // quarantined before, not lifted
    const bool probation = served && now < until + std::max(last_dur, window_us);
    uint32_t recent = 0;
    for (const auto& r : s->ring) {
      int64_t ts = r.load(rx);
      if (ts != 0 && ts > now - window_us) ++recent;
    }
    if (probation || recent >= p.threshold) {
      uint32_t strikes = (served && now < until + cap_us) ? s->strikes.load(rx) + 1 : 0;
      int64_t dur = static_cast<int64_t>(p.duration_s) * kUs;
      for (uint32_t i = 0; i < strikes && dur < cap_us; ++i) dur *= 2;
      dur = std::min(dur, cap_us);
      const int64_t new_until = now + dur;
      s->since_us.store(now, rx);
      s->last_duration_us.store(dur, rx);
      s->strikes.store(strikes, rx);
      s->until_us.store(new_until, rx);
      clear_ring(*s);
      // Raised before the slot is released: a check that sees the slot active also passes
      // the fast "no" test (lift_all lowers it first, then clears the slots).
      int64_t cur = t->q_max_until.load(rx);
      while (cur < new_until && !t->q_max_until.compare_exchange_weak(cur, new_until, rx)) {
      }
      t->quarantines_started.fetch_add(1, rx);
    }
  }
  slot_unlock(s->seq, held);
}

size_t quarantine_lift(ShmTable* t, uint64_t key) noexcept {
  if (!t || key == 0) return 0;
  const uint32_t n = t->q_slots.load(std::memory_order_relaxed);
  const uint32_t window = probe_window(n);
  const uint32_t h = home_index(key, n);
  QSlot* q = q_slots(t);
  size_t lifted = 0;
  for (uint32_t i = 0; i < window; ++i) {
    uint32_t j = h + i;
    if (j >= n) j -= n;
    if (q[j].key.load(std::memory_order_acquire) != key) continue;
    uint64_t held = slot_lock(q[j].seq);
    if (q[j].key.load(std::memory_order_relaxed) == key) {
      lift_locked(q[j]);
      ++lifted;
    }
    slot_unlock(q[j].seq, held);
  }
  return lifted;
}

size_t quarantine_lift_all(ShmTable* t) noexcept {
  if (!t) return 0;
  const int64_t now = shm_now_us();
  t->q_max_until.store(0, std::memory_order_relaxed);
  const uint32_t n = t->q_slots.load(std::memory_order_relaxed);
  QSlot* q = q_slots(t);
  size_t active = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (q[i].key.load(std::memory_order_acquire) == 0) continue;
    uint64_t held = slot_lock(q[i].seq);
    if (q[i].until_us.load(std::memory_order_relaxed) > now) ++active;
    lift_locked(q[i]);
    slot_unlock(q[i].seq, held);
  }
  return active;
}

void quarantine_set_policy(ShmTable* t, const QuarantinePolicy& in) noexcept {
  if (!t) return;
  constexpr auto rx = std::memory_order_relaxed;
  uint32_t cap = std::max<uint32_t>(in.cap_s, 1);
  t->q_threshold.store(std::clamp<uint32_t>(in.threshold, 1, kQuarantineRing), rx);
  t->q_window_s.store(std::max<uint32_t>(in.window_s, 1), rx);
  t->q_duration_s.store(std::clamp<uint32_t>(in.duration_s, 1, cap), rx);
  t->q_cap_s.store(cap, rx);
  t->q_enabled.store(in.enabled ? 1 : 0, rx);
}

QuarantinePolicy quarantine_policy(const ShmTable* t) noexcept {
  QuarantinePolicy p;
  if (!t) return p;
  constexpr auto rx = std::memory_order_relaxed;
  p.enabled = t->q_enabled.load(rx) != 0;
  p.threshold = t->q_threshold.load(rx);
  p.window_s = t->q_window_s.load(rx);
  p.duration_s = t->q_duration_s.load(rx);
  p.cap_s = t->q_cap_s.load(rx);
  return p;
}

}  // namespace selfheal
