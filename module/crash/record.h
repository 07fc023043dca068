// Builds one schema-1 crash record (README.md, "Crash record format") into a fixed buffer.
#pragma once

#include <signal.h>
#include <ucontext.h>

#include <cstddef>
#include <cstdint>

#include "crash/state.h"
#include "crash/unwind.h"

namespace selfheal::crash {

// Space kept back for closing brackets, sections that had to be emptied and the tail.
inline constexpr size_t kRecordReserve = 1024;

struct RecordFacts {
  int signo = 0;
  const siginfo_t* info = nullptr;
  const ucontext_t* uc = nullptr;
  int64_t time_us = 0;
  long pid = 0, ppid = 0, tid = 0;
  const Backtrace* bt = nullptr;
  uint64_t signature = 0;
  const ThreadEntry* self = nullptr;     // the crashing thread's entry, or null
  const ThreadEntry* entries = nullptr;  // the registry, for in_flight
  size_t n_entries = 0;
  uint64_t folded = 0;
  const Installed* cfg = nullptr;
};

// Writes the record (one line, ending in "}\n", always valid JSON) into buf[0..cap) and
// returns its length; *truncated tells whether a section was cut. cap must be at least
// 2 * kRecordReserve. Async-signal-safe (uname, open/read of /proc/self/statm; static
// scratch storage: one writer at a time).
size_t build_record(const RecordFacts& f, char* buf, size_t cap, bool* truncated) noexcept;

// The crash signature of a backtrace (selfheal::crash_signature over module path +
// module-relative offset). Async-signal-safe.
uint64_t backtrace_signature(int signo, const Backtrace& bt) noexcept;

// The record id "<pid>-<time_us in hex>" into out (>= 48 bytes). Async-signal-safe.
void format_record_id(long pid, int64_t time_us, char* out) noexcept;

// Resident set size in KiB from /proc/self/statm, or -1. Async-signal-safe.
long read_rss_kb(long page_size) noexcept;

}  // namespace selfheal::crash
