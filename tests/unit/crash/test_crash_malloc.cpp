// The handler never calls malloc: crash while another thread holds malloc's (only) arena lock.
//
// glibc 2.36 has no malloc hooks, so the test makes malloc unusable instead. The test binary
// re-executes itself with tcache off and one arena (GLIBC_TUNABLES), so every malloc/calloc/
// realloc/free of a non-fast chunk takes the main arena's lock. A thread calls malloc_stats(),
// which holds that lock while it writes to stderr — a pipe that is already full, so it blocks
// there forever. A checker thread proves the lock is held (its malloc does not return). Then
// the main thread dereferences null. If the handler allocated, it would block on the lock and
// the child would hang (the parent kills it after a timeout and the test fails); instead the
// child must write its record and die by SIGSEGV.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "selfheal/crash.h"
#include "test_crash_util.h"

namespace crash = selfheal::crash;

namespace {

constexpr const char* kEnv = "SELFHEAL_CRASH_MALLOC_CHILD";
int* volatile g_null_ptr = nullptr;
std::atomic<int> g_go{0};
std::atomic<bool> g_checker_done{false};

[[gnu::noinline]] void crash_null_deref() {
  *g_null_ptr = 42;
  asm volatile("" ::: "memory");
}

void* holder(void*) {
  while (g_go.load() < 1) usleep(1000);
  malloc_stats();  // holds the arena lock while writing to the full pipe on fd 2
  return nullptr;
}

void* checker(void*) {
  while (g_go.load() < 2) usleep(1000);
  void* volatile p = malloc(5000);  // blocks while the lock is held
  g_checker_done.store(true);
  free(p);
  return nullptr;
}

[[noreturn]] void malloc_child(const std::string& dir) {
  crash::Config cfg;
  cfg.crash_fd = crashtest::open_log(dir + "/crash.log");
  cfg.errlog_fd = crashtest::open_log(dir + "/error.log");
  cfg.crash_log_path = "crash.log";
  if (crash::install(cfg) != 0) _exit(2);
  static crashtest::FakeRequest req;  // allocates: before the lock is taken
  crash::thread_entry()->conn.store(&req.slot);
  pthread_t h, c;
  pthread_create(&h, nullptr, holder, nullptr);
  pthread_create(&c, nullptr, checker, nullptr);
  int p[2];
  if (pipe(p) != 0) _exit(4);
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  static char junk[4096];
  while (write(p[1], junk, sizeof junk) > 0) {
  }
  fcntl(p[1], F_SETFL, 0);
  dup2(p[1], 2);
  g_go.store(1);
  usleep(300'000);
  g_go.store(2);
  usleep(300'000);
  if (g_checker_done.load()) _exit(3);  // the lock was not held: the test proves nothing
  crash_null_deref();
  _exit(5);
}

[[gnu::constructor]] void maybe_run_malloc_child() {
  if (const char* dir = getenv(kEnv)) malloc_child(dir);
}

TEST(CrashMalloc, HandlerNeverCallsMallocWhileTheArenaLockIsHeld) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer replaces glibc's malloc: this test is about glibc's lock";
#endif
  crashtest::TempDir dir;
  std::string env_dir = std::string(kEnv) + "=" + dir.path;
  int st = crashtest::run_child(
      [&] {
        std::vector<char*> envp;
        for (char** e = environ; *e; ++e)
          if (std::string(*e).rfind("GLIBC_TUNABLES=", 0) != 0) envp.push_back(*e);
        envp.push_back(const_cast<char*>(env_dir.c_str()));
        envp.push_back(const_cast<char*>(
            "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"));
        envp.push_back(nullptr);
        char* argv[] = {const_cast<char*>("unit_tests"), const_cast<char*>("--gtest_filter=-*"),
                        nullptr};
        execve("/proc/self/exe", argv, envp.data());
        _exit(127);
      },
      30);
  ASSERT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 3) << "could not hold the malloc lock";
  EXPECT_TRUE(crashtest::DiedBy(st, SIGSEGV));
  auto recs = crashtest::records_of(dir.file("crash.log"));
  ASSERT_EQ(recs.size(), 1u);
  crashtest::expect_complete_record(recs[0]);
  EXPECT_EQ(recs[0]["request"]["path"], "/crash/null");
  EXPECT_GE(recs[0]["frames"].size(), 3u);
  EXPECT_NE(crashtest::slurp(dir.file("error.log")).find("SELFHEAL0101"), std::string::npos);
}

}  // namespace
