// The shared-memory crash table: counters, crash signatures, recent crashes and quarantine,
// shared by httpd's parent and all its children.
//
// The parent creates the segment (apr_shm_create, anonymous) in post_config with
// shm_table_bytes(layout) bytes and calls shm_table_init() on it; children inherit the mapping
// and call shm_table_attach() in child_init. Writers are the crash handler (shm_record_crash,
// inside a fatal-signal handler), the request path (quarantine_check counts refusals) and the
// status handler (lift). Readers take snapshots.
//
// Concurrency: everything in the segment is a lock-free std::atomic (static_asserted
// is_always_lock_free, so address-free across processes). Counters are fetch_add. Each slot
// carries a sequence word: even = stable, odd = a writer owns the slot (claimed with a CAS).
// Readers never wait: they copy a slot and retry/skip when the sequence changed or was odd
// (so a half-written key text or path is never shown). Writers that find a slot busy spin
// (with sched_yield) while its owner - another crash handler - finishes its few hundred
// nanoseconds of stores; a slot whose owner died while holding it (killed inside the handler)
// is taken over after 0.5 s. No writer ever allocates, takes a mutex or makes a system call
// other than getpid/clock_gettime/sched_yield.
//
// Full tables evict: signatures evict the least recently seen; quarantine keys evict, within
// their probe window, the least recently crashed entry that is not quarantined (an active
// quarantine is evicted only when all its neighbours are active too, the one expiring first).
//
// Graceful restart: the segment belongs to the glue's choice of pool.
//   - Created in the process pool (pconf of the first post_config, kept with
//     apr_pool_userdata): survives graceful and plain restarts; counters and quarantines
//     continue. Call shm_table_attach() on the old memory in each post_config and
//     quarantine_set_policy() with the new policy; layout changes need a new segment.
//   - To make "a graceful restart lifts all quarantines" (the promise: an operator lifts a
//     quarantine ... or by a graceful restart), call shm_table_reset_quarantine() in
//     post_config of a restart (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_CONFIG with
//     generation > 0). The crash counters survive; only the quarantine is forgotten.
//   - Created in pconf every time: everything restarts from zero at each restart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "selfheal/crash.h"
#include "shm/quarantine.h"

namespace selfheal {

inline constexpr uint64_t kShmMagic = 0x314c414548464c53ull;  // "SLFHEAL1", little-endian
inline constexpr uint32_t kShmVersion = 2;                    // 2: fold limiter, early crashes

// Fixed text sizes (bytes including the NUL; longer strings are truncated).
inline constexpr size_t kShmPathChars = 160;
inline constexpr size_t kShmVhostChars = 96;
inline constexpr size_t kShmFrameChars = 128;
inline constexpr size_t kShmKeyChars = 256;
inline constexpr size_t kShmMethodChars = 24;
inline constexpr size_t kShmIdChars = 40;
inline constexpr int kShmMaxSignal = 64;  // crashes_by_signal[0..64]; others count as 0

struct ShmLayout {
  uint32_t signature_slots = 128;   // 1..65536
  uint32_t quarantine_slots = 256;  // 1..1048576 (SelfHealQuarantineSlots, say)
  uint32_t recent_crashes = 32;     // 1..1024
};

// Everything the crash handler knows beyond CrashSummary. All pointers may be null; strings
// must be readable (handler-owned copies). Plain struct, filled on the handler's stack.
struct ShmCrashInfo {
  const char* key_text = nullptr;  // quarantine key text, see quarantine_key_text()
  const char* method = nullptr;
  const char* vhost = nullptr;      // "server_hostname:port"
  const char* path = nullptr;       // defaults to CrashSummary::path
  const char* top_frame = nullptr;  // e.g. "mod_foo.so+0x1a2b" (first non-skipped frame)
  const char* record_id = nullptr;  // defaults to "<pid>-<time_us hex>" as in the crash log
  long pid = 0;                     // defaults to getpid()
};

// Bytes to allocate for layout (clamped as in ShmLayout's comments), including 64 bytes of
// room to align. Async-signal-safe.
size_t shm_table_bytes(const ShmLayout& layout) noexcept;

// Formats a new table into mem (any alignment: apr_shm_baseaddr_get() is only 8-byte aligned;
// the table starts at the next 64-byte boundary, so the returned pointer may differ from mem)
// holding bytes >= shm_table_bytes(layout) bytes of zero or garbage, with the default policy.
// Returns null when mem is null or too small. Only stores; meant for the parent, once.
ShmTable* shm_table_init(void* mem, size_t bytes, const ShmLayout& layout) noexcept;

// The table initialised in mem (the same mem that was given to shm_table_init), after
// validating magic, version and sizes; null when they do not match. Async-signal-safe.
ShmTable* shm_table_attach(void* mem) noexcept;

ShmLayout shm_table_layout(const ShmTable* table) noexcept;  // async-signal-safe

// The crash callback's body. Counts the crash by signal, the record as written / dropped /
// folded (summary.folded; a record that could not be written is none of these), updates the
// signature slot, the recent-crash ring and - when summary.key_hash != 0 - the quarantine
// accounting of that key. Async-signal-safe; safe under concurrent crashes in any number of
// processes.
void shm_record_crash(ShmTable* table, const crash::CrashSummary& summary,
                      const char* key_text) noexcept;
void shm_record_crash_ex(ShmTable* table, const crash::CrashSummary& summary,
                         const ShmCrashInfo& info) noexcept;

// The parent saw a child die of a signal (mpm child_status hook / ap_process_child_status).
// Async-signal-safe.
void shm_note_child_died(ShmTable* table, int signo) noexcept;

// Crash-loop support: the parent starts a generation in post_config (zeroes the per-generation
// crash count); the first child to claim a generation's diagnosis gets true, exactly once.
// Async-signal-safe.
void shm_table_begin_generation(ShmTable* table, uint32_t generation) noexcept;
bool shm_claim_generation_diagnosis(ShmTable* table, uint32_t generation) noexcept;

// Crash-loop support: notes a crash at now_us of a child that had been running uptime_us
// (< 0: unknown). A crash within early_us of its child's start is "early"; returns how many
// early crashes of the current generation fell within window_us before now_us (this one
// included; at most 8 are remembered), 0 when this one was not early. Async-signal-safe.
uint64_t shm_note_early_crash(ShmTable* table, int64_t uptime_us, int64_t early_us, int64_t now_us,
                              int64_t window_us) noexcept;

// The crash log's cross-process fold limiter (SelfHealCrashLogFold N T): at most `after`
// records per signature per window_s seconds are written, across all children (each crash
// kills its process, so a per-process limiter sees one crash each). Returns true to fold this
// record (*carried = folded so far in the window); false to write it (*carried = the records
// folded since the last one written, to say in its "folded", now reset). after == 0: never
// folds. Keeps its state in the signature's slot. Async-signal-safe.
bool shm_fold_check(ShmTable* table, uint64_t signature, int64_t now_us, uint32_t after,
                    uint32_t window_s, uint64_t* carried) noexcept;

// Forgets every quarantine entry (keys, rings, strikes); counters stay. Async-signal-safe.
void shm_table_reset_quarantine(ShmTable* table) noexcept;

// ---- readers (NOT async-signal-safe: they allocate) -------------------------------------

struct ShmCounters {
  uint64_t crashes_total = 0;
  uint64_t crashes_by_signal[kShmMaxSignal + 1] = {};
  uint64_t records_written = 0, records_dropped = 0, records_folded = 0;
  uint64_t children_died = 0;        // from shm_note_child_died
  uint64_t quarantine_refused = 0;   // requests refused, all keys
  uint64_t quarantines_started = 0;  // quarantine periods begun
  uint64_t signature_evictions = 0, quarantine_evictions = 0;
  uint64_t slot_busy_giveups = 0;  // updates skipped because a slot stayed contended
  uint32_t generation = 0;
  uint64_t generation_crashes = 0;
  uint64_t generation_early_crashes = 0;
  int64_t created_us = 0;
};

struct SignatureRow {
  uint64_t signature = 0;
  uint64_t count = 0;
  int64_t first_us = 0, last_us = 0;
  int signo = 0;
  std::string last_path, last_vhost, top_frame;
};

struct RecentCrashRow {
  uint64_t seq = 0;  // ring ticket, newest has the highest
  std::string id;
  int64_t time_us = 0;
  int signo = 0;
  uint64_t signature = 0;
  long pid = 0;
  std::string method, path, vhost;
};

struct QuarantineRow {
  uint64_t key_hash = 0;
  std::string key;
  uint64_t crashes = 0;            // crashes of this key since its slot was claimed
  uint32_t crashes_in_window = 0;  // within the policy's window, at snapshot time
  int64_t first_crash_us = 0, last_crash_us = 0;
  int64_t since_us = 0;  // start of the current/last quarantine (0: never)
  int64_t until_us = 0;  // end of it (0: never or lifted)
  uint32_t strikes = 0;
  uint64_t refused = 0;
  bool active = false;  // until_us > snapshot time and the policy is enabled
};

struct ShmSnapshot {
  int64_t taken_us = 0;
  ShmLayout layout;
  QuarantinePolicy policy;
  ShmCounters counters;
  std::vector<SignatureRow> signatures;   // by count, descending
  std::vector<RecentCrashRow> recent;     // newest first
  std::vector<QuarantineRow> quarantine;  // active first, then by last crash, descending
};

// Copies a consistent view of every slot (slots being written are retried, then skipped;
// duplicate keys from racing claims are merged). now_us decides "active".
ShmSnapshot shm_snapshot(const ShmTable* table, int64_t now_us);

}  // namespace selfheal
