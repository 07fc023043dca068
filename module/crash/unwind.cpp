// libunwind-based backtraces from a signal context (see unwind.h).
#define UNW_LOCAL_ONLY
#include "crash/unwind.h"

#include <libunwind.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "crash/safe_read.h"

namespace selfheal::crash {
namespace {

sigjmp_buf g_recover;
std::atomic<long> g_unwinding_tid{0};  // tid of the thread inside unwind_from_signal

uintptr_t lookup_pc(uintptr_t pc, bool is_return_address) noexcept {
  // A return address points after the call; the call itself may be the last instruction of
  // the object, so look the module up with pc - 1.
  return is_return_address && pc > 0 ? pc - 1 : pc;
}

void add_frame(Backtrace* out, uintptr_t pc, bool is_return_address) noexcept {
  Frame& f = out->frames[out->n];
  f.pc = pc;
  f.module = module_for_pc(lookup_pc(pc, is_return_address));
  out->n = out->n + 1;
}

// Steps the cursor, appending frames until the end of the stack or kMaxFrames.
void walk(unw_cursor_t* cur, Backtrace* out, bool first_is_return) noexcept {
  bool first = true;
  uintptr_t last_sp = 0;
  for (;;) {
    unw_word_t ip = 0, sp = 0;
    if (unw_get_reg(cur, UNW_REG_IP, &ip) < 0) return;
    unw_get_reg(cur, UNW_REG_SP, &sp);
    if (!first && ip == 0) return;
    if (!first && sp <= last_sp && sp != 0) return;  // not making progress
    if (out->n >= kMaxFrames) {
      out->truncated = true;
      return;
    }
    add_frame(out, ip, first ? first_is_return : true);
    first = false;
    last_sp = sp;
    if (unw_step(cur) <= 0) return;
  }
}

void warm_walk() noexcept {
  unw_context_t ctx;
  unw_cursor_t cur;
  if (unw_getcontext(&ctx) != 0) return;
  if (unw_init_local(&cur, &ctx) != 0) return;
  for (int i = 0; i < kMaxFrames && unw_step(&cur) > 0; ++i) {
  }
}

}  // namespace

void unwind_warm_up() noexcept {
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_NONE);
  warm_walk();
}

bool unwind_active() noexcept {
  return g_unwinding_tid.load(std::memory_order_relaxed) == syscall(SYS_gettid);
}

void unwind_recover() noexcept {
  if (unwind_active()) siglongjmp(g_recover, 1);
}

void unwind_from_signal(ucontext_t* uc, Backtrace* out) noexcept {
  out->n = 0;
  out->truncated = out->faulted = out->recovered = false;
  g_unwinding_tid.store(syscall(SYS_gettid), std::memory_order_relaxed);
  if (sigsetjmp(g_recover, 0) != 0) {
    // A fault inside libunwind (corrupt stack): keep what we have.
    g_unwinding_tid.store(0, std::memory_order_relaxed);
    out->faulted = true;
    return;
  }
  static unw_cursor_t cur;  // static: the handler's stack may be small; one unwind at a time
  static ucontext_t copy;
  uintptr_t pc = 0, sp = 0, ret = 0;
#if defined(__x86_64__)
  pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
  sp = static_cast<uintptr_t>(uc->uc_mcontext.sp);
#endif
  if (pc == 0 || module_for_pc(pc) == nullptr) {
    // Jump or call to an address in no object: libunwind has no unwind info there. Emit the
    // frame and continue from the return address the call left.
    add_frame(out, pc, false);
    out->recovered = true;
    copy = *uc;
#if defined(__x86_64__)
    if (!safe_get(reinterpret_cast<const void*>(sp), &ret)) ret = 0;
    copy.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(ret);
    copy.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp + 8);
#elif defined(__aarch64__)
    ret = static_cast<uintptr_t>(uc->uc_mcontext.regs[30]);  // the link register
    copy.uc_mcontext.pc = ret;
#endif
    if (ret != 0 && unw_init_local2(&cur, &copy, 0) == 0) walk(&cur, out, true);
  } else if (unw_init_local2(&cur, uc, UNW_INIT_SIGNAL_FRAME) == 0) {
    walk(&cur, out, false);
  } else {
    add_frame(out, pc, false);
  }
  g_unwinding_tid.store(0, std::memory_order_relaxed);
}

}  // namespace selfheal::crash
