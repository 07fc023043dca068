// Crash signatures: the same bug gives the same signature across processes, restarts and
// address-space layouts. Used by the crash handler (for shared-memory counters and
// quarantine) and by selfhealctl (for grouping), so both agree.
//
// The rule: walk the frames from the top; skip frames in the signal machinery and in the
// C runtime (module basename starting with "libc.so", "libc-", "ld-linux", "libpthread",
// "libgcc_s", "libunwind", "libstdc++" when it only rethrows/aborts, and mod_selfheal.so
// itself) and frames with no module; take the first kSignatureFrames that remain; hash
// (FNV-1a 64) the module basename and the module-relative offset of each, in order, plus the
// signal name. If nothing remains after skipping, hash the skipped frames instead.
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal {

inline constexpr int kSignatureFrames = 3;

struct SigFrame {
  const char* module;  // full path or basename; may be null
  uint64_t offset;     // module-relative
};

// Async-signal-safe (no allocation, no locale).
bool signature_skips_module(const char* module) noexcept;
uint64_t crash_signature(const char* signal_name, const SigFrame* frames, size_t n) noexcept;
// Writes the 16 lowercase hex digits and a NUL into out[17]. Async-signal-safe.
void signature_hex(uint64_t sig, char out[17]) noexcept;

}  // namespace selfheal
