// The fatal-signal handler: install/uninstall, the first-crashing-thread election, the record
// write with its size cap and fold limiter, the error-log line, and the chain to the previous
// action (see crash.h).
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "crash/asfmt.h"
#include "crash/names.h"
#include "crash/record.h"
#include "crash/request_json.h"
#include "crash/request_key.h"
#include "crash/safe_read.h"
#include "crash/signature.h"
#include "crash/state.h"
#include "crash/unwind.h"

namespace selfheal::crash {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
constexpr int kNumSignals = sizeof kSignals / sizeof kSignals[0];
constexpr int64_t kWaitForOwnerNs = 2'000'000'000;  // other crashing threads wait this long
// After the owner hands a crash to a previous handler, the election stays closed this long:
// the handler almost always ends the process (httpd's sig_coredump re-raises), and another
// thread crashing meanwhile, by another signal, must not write a second record for it.
constexpr int64_t kReopenAfterUs = 1'000'000;

Installed g_cfg;
struct sigaction g_prev[kNumSignals];
std::atomic<bool> g_installed{false};
std::atomic<long> g_owner{0};         // tid of the thread writing a record; 0: none
std::atomic<uint64_t> g_handed{0};    // bit per signal: a crash gave it back to the previous action
std::atomic<bool> g_done{false};      // the owner has chained to an action that ends the process
std::atomic<int64_t> g_handed_us{0};  // when the owner handed its crash to a previous handler
static_assert(std::atomic<int64_t>::is_always_lock_free && std::atomic<long>::is_always_lock_free,
              "the signal handler needs lock-free atomics");
std::atomic<uint64_t> g_written{0}, g_dropped{0}, g_folded{0};

// The handler's working storage: one crash at a time (g_owner), never on the signal stack.
alignas(64) char g_record[kMaxRecordBytes];
Backtrace g_bt;
RequestBrief g_brief;
RequestKey g_key;       // the request's quarantine key and strings for CrashSummary
char g_top_frame[128];  // "mod_x.so+0x1a2b" for CrashSummary
char g_line[2048];

// Fold limiter: per signature, records written in the current window and records folded
// since the last one written.
struct FoldSlot {
  uint64_t signature;
  int64_t window_start_us;
  uint64_t count;
  uint64_t folded;
};
constexpr int kFoldSlots = 64;
FoldSlot g_fold[kFoldSlots];

// Async-signal-safe helpers.
int index_of(int signo) noexcept {
  for (int i = 0; i < kNumSignals; ++i)
    if (kSignals[i] == signo) return i;
  return -1;
}

long sys_gettid() noexcept {
  return syscall(SYS_gettid);
}

int64_t now_us(clockid_t clock) noexcept {
  struct timespec ts {};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Fold decision for a new crash with this signature: returns true to fold it (not written;
// *carried is then the count folded so far), otherwise *carried is the count folded since the
// last written record, to be said in this one. Async-signal-safe (owner thread only).
bool fold_check(uint64_t sig, int64_t now, uint64_t* carried) noexcept {
  *carried = 0;
  if (g_cfg.fold_after == 0) return false;
  FoldSlot* slot = nullptr;
  FoldSlot* oldest = &g_fold[0];
  for (auto& s : g_fold) {
    if (s.count != 0 && s.signature == sig) {
      slot = &s;
      break;
    }
    if (s.window_start_us < oldest->window_start_us) oldest = &s;
  }
  if (!slot) {
    slot = oldest;
    *slot = FoldSlot{sig, now, 0, 0};
  }
  int64_t window = static_cast<int64_t>(g_cfg.fold_window_s) * 1000000;
  if (now - slot->window_start_us >= window) {
    slot->window_start_us = now;
    slot->count = 0;
  }
  if (slot->count >= g_cfg.fold_after) {
    *carried = ++slot->folded;
    return true;
  }
  ++slot->count;
  *carried = slot->folded;
  slot->folded = 0;
  return false;
}

// The top frame worth naming: the first the signature rule does not skip, else frame 0.
// Async-signal-safe.
const Frame* top_frame(const Backtrace& bt) noexcept {
  for (int i = 0; i < bt.n; ++i)
    if (bt.frames[i].module && !signature_skips_module(bt.frames[i].module->path))
      return &bt.frames[i];
  return bt.n > 0 ? &bt.frames[0] : nullptr;
}

// "module.so+0x1a2b" (or the bare address) for the error-log line and the summary.
// Async-signal-safe.
void put_frame(TextBuf& b, const Frame& f) noexcept {
  if (f.module) {
    b.str(path_basename(f.module->path));
    b.ch('+');
    b.hex(f.pc - f.module->base);
  } else {
    b.hex(f.pc);
  }
}

enum class Outcome { kWritten, kDropped, kFolded, kNoLog, kFailed };

// One line in httpd's error-log format to errlog_fd, with one write(2). Async-signal-safe.
void write_errlog(int signo, const siginfo_t* info, int64_t t, const char* id, Outcome o,
                  uint64_t folded_count) noexcept {
  if (g_cfg.errlog_fd < 0) return;
  TextBuf b(g_line, sizeof g_line - 1);
  b.ch('[');
  format_errlog_stamp(b, t, g_cfg.gmtoff);
  b.str("] [selfheal:error] [pid ");
  b.dec(static_cast<int64_t>(syscall(SYS_getpid)));
  b.str(":tid ");
  b.udec(static_cast<uint64_t>(pthread_self()));
  b.str("] ");
  b.str(o == Outcome::kDropped ? "SELFHEAL0102: " : "SELFHEAL0101: ");
  b.str(signal_name(signo));
  b.str(" (");
  const char* code = info ? signal_code_name(signo, info->si_code) : nullptr;
  b.str(code ? code : "?");
  if (info && info->si_code > 0 && signo != SIGABRT) {
    b.str(" at ");
    b.hex(reinterpret_cast<uintptr_t>(info->si_addr));
  } else if (signal_has_sender(info)) {
    b.str(" from pid ");
    b.dec(info->si_pid);
  }
  b.str(") in ");
  if (g_brief.present) {
    b.str(g_brief.method[0] ? g_brief.method : "-");
    b.ch(' ');
    b.str(g_brief.path[0] ? g_brief.path : "-");
  } else {
    b.str("no request");
  }
  b.str(", top frame ");
  if (const Frame* f = top_frame(g_bt)) {
    put_frame(b, *f);
  } else {
    b.str("unknown");
  }
  const char* where = g_cfg.crash_log_path[0] ? g_cfg.crash_log_path : "the crash log";
  switch (o) {
    case Outcome::kWritten:
      b.str("; record ");
      b.str(id);
      b.str(" in ");
      b.str(where);
      break;
    case Outcome::kDropped:
      b.str("; crash record dropped: crash log at its size cap (");
      b.udec(g_dropped.load(std::memory_order_relaxed));
      b.str(" dropped)");
      break;
    case Outcome::kFolded:
      b.str("; record folded into the next of signature ");
      {
        char sig[17];
        signature_hex(backtrace_signature(signo, g_bt), sig);
        b.str(sig);
      }
      b.str(" (");
      b.udec(folded_count);
      b.str(" folded since the last record)");
      break;
    case Outcome::kNoLog:
      b.str("; no crash log configured");
      break;
    case Outcome::kFailed:
      b.str("; writing record ");
      b.str(id);
      b.str(" to ");
      b.str(where);
      b.str(" failed");
      break;
  }
  g_line[b.len++] = '\n';
  ssize_t r = write(g_cfg.errlog_fd, g_line, b.len);
  (void)r;
}

// Writes the record and the error-log line and calls on_crash. Runs on the owner thread only.
// Async-signal-safe (see record.h and unwind.h for the fine print).
void report(int signo, siginfo_t* info, ucontext_t* uc) noexcept {
  int64_t t = now_us(CLOCK_REALTIME);
  ThreadEntry* self = current_entry();
  ConnSlot* slot = self ? self->conn.load(std::memory_order_acquire) : nullptr;
  read_request_brief(slot, &g_brief);

  unwind_from_signal(uc, &g_bt);
  for (int i = 0; i < g_bt.n; ++i) {
    if (!g_bt.frames[i].module && g_bt.frames[i].pc != 0 && !(i == 0 && g_bt.recovered)) {
      // A pc in an object loaded after install(): refresh the snapshot once and look again.
      modules_snapshot();
      for (int j = 0; j < g_bt.n; ++j) {
        uintptr_t pc = g_bt.frames[j].pc;
        bool ret = j > 0;
        g_bt.frames[j].module = module_for_pc(ret && pc ? pc - 1 : pc);
      }
      break;
    }
  }
  uint64_t sig = backtrace_signature(signo, g_bt);

  CrashSummary sum;
  sum.signo = signo;
  sum.signature = sig;
  sum.key_hash = g_brief.key_hash;
  sum.time_us = t;
  sum.path = g_brief.present ? g_brief.path : nullptr;
  read_request_key(slot, g_cfg.key_parts, g_cfg.redact, &g_key);
  if (g_key.present) {
    if (!sum.key_hash) sum.key_hash = g_key.hash;  // a key the glue stored wins
    sum.key_text = g_key.text;
    sum.method = g_key.method;
    sum.vhost = g_key.vhost;
  }
  if (const Frame* f = top_frame(g_bt)) {
    TextBuf tb(g_top_frame, sizeof g_top_frame - 1);
    put_frame(tb, *f);
    g_top_frame[tb.len] = '\0';
    sum.top_frame = g_top_frame;
  }
  sum.uptime_us = g_cfg.child_start_us ? t - g_cfg.child_start_us : -1;

  char id[48];
  format_record_id(static_cast<long>(syscall(SYS_getpid)), t, id);
  sum.record_id = id;
  sum.pid = static_cast<long>(syscall(SYS_getpid));
  uint64_t carried = 0;
  Outcome o;
  if (g_cfg.fold ? g_cfg.fold(sig, t, &carried) : fold_check(sig, t, &carried)) {
    g_folded.fetch_add(1, std::memory_order_relaxed);
    sum.folded = true;
    o = Outcome::kFolded;
  } else if (g_cfg.crash_fd < 0) {
    o = Outcome::kNoLog;
  } else {
    RecordFacts f;
    f.signo = signo;
    f.info = info;
    f.uc = uc;
    f.time_us = t;
    f.pid = static_cast<long>(syscall(SYS_getpid));
    f.ppid = static_cast<long>(syscall(SYS_getppid));
    f.tid = sys_gettid();
    f.bt = &g_bt;
    f.signature = sig;
    f.self = self;
    f.entries = registry_entries();
    f.n_entries = registry_count();
    f.folded = carried;
    f.cfg = &g_cfg;
    bool truncated = false;
    size_t len = build_record(f, g_record, sizeof g_record, &truncated);
    struct stat st {};
    if (g_cfg.max_log_bytes && fstat(g_cfg.crash_fd, &st) == 0 &&
        static_cast<uint64_t>(st.st_size) + len > g_cfg.max_log_bytes) {
      g_dropped.fetch_add(1, std::memory_order_relaxed);
      sum.record_dropped = true;
      o = Outcome::kDropped;
    } else if (write(g_cfg.crash_fd, g_record, len) == static_cast<ssize_t>(len)) {
      g_written.fetch_add(1, std::memory_order_relaxed);
      sum.record_written = true;
      o = Outcome::kWritten;
    } else {
      o = Outcome::kFailed;
    }
  }
  sum.folded_count = carried;
  write_errlog(signo, info, t, id, o, carried);
  if (g_cfg.on_crash) g_cfg.on_crash(sum);
}

// Queues signo to this thread again with the original siginfo, to be delivered when the
// handler returns (blocked until then; the return restores uc's mask, which lacks it).
// rt_tgsigqueueinfo keeps si_code/si_pid for a previous SA_SIGINFO handler; tgkill is the
// fallback. Async-signal-safe.
void reraise(int signo, siginfo_t* info, ucontext_t* uc) noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  long pid = syscall(SYS_getpid), tid = sys_gettid();
  siginfo_t copy = *info;
  if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, signo, &copy) != 0)
    syscall(SYS_tgkill, pid, tid, signo);
  if (uc) sigdelset(&uc->uc_sigmask, signo);
}

// Lets act run for this signal: installs it, then returns into the faulting instruction
// (kernel faults) or re-raises (sent signals, SIGTRAP, SIGSYS). Returns true when act is the
// default action, i.e. the process dies once the handler returns (all our signals are fatal
// by default). Async-signal-safe.
bool run_action(int signo, siginfo_t* info, ucontext_t* uc, const struct sigaction& act) noexcept {
  if (signo > 0 && signo < 64) g_handed.fetch_or(1ull << signo, std::memory_order_release);
  struct sigaction a = act;
  bool fault = signal_is_fault(signo, info);
  if (a.sa_handler == SIG_IGN && !(a.sa_flags & SA_SIGINFO)) {
    if (!fault) {
      sigaction(signo, &a, nullptr);  // it would have been ignored: carry on
      return false;
    }
    a.sa_handler = SIG_DFL;  // the kernel does not let a fault be ignored
    a.sa_flags = 0;
  }
  bool dfl = a.sa_handler == SIG_DFL && !(a.sa_flags & SA_SIGINFO);
  if (dfl) {
    if (g_cfg.coredump_dir[0] && chdir(g_cfg.coredump_dir) != 0) {
      // Keep the current directory: the core goes where it would have gone anyway.
    }
  } else {
    // The previous handler runs on the alternate stack too, or a stack overflow would kill
    // the process before it runs (httpd's sig_coredump is installed without SA_ONSTACK).
    a.sa_flags |= SA_ONSTACK;
  }
  sigaction(signo, &a, nullptr);
  if (!fault) reraise(signo, info, uc);
  return dfl;
}

// Runs the action saved at install(). Async-signal-safe.
bool chain(int signo, siginfo_t* info, ucontext_t* uc) noexcept {
  int i = index_of(signo);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  return run_action(signo, info, uc, i >= 0 ? g_prev[i] : dfl);
}

// The handler (SA_SIGINFO | SA_ONSTACK | SA_NODEFER: a fault inside it re-enters it, which is
// how recursion is seen). Async-signal-safe.
void on_signal(int signo, siginfo_t* info, void* ucv) noexcept {
  int saved_errno = errno;
  auto* uc = static_cast<ucontext_t*>(ucv);
  long tid = sys_gettid();
  long expected = 0;
  bool owner = g_owner.compare_exchange_strong(expected, tid, std::memory_order_acq_rel);
  const int64_t handed = owner ? 0 : g_handed_us.load(std::memory_order_acquire);
  if (!owner && handed != 0 && now_us(CLOCK_MONOTONIC) - handed > kReopenAfterUs) {
    // The previous handler let the process live a while ago: this is a new crash. The
    // stamp is the ticket: one thread clears it and becomes the owner; the others find it
    // cleared (or the new owner in place) and wait for that owner's record below.
    int64_t stamp = handed;
    if (g_handed_us.compare_exchange_strong(stamp, 0, std::memory_order_acq_rel)) {
      g_owner.store(tid, std::memory_order_release);
      owner = true;
    }
  }
  if (owner) {
    g_done.store(false, std::memory_order_relaxed);
    g_handed_us.store(0, std::memory_order_relaxed);
    report(signo, info, uc);
    const int i = index_of(signo);
    const bool carries_on = i >= 0 && g_prev[i].sa_handler == SIG_IGN &&
                            !(g_prev[i].sa_flags & SA_SIGINFO) && !signal_is_fault(signo, info);
    if (chain(signo, info, uc)) {
      // The process dies when we return: keep the election closed so no other thread writes
      // a second record in the meantime, and release the threads waiting for us.
      g_done.store(true, std::memory_order_release);
    } else if (carries_on) {
      // An ignored sent signal: nothing ends the process, reopen the election at once.
      g_owner.store(0, std::memory_order_release);
    } else {
      // A previous handler runs next. It may let the process live, but it usually ends it
      // a moment later: keep the election closed for kReopenAfterUs (see above) and let
      // the threads waiting for us go on to their own previous action.
      const int64_t t = now_us(CLOCK_MONOTONIC);
      g_handed_us.store(t > 0 ? t : 1, std::memory_order_release);
    }
  } else if (expected == tid && handed == 0) {
    // A fault inside the handler on this thread. Inside the unwinder: abandon the unwind and
    // go on writing (does not return). Anywhere else: the default action, no more reporting.
    unwind_recover();
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    run_action(signo, info, uc, dfl);
  } else {
    // Another thread is writing the record: give it time, then let this signal take its
    // course (the first record is the one that names the crash).
    int64_t start = now_us(CLOCK_MONOTONIC);
    while (g_owner.load(std::memory_order_acquire) != 0 &&
           !g_done.load(std::memory_order_acquire) &&
           g_handed_us.load(std::memory_order_acquire) == 0 &&
           (now_us(CLOCK_MONOTONIC) - start) * 1000 < kWaitForOwnerNs) {
      struct timespec ts = {0, 1'000'000};
      nanosleep(&ts, nullptr);
    }
    chain(signo, info, uc);
  }
  errno = saved_errno;
}

// Async-signal-safe.
bool is_ours(const struct sigaction& sa) noexcept {
  return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == on_signal;
}

}  // namespace

// Async-signal-safe.
Installed& installed() noexcept {
  return g_cfg;
}

// NOT async-signal-safe (localtime_r may read the time zone file).
void set_installed(const Config& cfg) noexcept {
  Installed c;
  c.crash_fd = cfg.crash_fd;
  c.errlog_fd = cfg.errlog_fd;
  c.max_log_bytes = cfg.max_log_bytes;
  c.redact = cfg.redact;
  cstr_copy(c.httpd_version, sizeof c.httpd_version, cfg.httpd_version);
  cstr_copy(c.mpm, sizeof c.mpm, cfg.mpm);
  cstr_copy(c.crash_log_path, sizeof c.crash_log_path, cfg.crash_log_path);
  cstr_copy(c.coredump_dir, sizeof c.coredump_dir, cfg.coredump_dir);
  c.generation = cfg.generation;
  c.child_start_us = cfg.child_start_us;
  c.on_crash = cfg.on_crash;
  for (size_t i = 0; cfg.phase_ranges && i < cfg.n_phase_ranges && i < kMaxPhaseRanges; ++i)
    c.phase_ranges[c.n_phase_ranges++] = cfg.phase_ranges[i];
  c.fold_after = cfg.fold_after;
  c.fold_window_s = cfg.fold_window_s;
  c.fold = cfg.fold;
  c.key_parts = cfg.key_parts;
  time_t now = time(nullptr);
  struct tm tm {};
  if (localtime_r(&now, &tm)) c.gmtoff = tm.tm_gmtoff;
  long pg = sysconf(_SC_PAGESIZE);
  c.page_size = pg > 0 ? pg : 4096;
  g_cfg = c;
}

int install(const Config& cfg) noexcept {
  if (g_installed.load()) uninstall();
  g_handed.store(0, std::memory_order_relaxed);
  g_owner.store(0, std::memory_order_relaxed);  // a fresh start: no crash in progress
  g_done.store(false, std::memory_order_relaxed);
  g_handed_us.store(0, std::memory_order_relaxed);
  set_installed(cfg);
  safe_read_init();
  modules_snapshot();
  unwind_warm_up();
  if (!thread_entry()) return ENOMEM;  // the installing thread gets its alternate stack
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < kNumSignals; ++i) {
    if (sigaction(kSignals[i], &sa, &g_prev[i]) != 0) {
      int e = errno;
      for (int j = 0; j < i; ++j) sigaction(kSignals[j], &g_prev[j], nullptr);
      return e;
    }
    if (is_ours(g_prev[i])) {  // never chain to ourselves
      g_prev[i] = {};
      g_prev[i].sa_handler = SIG_DFL;
    }
  }
  g_installed.store(true);
  return 0;
}

void uninstall() noexcept {
  if (!g_installed.exchange(false)) return;
  for (int i = 0; i < kNumSignals; ++i) {
    struct sigaction cur {};
    if (sigaction(kSignals[i], nullptr, &cur) == 0 && is_ours(cur))
      sigaction(kSignals[i], &g_prev[i], nullptr);
  }
}

int replaced_handler() noexcept {
  if (!g_installed.load()) return 0;
  // A signal handed back to the previous handler by a crash is not another module's doing.
  const uint64_t handed = g_handed.load(std::memory_order_acquire);
  for (int s : kSignals) {
    if (handed & (1ull << s)) continue;
    struct sigaction cur {};
    if (sigaction(s, nullptr, &cur) == 0 && !is_ours(cur)) return s;
  }
  return 0;
}

Stats stats() noexcept {
  return Stats{g_written.load(std::memory_order_relaxed), g_dropped.load(std::memory_order_relaxed),
               g_folded.load(std::memory_order_relaxed)};
}

}  // namespace selfheal::crash
