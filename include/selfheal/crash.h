// The crash core: fatal-signal handlers that write one complete crash record, then chain.
//
// Nothing here knows httpd. The glue calls install() in child-init and thread_entry() from
// hooks that run on worker threads. Each function says whether it may be called from a signal
// handler.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "selfheal/request_slot.h"

namespace selfheal::crash {

inline constexpr size_t kMaxRecordBytes = 64 * 1024;  // one record, one write(2)
inline constexpr int kSchema = 1;
inline constexpr int kMaxFrames = 128;

// What the handler tells the rest of the module about a crash (for shared-memory counters and
// quarantine). Filled inside the signal handler.
struct CrashSummary {
  int signo = 0;
  uint64_t signature = 0;  // see signature.h; same rule as selfhealctl
  uint64_t key_hash = 0;   // quarantine key of the request in flight (0: none)
  int64_t time_us = 0;
  const char* path = nullptr;  // safe copy of the request path (handler-owned buffer) or null
  bool record_written = false;
  bool record_dropped = false;  // crash log at its size cap
  // For the shared-memory table and the status page (handler-owned buffers, valid during the
  // callback only; any may be null).
  const char* key_text = nullptr;  // the quarantine key text (Config::key_parts)
  const char* method = nullptr;
  const char* vhost = nullptr;      // "server_hostname:port" (no ":port" for port 0)
  const char* top_frame = nullptr;  // "mod_x.so+0x1a2b": the first frame the signature keeps
  const char* record_id = nullptr;  // "<pid>-<time_us hex>", as in the record
  long pid = 0;
  int64_t uptime_us = -1;     // since the child started (-1: unknown)
  bool folded = false;        // the record was folded by the rate limiter (not written)
  uint64_t folded_count = 0;  // written: the "folded" it carried; folded: folded so far
};
// Called from the signal handler after the record is written: MUST be async-signal-safe
// (lock-free atomics on shared memory only).
using CrashCallback = void (*)(const CrashSummary&) noexcept;
// The fold limiter's decision for a record of this signature at time_us: true folds it (not
// written; *carried = folded so far), false writes it with "folded": *carried. Called from the
// signal handler before the record is written: MUST be async-signal-safe.
using FoldCallback = bool (*)(uint64_t signature, int64_t time_us, uint64_t* carried) noexcept;

// An address range of one of httpd's hook runners (ap_run_translate_name, ap_run_handler...):
// the innermost one on the crashing thread's stack names the phase the request was in, at no
// cost per request. Resolved by the glue at child-init.
struct PhaseRange {
  uintptr_t start = 0;
  uintptr_t end = 0;  // exclusive
  Phase phase = Phase::kNone;
};
inline constexpr size_t kMaxPhaseRanges = 48;

struct Config {
  int crash_fd = -1;  // crash log, opened by the parent with O_APPEND|O_CLOEXEC
  // The crash log's path, named in the error-log summary line (copied at install(); null or
  // "" says "the crash log").
  const char* crash_log_path = nullptr;
  int errlog_fd = 2;                     // httpd's error log is the child's stderr; -1 for none
  uint64_t max_log_bytes = 64ull << 20;  // SelfHealCrashLogMaxSize; 0 = unlimited
  bool redact = true;              // SelfHealRedact: query strings and secret headers never written
  const char* httpd_version = "";  // copied at install()
  const char* mpm = "";
  int generation = 0;
  int64_t child_start_us = 0;
  CrashCallback on_crash = nullptr;
  // Hook-runner ranges for the request phase (copied, at most kMaxPhaseRanges).
  const PhaseRange* phase_ranges = nullptr;
  size_t n_phase_ranges = 0;
  // Where cores go when the process dies by a default action (no previous handler: httpd -X,
  // SIGTRAP, SIGSYS): the handler chdir()s here first, as httpd's sig_coredump does for the
  // signals it handles. httpd's CoreDumpDirectory (ap_coredump_dir when
  // ap_coredumpdir_configured); null or "" leaves the working directory alone. Copied.
  const char* coredump_dir = nullptr;
  // The fold-identical-records limiter (a crash storm must not fill the disk): at most this many
  // records with the same signature per window; folded ones are counted and said in the next
  // record. 0 = off.
  unsigned fold_after = 0;
  unsigned fold_window_s = 60;
  // A cross-process fold limiter (the glue's, on shared memory): when set it replaces the
  // per-process one above, which cannot see the crashes of other children.
  FoldCallback fold = nullptr;
  // The parts of the request that make its quarantine key (quarantine.h kKey* bits), so
  // CrashSummary::key_hash is the hash the request path computes.
  uint32_t key_parts = 7;  // kKeyDefault: method, vhost, path
};

// Per-thread state, registered lazily. The handler walks all entries to list the other
// requests in flight. Entries live in a static table of kMaxThreadEntries; a thread's entry is
// freed (and its alternate stack unmapped) when the thread exits.
struct ThreadEntry {
  std::atomic<pid_t> tid{0};
  std::atomic<ConnSlot*> conn{nullptr};  // the connection this thread works on, or null
  std::atomic<uint64_t> requests{0};     // requests started on this thread (relaxed)
  void* altstack = nullptr;
  size_t altstack_size = 0;
};

// Installs the handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS with
// SA_SIGINFO|SA_ONSTACK, saving the previous actions to chain to; snapshots the loaded objects
// (path, base, build-id); warms up the unwinder. Sets up the calling thread's alternate stack.
// NOT async-signal-safe. Call once per process (child-init). Returns 0 or an errno value.
int install(const Config& cfg) noexcept;

// Restores the saved actions (tests, pool cleanup). NOT async-signal-safe.
void uninstall() noexcept;

// This thread's entry; on first call per thread registers it and installs a per-thread
// alternate signal stack with a guard page (mmap + sigaltstack: system calls, once per thread).
// Later calls are a TLS load. NOT async-signal-safe on the first call of a thread; safe after.
// Returns null only when kMaxThreadEntries threads are registered at once. May be called
// before install().
ThreadEntry* thread_entry() noexcept;
inline constexpr size_t kMaxThreadEntries = 4096;

// Which of our signals now has a handler that is not ours (another module replaced it; 0 while
// a crash of this process is being handed to the previous handler):
// returns the first such signal number or 0. NOT async-signal-safe (cheap: sigaction calls).
int replaced_handler() noexcept;

// Counters of this process (tests, status): records written, dropped at the cap, folded.
struct Stats {
  uint64_t written, dropped, folded;
};
Stats stats() noexcept;  // async-signal-safe

}  // namespace selfheal::crash
