// Fork-based tests of what happens around the record: chaining to the previous action, a fault
// inside the handler, concurrent crashes, the size cap, the fold limiter and replaced handlers.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "selfheal/crash.h"
#include "test_crash_util.h"

using crashtest::child_config;
using crashtest::DiedBy;
using crashtest::expect_complete_record;
using crashtest::lines_of;
using crashtest::records_of;
using crashtest::run_child;
using crashtest::slurp;
using crashtest::TempDir;
namespace crash = selfheal::crash;

namespace {

int* volatile g_null_ptr = nullptr;
volatile int g_zero = 0;
volatile int g_sink = 0;

// no_sanitize: the fault is the point (UBSan would report it instead of SIGSEGV).
__attribute__((noinline, no_sanitize("undefined"))) void crash_null_deref() {
  *g_null_ptr = 42;
  asm volatile("" ::: "memory");
}

// A previous handler in the style of httpd's sig_coredump: leaves a marker (in the crash log,
// after the record, and in a pipe), resets to the default action, re-sends the signal to the
// process and returns so it is delivered.
int g_marker_log = -1;
int g_marker_pipe = -1;
[[maybe_unused]] volatile sig_atomic_t g_prev_code = 0;
[[maybe_unused]] volatile sig_atomic_t g_prev_pid = 0;

void write_str(int fd, const char* s) {
  if (fd >= 0 && write(fd, s, strlen(s)) < 0) {
  }
}

void coredump_like(int sig, siginfo_t* info, void*) {
  write_str(g_marker_log, "MARKER prev handler ran\n");
  char msg[64];
  int n = snprintf(msg, sizeof msg, "%d %d %d\n", sig, info->si_code, info->si_pid);
  if (g_marker_pipe >= 0 && write(g_marker_pipe, msg, static_cast<size_t>(n)) < 0) {
  }
  signal(sig, SIG_DFL);
  kill(getpid(), sig);
}

void install_prev(int sig) {
  struct sigaction sa {};
  sa.sa_sigaction = coredump_like;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (pipe(fd) != 0) ADD_FAILURE() << "pipe";
  }
  ~Pipe() {
    close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
  }
  std::string read_all() {
    close(fd[1]);
    fd[1] = -1;
    std::string s;
    char buf[256];
    ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
  }
};

TEST(CrashChain, SynchronousFaultChainsToPreviousHandlerAfterTheRecord) {
  TempDir dir;
  Pipe p;
  int st = run_child([&] {
    install_prev(SIGSEGV);
    crash::Config cfg = child_config(dir);
    g_marker_log = cfg.crash_fd;
    g_marker_pipe = p.fd[1];
    crash::install(cfg);
    crash_null_deref();
  });
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  std::string got = p.read_all();
  EXPECT_EQ(got, "11 1 0\n");  // the real fault again: SIGSEGV, SEGV_MAPERR
  auto lines = lines_of(slurp(dir.file("crash.log")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"schema\":1,", 0), 0u);  // the record first
  EXPECT_EQ(lines[1], "MARKER prev handler ran");      // then httpd's handler
  auto recs = records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  expect_complete_record(recs[0]);
}

TEST(CrashChain, SentSignalIsReraisedToPreviousHandlerWithOriginalInfo) {
  TempDir dir;
  Pipe p;
  int st = run_child([&] {
    install_prev(SIGABRT);
    crash::Config cfg = child_config(dir);
    g_marker_log = cfg.crash_fd;
    g_marker_pipe = p.fd[1];
    crash::install(cfg);
    abort();
  });
  EXPECT_TRUE(DiedBy(st, SIGABRT));
  auto recs = records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  std::string got = p.read_all();
  // The previous handler saw the original siginfo: SI_TKILL from the child itself.
  std::string want = std::to_string(SIGABRT) + " " + std::to_string(SI_TKILL) + " " +
                     std::to_string(recs[0]["pid"].get<int>()) + "\n";
  EXPECT_EQ(got, want);
  auto lines = lines_of(slurp(dir.file("crash.log")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "MARKER prev handler ran");
}

TEST(CrashChain, SignalSentByAnotherProcessKeepsItsSender) {
  TempDir dir2;
  Pipe ready2;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    crash::install(child_config(dir2));
    if (write(ready2.fd[1], "r", 1) != 1) _exit(3);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready2.fd[0], &c, 1), 1);
  kill(pid, SIGBUS);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(DiedBy(status, SIGBUS));
  auto recs = records_of(dir2.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["signal"]["code"], "SI_USER");
  EXPECT_EQ(recs[0]["signal"]["sender_pid"], getpid());
  EXPECT_TRUE(recs[0]["signal"]["address"].is_null());
}

__attribute__((noinline, no_sanitize("undefined"))) int divide(int a) {
  int r = a / g_zero;
  asm volatile("" ::: "memory");
  return r;
}

__attribute__((no_sanitize("undefined"))) void fault_in_callback(
    const crash::CrashSummary&) noexcept {
  *g_null_ptr = 1;
}

TEST(CrashChain, FaultInsideTheHandlerFallsBackToTheDefaultAction) {
  TempDir dir;
  Pipe p;
  int st = run_child([&] {
    install_prev(SIGFPE);
    install_prev(SIGSEGV);
    crash::Config cfg = child_config(dir);
    g_marker_log = cfg.crash_fd;
    g_marker_pipe = p.fd[1];
    cfg.on_crash = fault_in_callback;
    crash::install(cfg);
    g_sink = divide(7);
  });
  // The nested SIGSEGV took the default action: no loop, no second record, no chaining.
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  EXPECT_EQ(p.read_all(), "");
  auto recs = records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["signal"]["name"], "SIGFPE");
  EXPECT_EQ(lines_of(slurp(dir.file("crash.log"))).size(), 1u);
  std::string err = slurp(dir.file("error.log"));
  EXPECT_EQ(lines_of(err).size(), 1u) << err;
  EXPECT_NE(err.find("SELFHEAL0101: SIGFPE (FPE_INTDIV at 0x"), std::string::npos) << err;
}

TEST(CrashChain, TwoThreadsCrashingAtOnceGiveExactlyOneRecord) {
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    int st = run_child([&] {
      crash::install(child_config(dir));
      static pthread_barrier_t barrier;
      pthread_barrier_init(&barrier, nullptr, 3);
      for (int i = 0; i < 2; ++i) {
        std::thread([] {
          crash::thread_entry();
          pthread_barrier_wait(&barrier);
          crash_null_deref();
        }).detach();
      }
      pthread_barrier_wait(&barrier);
      for (;;) pause();
    });
    EXPECT_TRUE(DiedBy(st, SIGSEGV));
    auto recs = records_of(dir.file("crash.log"));
    EXPECT_EQ(recs.size(), 1u) << "round " << round;
    if (!recs.empty()) expect_complete_record(recs[0]);
    EXPECT_EQ(lines_of(slurp(dir.file("error.log"))).size(), 1u);
  }
}

// Like coredump_like, but slow: the process lives on for a while after the hand-over.
void slow_coredump_like(int sig) {
  struct timespec ts = {0, 300'000'000};
  nanosleep(&ts, nullptr);
  signal(sig, SIG_DFL);
  kill(getpid(), sig);
}

// httpd's sig_coredump is a handler, not the default action, so the first crash hands over
// and the process lives a moment longer. Another thread crashing then by another signal
// (the event MPM's storm: one thread's SIGSEGV, another's SIGFPE) must not write a second
// record for the same process.
TEST(CrashChain, AnotherSignalDuringTheHandOverWritesNoSecondRecord) {
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    int st = run_child([&] {
      for (int sig : {SIGSEGV, SIGFPE}) {
        struct sigaction sa {};
        sa.sa_handler = slow_coredump_like;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, nullptr);
      }
      crash::install(child_config(dir));
      std::thread([] {
        crash::thread_entry();
        for (int i = 0; i < 5000 && crash::stats().written == 0; ++i) usleep(1000);
        usleep(20'000);  // the first thread has handed over by now
        g_sink = divide(7);
      }).detach();
      crash_null_deref();
    });
    EXPECT_TRUE(DiedBy(st, SIGSEGV)) << "round " << round;
    auto recs = records_of(dir.file("crash.log"));
    ASSERT_EQ(recs.size(), 1u) << "round " << round;
    EXPECT_EQ(recs[0]["signal"]["name"], "SIGSEGV");
  }
}

std::atomic<int> g_summary_fd{-1};
void summary_to_pipe(const crash::CrashSummary& s) noexcept {
  char msg[160];
  int n = snprintf(msg, sizeof msg, "signo=%d written=%d dropped=%d path=%s key=%llx\n", s.signo,
                   s.record_written, s.record_dropped, s.path ? s.path : "(null)",
                   static_cast<unsigned long long>(s.key_hash));
  if (write(g_summary_fd.load(), msg, static_cast<size_t>(n)) < 0) {
  }
}

TEST(CrashChain, SizeCapDropsTheRecordAndSaysSo) {
  TempDir dir;
  Pipe p;
  int st = run_child([&] {
    crash::Config cfg = child_config(dir);
    cfg.max_log_bytes = 2000;  // smaller than any record
    cfg.on_crash = summary_to_pipe;
    g_summary_fd = p.fd[1];
    crash::install(cfg);
    static crashtest::FakeRequest req;
    crash::thread_entry()->conn.store(&req.slot);
    crash_null_deref();
  });
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  EXPECT_EQ(slurp(dir.file("crash.log")), "");
  EXPECT_EQ(p.read_all(), "signo=11 written=0 dropped=1 path=/crash/null key=1234\n");
  std::string err = slurp(dir.file("error.log"));
  EXPECT_NE(err.find("SELFHEAL0102: SIGSEGV (SEGV_MAPERR at 0x0) in GET /crash/null, top frame "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("; crash record dropped: crash log at its size cap (1 dropped)\n"),
            std::string::npos)
      << err;
}

// A previous handler that recovers: the process survives the crash, so one process can crash
// many times (this is how the limiter and the counters are observed).
sigjmp_buf g_jump;
void recover(int) {
  siglongjmp(g_jump, 1);
}

// One more level, so the three frames the signature hashes are the same whatever the caller.
[[gnu::noinline]] void crash_site() {
  crash_null_deref();
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void crash_and_recover(const crash::Config& cfg) {
  struct sigaction sa {};
  sa.sa_handler = recover;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, nullptr);
  if (crash::install(cfg) != 0) _exit(90);
  if (sigsetjmp(g_jump, 1) == 0) crash_site();
}

TEST(CrashChain, FoldLimiterFoldsIdenticalCrashesAndCarriesTheCount) {
  TempDir dir;
  int st = run_child([&] {
    crash::Config cfg = child_config(dir);
    cfg.fold_after = 2;
    cfg.fold_window_s = 1;
    // The same crash site every time, so the same signature: 2 written, 3 folded; then,
    // after the window, one more written that carries folded: 3.
    for (int i = 0; i < 6; ++i) {
      if (i == 5) {
        crash::Stats s = crash::stats();
        if (s.written != 2 || s.folded != 3 || s.dropped != 0) _exit(10);
        usleep(1'100'000);
      }
      crash_and_recover(cfg);
    }
    crash::Stats s = crash::stats();
    _exit(s.written == 3 && s.folded == 3 ? 0 : 11);
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  auto recs = records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0]["folded"], 0);
  EXPECT_EQ(recs[1]["folded"], 0);
  EXPECT_EQ(recs[2]["folded"], 3);
  EXPECT_EQ(recs[0]["signature"], recs[2]["signature"]);
  std::string err = slurp(dir.file("error.log"));
  EXPECT_EQ(lines_of(err).size(), 6u) << err;
  EXPECT_NE(err.find("record folded"), std::string::npos) << err;
  EXPECT_NE(err.find("(3 folded since the last record)"), std::string::npos) << err;
}

TEST(CrashChain, StatsCountWrittenAndDropped) {
  TempDir dir;
  int st = run_child([&] {
    crash::Config cfg = child_config(dir);
    crash_and_recover(cfg);
    size_t size_after_one = slurp(dir.file("crash.log")).size();
    cfg.max_log_bytes = size_after_one + 10;  // the next record would pass the cap
    crash_and_recover(cfg);
    crash_and_recover(cfg);
    crash::Stats s = crash::stats();
    _exit(s.written == 1 && s.dropped == 2 && s.folded == 0 ? 0 : 12);
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_EQ(records_of(dir.file("crash.log")).size(), 1u);
  EXPECT_NE(slurp(dir.file("error.log")).find("(2 dropped)"), std::string::npos);
}

void other_handler(int) {}

TEST(CrashChain, ReplacedHandlerIsReportedAndUninstallRestores) {
  int st = run_child([] {
    struct sigaction before {};
    sigaction(SIGSEGV, nullptr, &before);
    crash::Config cfg;
    if (crash::install(cfg) != 0) _exit(1);
    if (crash::replaced_handler() != 0) _exit(2);
    signal(SIGBUS, other_handler);
    if (crash::replaced_handler() != SIGBUS) _exit(3);
    crash::uninstall();
    struct sigaction after {};
    sigaction(SIGSEGV, nullptr, &after);
    if (after.sa_handler != before.sa_handler) _exit(4);
    if (crash::replaced_handler() != 0) _exit(5);  // not installed: nothing to report
    _exit(0);
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(CrashChain, NoCrashLogStillLogsTheSummary) {
  TempDir dir;
  int st = run_child([&] {
    crash::Config cfg = child_config(dir);
    cfg.crash_fd = -1;
    crash::install(cfg);
    crash_null_deref();
  });
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  EXPECT_NE(slurp(dir.file("error.log")).find("; no crash log configured"), std::string::npos);
}

using crashtest::recurse_forever;

TEST(CrashChain, PreviousHandlerRunsAfterAStackOverflow) {
  // httpd's sig_coredump is installed without SA_ONSTACK: chained as is, it could not run on
  // the overflowed stack and the process would die without it (no core in CoreDumpDirectory).
  TempDir dir;
  Pipe p;
  int st = run_child([&] {
    install_prev(SIGSEGV);  // SA_SIGINFO | SA_RESETHAND, no SA_ONSTACK
    crash::Config cfg = child_config(dir);
    g_marker_log = cfg.crash_fd;
    g_marker_pipe = p.fd[1];
    crash::install(cfg);
    g_sink = recurse_forever(0);  // the main thread: install() gave it an alternate stack
  });
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  EXPECT_EQ(p.read_all().rfind("11 ", 0), 0u);
  auto lines = lines_of(slurp(dir.file("crash.log")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "MARKER prev handler ran");
  auto recs = records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["frames_truncated"], true);
}

TEST(CrashChain, DefaultActionDumpsCoreInCoredumpDir) {
  std::string pattern = slurp("/proc/sys/kernel/core_pattern");
  if (pattern.rfind("core", 0) != 0 || pattern.find('/') != std::string::npos)
    GTEST_SKIP() << "core_pattern is not a relative file name: " << pattern;
  TempDir dir;
  std::string cores = dir.file("cores");
  ASSERT_EQ(mkdir(cores.c_str(), 0755), 0);
  int st = run_child(
      [&] {
        struct rlimit rl {};
        getrlimit(RLIMIT_CORE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
        if (chdir(dir.path.c_str()) != 0) _exit(2);
        crash::Config cfg = child_config(dir);
        cfg.coredump_dir = cores.c_str();
        crash::install(cfg);
        raise(SIGTRAP);  // no previous handler: the default action, which dumps core
        _exit(0);
      },
      60);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGTRAP);
  if (!WCOREDUMP(st)) GTEST_SKIP() << "the kernel wrote no core (limits, filesystem)";
  std::string cmd = "ls '" + cores + "' | grep -q '^core'";
  EXPECT_EQ(system(cmd.c_str()), 0) << "no core in " << cores;
}

}  // namespace
