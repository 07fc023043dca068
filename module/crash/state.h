// Process-wide state of the crash core shared by its translation units: the install-time
// facts (copied out of Config into static storage) and the thread registry.
#pragma once

#include <cstddef>
#include <cstdint>

#include "selfheal/crash.h"

namespace selfheal::crash {

inline constexpr size_t kMaxThreads = kMaxThreadEntries;
inline constexpr size_t kAltStackSize = 128 * 1024;  // usable; a PROT_NONE guard page below

struct Installed {
  int crash_fd = -1;
  int errlog_fd = -1;
  uint64_t max_log_bytes = 0;
  bool redact = true;
  char httpd_version[128] = {};
  char mpm[32] = {};
  char crash_log_path[512] = {};
  char coredump_dir[512] = {};
  int generation = 0;
  int64_t child_start_us = 0;
  CrashCallback on_crash = nullptr;
  PhaseRange phase_ranges[kMaxPhaseRanges] = {};
  size_t n_phase_ranges = 0;
  unsigned fold_after = 0;
  unsigned fold_window_s = 60;
  FoldCallback fold = nullptr;
  uint32_t key_parts = 7;
  long gmtoff = 0;  // local time offset at install(), for the error-log stamp
  long page_size = 4096;
};

// The copy made by install(). Async-signal-safe (a static object).
Installed& installed() noexcept;
// Copies cfg into installed() and computes gmtoff/page size. NOT async-signal-safe.
void set_installed(const Config& cfg) noexcept;

// The registry: entries [0, registry_count()) may be in use (tid != 0). Async-signal-safe.
ThreadEntry* registry_entries() noexcept;
size_t registry_count() noexcept;
// This thread's entry if it registered, without registering. Async-signal-safe (TLS load).
ThreadEntry* current_entry() noexcept;

}  // namespace selfheal::crash
