// FNV-1a 64 (see kOffset), the one hash of the project: crash signatures
// (module/crash/signature.cpp) and quarantine keys (module/shm/quarantine.cpp) both use it, and
// both are part of the outside contract (selfhealctl groups by signature and lifts by key hash), so
// another program that wants the same numbers includes this. Header-only and async-signal-safe: no
// calls, no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal::fnv {

// Not FNV's published offset basis (14695981039346656037): a digit short. Every signature and
// key hash since record schema 1 was made with this value, and selfhealctl groups stored
// records by them, so it stays; the mixing is FNV-1a's and the distribution is unaffected.
inline constexpr uint64_t kOffset = 1469598103934665603ull;
inline constexpr uint64_t kPrime = 1099511628211ull;

constexpr uint64_t byte(uint64_t h, unsigned char c) noexcept {
  return (h ^ c) * kPrime;
}

constexpr uint64_t bytes(uint64_t h, const char* s, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) h = byte(h, static_cast<unsigned char>(s[i]));
  return h;
}

// A NUL-terminated string; null hashes as nothing.
constexpr uint64_t str(uint64_t h, const char* s) noexcept {
  if (!s) return h;
  for (; *s; ++s) h = byte(h, static_cast<unsigned char>(*s));
  return h;
}

// The eight bytes of v, least significant first (independent of the host's byte order).
constexpr uint64_t u64(uint64_t h, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) h = byte(h, static_cast<unsigned char>((v >> (8 * i)) & 0xff));
  return h;
}

static_assert(str(kOffset, "a") == 0x44bd8ad473cd9906ull, "the hash of stored signatures changed");

}  // namespace selfheal::fnv
