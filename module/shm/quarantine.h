// Quarantine: a request shape that keeps killing workers is refused (503 + Retry-After).
//
// The state lives in the shared-memory table (shm_table.h); this header is the per-request
// side (key hash + check, both on EVERY request) and the operator side (lift, policy).
//
// The request key is the quarantine key text, by default "METHOD vhost path" (path without the
// query). quarantine_key_hash() hashes exactly the bytes of that text (parts joined by one
// space, null/empty parts left out), so a key can be lifted by its text as well as by its hash.
//
// Lifecycle of a key (all times from the crash records, in µs since the epoch):
//   - every crash of a request with key K pushes its time into K's ring (last 16 crashes);
//   - when >= threshold of them fall within window_s, K is quarantined until
//     now + min(duration_s * 2^strikes, cap_s); strikes starts at 0 and grows by one per
//     repeat quarantine, so the durations are D, 2D, 4D ... cap;
//   - expiry is lazy: until_us in the past means "not quarantined", nothing runs at expiry;
//   - probation: a crash of K after expiry but within max(last duration, window_s) of it
//     re-quarantines K at once (one crash suffices) with strikes + 1;
//   - forgiveness: a key whose last quarantine ended more than cap_s ago starts again at
//     strikes 0 (needs threshold crashes again);
//   - quarantine_lift() clears until, strikes and the crash ring (full forgiveness).
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal {

struct ShmTable;  // shm_table.h

inline constexpr uint32_t kQuarantineRing = 16;  // crash times kept per key; threshold <= this
inline constexpr uint32_t kQuarantineProbe = 8;  // slots probed per key (bounded, O(1))

struct QuarantinePolicy {
  bool enabled = true;         // SelfHealQuarantine off -> false: nothing is refused
  uint32_t threshold = 3;      // N crashes ...
  uint32_t window_s = 60;      // ... within T seconds
  uint32_t duration_s = 300;   // D: first quarantine
  uint32_t cap_s = 24 * 3600;  // upper bound of D * 2^strikes
};

struct QuarantineVerdict {
  bool quarantined = false;
  bool log_now = false;        // true for exactly one request per key and quarantine period
  uint32_t retry_after_s = 0;  // ceil(until - now), >= 1 when quarantined
  uint32_t strikes = 0;        // 0 for the first quarantine of this key
  int64_t until_us = 0;
  uint64_t crashes = 0;  // crashes recorded for this key since its slot was claimed
};

// FNV-1a 64 over "method vhost path" (null or empty parts omitted, one space between parts).
// Never returns 0 (0 means "no key"). No allocation, no locale. Async-signal-safe.
uint64_t quarantine_key_hash(const char* method, const char* vhost, const char* path) noexcept;
// The same hash over an already formatted key text. Async-signal-safe.
uint64_t quarantine_key_hash_text(const char* key_text) noexcept;
// Formats "method vhost path" into out (always NUL-terminated, truncated to size - 1); returns
// the length written. quarantine_key_hash_text(out) == quarantine_key_hash(...) unless it was
// truncated. Async-signal-safe.
size_t quarantine_key_text(const char* method, const char* vhost, const char* path, char* out,
                           size_t size) noexcept;

// Which parts of a request make its key (SelfHealQuarantineKey): a bit set. The key text
// joins the present parts in this order with one space - "METHOD vhost path client" - where
// the query, when chosen, follows the path as "path?query" (or stands alone as "?query").
// Empty or null parts are left out. With kKeyDefault the text and hash are exactly those of
// quarantine_key_text()/quarantine_key_hash() over (method, vhost, path).
enum : uint32_t {
  kKeyMethod = 1u << 0,
  kKeyVhost = 1u << 1,
  kKeyPath = 1u << 2,
  kKeyQuery = 1u << 3,
  kKeyClient = 1u << 4,
};
inline constexpr uint32_t kKeyDefault = kKeyMethod | kKeyVhost | kKeyPath;
inline constexpr uint32_t kKeyAll = kKeyDefault | kKeyQuery | kKeyClient;

struct QuarantineKeyParts {
  const char* method = nullptr;
  const char* vhost = nullptr;   // "server_hostname:port" (":port" left out for port 0)
  const char* path = nullptr;    // without the query
  const char* query = nullptr;   // without the '?'
  const char* client = nullptr;  // the client address (useragent_ip)
};

// The key hash of the chosen parts, streaming (no buffer, no length limit). Never 0.
// Async-signal-safe.
uint64_t quarantine_key_hash_parts(uint32_t mask, const QuarantineKeyParts& parts) noexcept;
// The key text of the chosen parts into out (NUL-terminated, truncated to size - 1); returns
// the length written. Async-signal-safe.
size_t quarantine_key_format(uint32_t mask, const QuarantineKeyParts& parts, char* out,
                             size_t size) noexcept;

// The per-request check: is the key quarantined at now_us? Lock-free and wait-free: a load of
// the table-wide "latest until" (one cache line, the answer when nothing is quarantined), then
// at most kQuarantineProbe slots, atomics only; no system call, no allocation. Counts the
// refusal (per key and in total) when it says yes. table may be null (returns "no").
// Async-signal-safe.
QuarantineVerdict quarantine_check(ShmTable* table, uint64_t key_hash, int64_t now_us) noexcept;

// Lifts the quarantine of one key (and forgets its crash ring and strikes). Returns the number
// of slots lifted (0: key unknown). Async-signal-safe (slot locks, no allocation).
size_t quarantine_lift(ShmTable* table, uint64_t key_hash) noexcept;
// Lifts every quarantine (keeps the keys' crash counts for the status page). Returns the
// number of entries that were active. Async-signal-safe.
size_t quarantine_lift_all(ShmTable* table) noexcept;

// Stores the policy in the table, where every child reads it (the parent calls this in
// post_config at start and at every restart). Values are clamped: threshold to 1..16,
// window/duration/cap to >= 1 s, duration <= cap. Async-signal-safe.
void quarantine_set_policy(ShmTable* table, const QuarantinePolicy& policy) noexcept;
QuarantinePolicy quarantine_policy(const ShmTable* table) noexcept;  // async-signal-safe

}  // namespace selfheal
