// The loaded objects of the process (path, load base, address range, GNU build-id), kept in
// static fixed-size storage so the signal handler can map a pc to module + offset without
// dladdr (which is not async-signal-safe).
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal::crash {

inline constexpr size_t kMaxModules = 512;
inline constexpr size_t kModulePathMax = 256;
inline constexpr size_t kMaxBuildId = 32;

struct ModuleInfo {
  uintptr_t base;  // dlpi_addr: module-relative offset = pc - base
  uintptr_t lo;    // lowest PT_LOAD address (absolute)
  uintptr_t hi;    // one past the highest PT_LOAD address (absolute)
  char path[kModulePathMax];
  uint8_t build_id[kMaxBuildId];
  uint8_t build_id_len;
};

// Re-reads the list with dl_iterate_phdr. The main program's empty name is replaced by
// /proc/self/exe. NOT formally async-signal-safe (dl_iterate_phdr takes the loader lock, as
// the unwinder does anyway); otherwise no allocation. Called at install(), and by the handler
// only when a frame's pc is in no known object. Returns the number of objects.
size_t modules_snapshot() noexcept;

// Async-signal-safe lookups in the last snapshot.
size_t modules_count() noexcept;
const ModuleInfo* module_at(size_t i) noexcept;
const ModuleInfo* module_for_pc(uintptr_t pc) noexcept;  // null: in no loaded object

}  // namespace selfheal::crash
