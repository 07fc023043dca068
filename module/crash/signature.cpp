// Crash signatures (see module/crash/signature.h). Every function here is
// async-signal-safe: no allocation, no locale, no library calls.
#include "crash/signature.h"

namespace selfheal {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv_bytes(uint64_t h, const char* s) noexcept {
  if (!s) return h;
  for (; *s; ++s) {
    h ^= static_cast<unsigned char>(*s);
    h *= kFnvPrime;
  }
  return h;
}

uint64_t fnv_u64(uint64_t h, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
  return h;
}

const char* base_name(const char* path) noexcept {
  const char* b = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') b = p + 1;
  return b;
}

bool starts_with(const char* s, const char* prefix) noexcept {
  for (; *prefix; ++s, ++prefix)
    if (*s != *prefix) return false;
  return true;
}

}  // namespace

bool signature_skips_module(const char* module) noexcept {
  if (!module || !*module) return true;
  const char* b = base_name(module);
  static const char* const kSkipped[] = {"libc.so",   "libc-",         "ld-linux",
                                         "libpthread", "libgcc_s",      "libunwind",
                                         "linux-vdso", "mod_selfheal.so"};
  for (const char* s : kSkipped)
    if (starts_with(b, s)) return true;
  return false;
}

uint64_t crash_signature(const char* signal_name, const SigFrame* frames, size_t n) noexcept {
  uint64_t h = fnv_bytes(kFnvOffset, signal_name);
  int taken = 0;
  for (size_t i = 0; i < n && taken < kSignatureFrames; ++i) {
    if (signature_skips_module(frames[i].module)) continue;
    h = fnv_bytes(h, base_name(frames[i].module));
    h = fnv_u64(h, frames[i].offset);
    ++taken;
  }
  if (taken == 0) {  // everything was runtime: use the raw top frames so it still groups
    for (size_t i = 0; i < n && taken < kSignatureFrames; ++i, ++taken) {
      h = fnv_bytes(h, frames[i].module ? base_name(frames[i].module) : "?");
      h = fnv_u64(h, frames[i].offset);
    }
  }
  return h;
}

void signature_hex(uint64_t sig, char out[17]) noexcept {
  static const char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, sig >>= 4) out[i] = kHex[sig & 0xf];
  out[16] = '\0';
}

}  // namespace selfheal
