// Per-thread state: the registry of ThreadEntry slots and the per-thread alternate signal
// stacks (see crash.h, thread_entry()).
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "crash/state.h"

namespace selfheal::crash {
namespace {

ThreadEntry g_entries[kMaxThreads];
// 0: never used, 1: in use, 2: free again (its thread exited).
std::atomic<uint8_t> g_slot_state[kMaxThreads];
std::atomic<size_t> g_next{0};  // slots [0, g_next) have been handed out at least once

// Initial-exec TLS: the module is dlopen'd, and general-dynamic TLS may allocate on a thread's
// first touch, which must never happen inside the signal handler.
constinit thread_local ThreadEntry* t_entry [[gnu::tls_model("initial-exec")]] = nullptr;

pthread_key_t g_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
bool g_key_ok = false;

size_t page_size() noexcept {
  long pg = sysconf(_SC_PAGESIZE);
  return pg > 0 ? static_cast<size_t>(pg) : 4096;
}

// Thread exit: drop the alternate stack and free the slot. NOT async-signal-safe.
void on_thread_exit(void* p) noexcept {
  auto* e = static_cast<ThreadEntry*>(p);
  if (!e) return;
  if (e->altstack) {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    size_t guard = page_size();
    munmap(static_cast<char*>(e->altstack) - guard, e->altstack_size + guard);
  }
  e->altstack = nullptr;
  e->altstack_size = 0;
  e->conn.store(nullptr, std::memory_order_release);
  e->tid.store(0, std::memory_order_release);
  t_entry = nullptr;
  size_t idx = static_cast<size_t>(e - g_entries);
  if (idx < kMaxThreads) g_slot_state[idx].store(2, std::memory_order_release);
}

// After fork() only the forking thread exists in the child: forget the others.
void on_fork_child() noexcept {
  size_t n = g_next.load(std::memory_order_relaxed);
  if (n > kMaxThreads) n = kMaxThreads;
  for (size_t i = 0; i < n; ++i) {
    if (&g_entries[i] == t_entry) continue;
    if (g_slot_state[i].load(std::memory_order_relaxed) != 1) continue;
    // Their alternate stacks are mapped in the child too; they are small and die with it.
    g_entries[i].conn.store(nullptr, std::memory_order_relaxed);
    g_entries[i].tid.store(0, std::memory_order_relaxed);
    g_entries[i].altstack = nullptr;
    g_slot_state[i].store(2, std::memory_order_release);
  }
  if (t_entry) t_entry->tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
}

void make_key() noexcept {
  g_key_ok = pthread_key_create(&g_key, [](void* p) { on_thread_exit(p); }) == 0;
  pthread_atfork(nullptr, nullptr, [] { on_fork_child(); });
}

ThreadEntry* claim_slot() noexcept {
  size_t i = g_next.fetch_add(1, std::memory_order_relaxed);
  if (i < kMaxThreads) {
    g_slot_state[i].store(1, std::memory_order_release);
    return &g_entries[i];
  }
  g_next.store(kMaxThreads, std::memory_order_relaxed);
  for (size_t j = 0; j < kMaxThreads; ++j) {
    uint8_t expected = 2;
    if (g_slot_state[j].compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
      return &g_entries[j];
  }
  return nullptr;
}

// An alternate signal stack with a PROT_NONE guard page below it, unless the thread already
// has one that is large enough. NOT async-signal-safe.
void setup_altstack(ThreadEntry* e) noexcept {
  stack_t old{};
  if (sigaltstack(nullptr, &old) == 0 && !(old.ss_flags & SS_DISABLE) &&
      old.ss_size >= kAltStackSize)
    return;
  size_t guard = page_size();
  size_t size = kAltStackSize;
  long min = sysconf(_SC_SIGSTKSZ);
  if (min > 0 && static_cast<size_t>(min) * 4 > size)
    size = (static_cast<size_t>(min) * 4 + guard - 1) / guard * guard;
  void* p = mmap(nullptr, size + guard, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return;
  if (mprotect(p, guard, PROT_NONE) != 0) {
    munmap(p, size + guard);
    return;
  }
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(p) + guard;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, size + guard);
    return;
  }
  e->altstack = ss.ss_sp;
  e->altstack_size = size;
}

}  // namespace

ThreadEntry* registry_entries() noexcept {
  return g_entries;
}

size_t registry_count() noexcept {
  size_t n = g_next.load(std::memory_order_acquire);
  return n < kMaxThreads ? n : kMaxThreads;
}

ThreadEntry* current_entry() noexcept {
  return t_entry;
}

ThreadEntry* thread_entry() noexcept {
  if (t_entry) return t_entry;
  int saved = errno;
  pthread_once(&g_key_once, make_key);
  ThreadEntry* e = claim_slot();
  if (!e) {
    errno = saved;
    return nullptr;
  }
  e->conn.store(nullptr, std::memory_order_relaxed);
  e->requests.store(0, std::memory_order_relaxed);
  e->altstack = nullptr;
  e->altstack_size = 0;
  setup_altstack(e);
  e->tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
  if (g_key_ok) pthread_setspecific(g_key, e);
  t_entry = e;
  errno = saved;
  return e;
}

}  // namespace selfheal::crash
