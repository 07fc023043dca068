// Fault-tolerant memory reads (see safe_read.h).
#include "crash/safe_read.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>

namespace selfheal::crash {
namespace {

std::atomic<int> g_pipe_r{-1};
std::atomic<int> g_pipe_w{-1};
std::atomic<bool> g_vm_broken{false};  // process_vm_readv refused: use the pipe
std::atomic<bool> g_force_pipe{false};
std::atomic<bool> g_used_pipe{false};
std::atomic<size_t> g_page{4096};

// One chunk that does not cross a page boundary. Async-signal-safe.
size_t read_chunk_vm(void* dst, const void* src, size_t n, bool* refused) noexcept {
  struct iovec local = {dst, n};
  struct iovec remote = {const_cast<void*>(src), n};
  long r = syscall(SYS_process_vm_readv, static_cast<long>(syscall(SYS_getpid)), &local, 1UL,
                   &remote, 1UL, 0UL);
  if (r < 0) {
    int e = errno;
    if (e == ENOSYS || e == EPERM || e == EACCES) *refused = true;
    return 0;
  }
  return static_cast<size_t>(r);
}

size_t read_chunk_pipe(void* dst, const void* src, size_t n) noexcept {
  int w = g_pipe_w.load(std::memory_order_relaxed);
  int r = g_pipe_r.load(std::memory_order_relaxed);
  if (w < 0 || r < 0) return 0;
  // Drain leftovers of an earlier interrupted read.
  char junk[256];
  while (read(r, junk, sizeof junk) > 0) {
  }
  // The raw system call: a chunk runs past the string to the page end by design, which ASan's
  // write() interceptor would report as an overflow (process_vm_readv is not intercepted).
  ssize_t put = static_cast<ssize_t>(syscall(SYS_write, w, src, n));
  if (put <= 0) return 0;
  size_t got = 0;
  while (got < static_cast<size_t>(put)) {
    ssize_t k = read(r, static_cast<char*>(dst) + got, static_cast<size_t>(put) - got);
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  return got;
}

}  // namespace

void safe_read_init() noexcept {
  long pg = sysconf(_SC_PAGESIZE);
  if (pg > 0) g_page.store(static_cast<size_t>(pg));
  if (g_pipe_r.load() >= 0) return;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    g_pipe_r.store(fds[0]);
    g_pipe_w.store(fds[1]);
  }
}

void safe_read_force_pipe(bool on) noexcept {
  if (on) safe_read_init();
  g_force_pipe.store(on);
}

bool safe_read_used_pipe() noexcept {
  return g_used_pipe.load(std::memory_order_relaxed);
}

size_t safe_read(void* dst, const void* src, size_t n) noexcept {
  if (!src || !dst) return 0;
  size_t page = g_page.load(std::memory_order_relaxed);
  size_t done = 0;
  while (done < n) {
    uintptr_t a = reinterpret_cast<uintptr_t>(src) + done;
    size_t chunk = page - (a % page);
    if (chunk > n - done) chunk = n - done;
    char* d = static_cast<char*>(dst) + done;
    const void* s = reinterpret_cast<const void*>(a);
    size_t got = 0;
    bool pipe =
        g_force_pipe.load(std::memory_order_relaxed) || g_vm_broken.load(std::memory_order_relaxed);
    if (!pipe) {
      bool refused = false;
      got = read_chunk_vm(d, s, chunk, &refused);
      if (refused) {
        g_vm_broken.store(true, std::memory_order_relaxed);
        pipe = true;
      }
    }
    if (pipe) {
      g_used_pipe.store(true, std::memory_order_relaxed);
      got = read_chunk_pipe(d, s, chunk);
    }
    done += got;
    if (got < chunk) break;
  }
  return done;
}

long safe_strcpy(char* dst, size_t cap, const char* src, bool* cut) noexcept {
  if (cut) *cut = false;
  if (cap == 0) return -1;
  dst[0] = '\0';
  if (!src) return -1;
  size_t page = g_page.load(std::memory_order_relaxed);
  size_t len = 0;
  while (len + 1 < cap) {
    uintptr_t a = reinterpret_cast<uintptr_t>(src) + len;
    size_t chunk = page - (a % page);
    if (chunk > cap - 1 - len) chunk = cap - 1 - len;
    size_t got = safe_read(dst + len, src + len, chunk);
    for (size_t i = 0; i < got; ++i) {
      if (dst[len + i] == '\0') return static_cast<long>(len + i);
    }
    len += got;
    if (got < chunk) {
      dst[len] = '\0';
      if (len == 0) return -1;
      if (cut) *cut = true;
      return static_cast<long>(len);
    }
  }
  dst[len] = '\0';
  char probe;
  if (cut) *cut = !(safe_read(&probe, src + len, 1) == 1 && probe == '\0');
  return static_cast<long>(len);
}

}  // namespace selfheal::crash
