// Backtraces from a signal context with libunwind (DWARF CFI: works without frame pointers).
#pragma once

#include <ucontext.h>

#include <cstddef>
#include <cstdint>

#include "crash/modules_snapshot.h"
#include "selfheal/crash.h"

namespace selfheal::crash {

struct Frame {
  uintptr_t pc;
  const ModuleInfo* module;  // null: pc in no loaded object
};

struct Backtrace {
  Frame frames[kMaxFrames];
  int n = 0;
  bool truncated = false;  // the stack was deeper than kMaxFrames
  bool faulted = false;    // the unwinder hit unreadable memory; frames so far are kept
  bool recovered = false;  // the top pc was in no object; continued from the return address
};

// Loads and initialises everything the first unwind needs (libunwind's lazy state, the
// unwind tables of loaded objects) and turns libunwind's cache off (the global cache takes a
// lock). NOT async-signal-safe. Called by install().
void unwind_warm_up() noexcept;

// Walks the stack of the interrupted context uc, top first. When the faulting pc is in no
// loaded object (a call through a null or garbage pointer), emits that frame and continues
// from the return address at the stack pointer. Async-signal-safe in the sense that matters
// here: no allocation outside libunwind's own mmap pool, no locks except the loader's
// dl_iterate_phdr lock. A fault inside the unwinder is caught when the handler routes it to
// unwind_recover() (the frames found so far are kept, faulted is set).
void unwind_from_signal(ucontext_t* uc, Backtrace* out) noexcept;

// Called by the signal handler on a fault in the thread that is unwinding: if an unwind is in
// progress on this thread, jumps back into unwind_from_signal (does not return); otherwise
// returns. Async-signal-safe.
void unwind_recover() noexcept;

// Whether the current thread is inside unwind_from_signal. Async-signal-safe.
bool unwind_active() noexcept;

}  // namespace selfheal::crash
