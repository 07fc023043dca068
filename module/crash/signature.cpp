// Crash signatures (see module/crash/signature.h). Every function here is
// async-signal-safe: no allocation, no locale, no library calls.
#include "crash/signature.h"

#include "selfheal/fnv.h"

namespace selfheal {
namespace {

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
  static const char* const kSkipped[] = {"libc.so",  "libc-",     "ld-linux",   "libpthread",
                                         "libgcc_s", "libunwind", "linux-vdso", "mod_selfheal.so"};
  for (const char* s : kSkipped)
    if (starts_with(b, s)) return true;
  return false;
}

uint64_t crash_signature(const char* signal_name, const SigFrame* frames, size_t n) noexcept {
  uint64_t h = fnv::str(fnv::kOffset, signal_name);
  int taken = 0;
  for (size_t i = 0; i < n && taken < kSignatureFrames; ++i) {
    if (signature_skips_module(frames[i].module)) continue;
    h = fnv::str(h, base_name(frames[i].module));
    h = fnv::u64(h, frames[i].offset);
    ++taken;
  }
  if (taken == 0) {  // everything was runtime: use the raw top frames so it still groups
    for (size_t i = 0; i < n && taken < kSignatureFrames; ++i, ++taken) {
      h = fnv::str(h, frames[i].module ? base_name(frames[i].module) : "?");
      h = fnv::u64(h, frames[i].offset);
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
