// Fault-tolerant reads of memory that may be unmapped or corrupt (request strings, header
// arrays, the thread's ConnSlot): a bad address yields "unreadable" instead of a second fault.
//
// Reads use process_vm_readv(2) on our own pid; where that is unavailable (seccomp, old
// kernels) they fall back to write(2) into a private pipe, which returns EFAULT for a bad
// source, and read the bytes back. Reads never cross a page boundary in one system call, so a
// string that ends just before an unmapped page is still read whole.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace selfheal::crash {

// Prepares the pipe fallback (once per process). NOT async-signal-safe (pipe2, sysconf).
// Reads work without it, but then cannot fall back.
void safe_read_init() noexcept;

// Copies up to n bytes from src; returns how many leading bytes were readable (0..n).
// Async-signal-safe. Not reentrant through the pipe fallback: one thread at a time (the crash
// handler writes the record from one thread only).
size_t safe_read(void* dst, const void* src, size_t n) noexcept;

// True when all n bytes could be copied. Async-signal-safe.
inline bool safe_copy(void* dst, const void* src, size_t n) noexcept {
  return safe_read(dst, src, n) == n;
}

template <class T>
inline bool safe_get(const void* src, T* out) noexcept {
  return safe_copy(out, src, sizeof(T));
}

// Copies the NUL-terminated string at src into dst (cap >= 1 bytes, always NUL-terminated).
// Returns the number of bytes copied (without the NUL), or -1 when src is null or the first
// byte is unreadable. *cut is set when the string was longer than cap - 1 bytes or became
// unreadable before its NUL. Async-signal-safe.
long safe_strcpy(char* dst, size_t cap, const char* src, bool* cut) noexcept;

// Tests: force the pipe fallback (true) or the normal choice (false). NOT async-signal-safe.
void safe_read_force_pipe(bool on) noexcept;
// Tests: whether the last read used the pipe. Async-signal-safe.
bool safe_read_used_pipe() noexcept;

}  // namespace selfheal::crash
