// Fork-based tests: a child installs the crash core, crashes in a given way and must die by
// the same signal after writing one complete record.
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "crash/safe_read.h"
#include "selfheal/crash.h"
#include "test_crash_util.h"

using crashtest::child_config;
using crashtest::DiedBy;
using crashtest::expect_complete_record;
using crashtest::FakeRequest;
using crashtest::records_of;
using crashtest::run_child;
using crashtest::TempDir;
namespace crash = selfheal::crash;

namespace {

int* volatile g_null_ptr = nullptr;
void (*volatile g_null_fn)() = nullptr;
volatile int g_zero = 0;
volatile int g_sink = 0;

// no_sanitize: the fault is the point (UBSan would report it instead of SIGSEGV).
__attribute__((noinline, no_sanitize("undefined"))) void crash_null_deref() {
  *g_null_ptr = 42;
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void crash_null_call() {
  g_null_fn();
  asm volatile("" ::: "memory");  // no tail call: the return address points back in here
  g_sink = 1;
}

__attribute__((noinline, no_sanitize("undefined"))) int crash_divide(int a) {
  int r = a / g_zero;
  asm volatile("" ::: "memory");
  return r;
}

[[gnu::noinline]] void crash_trap() {
  __builtin_trap();
}

using crashtest::recurse_forever;

// Installs with a fake request on this thread's slot and returns the config.
crash::Config install_with_request(const TempDir& dir, FakeRequest* req) {
  crash::Config cfg = child_config(dir);
  if (crash::install(cfg) != 0) _exit(90);
  if (req) crash::thread_entry()->conn.store(&req->slot);
  return cfg;
}

const nlohmann::json* find_frame_in(const nlohmann::json& r, const std::string& module) {
  for (const auto& f : r["frames"])
    if (f["module"].is_string() && f["module"] == module) return &f;
  return nullptr;
}

uint64_t hex_of(const nlohmann::json& v) {
  return std::stoull(v.get<std::string>(), nullptr, 16);
}

// The child died by `sig` and left exactly one record in the crash log: that record, or null
// (with the failure reported) when it did not.
nlohmann::json the_record(const TempDir& dir, int status, int sig) {
  EXPECT_TRUE(DiedBy(status, sig));
  auto recs = records_of(dir.file("crash.log"));
  EXPECT_EQ(recs.size(), 1u);
  return recs.size() == 1 ? recs[0] : nlohmann::json();
}

TEST(CrashSignals, NullDerefWritesCompleteRecordAndDiesBySigsegv) {
  TempDir dir;
  int st = run_child([&] {
    static FakeRequest req;
    install_with_request(dir, &req);
    crash_null_deref();
  });
  const nlohmann::json r = the_record(dir, st, SIGSEGV);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGSEGV");
  EXPECT_EQ(r["signal"]["number"], SIGSEGV);
  EXPECT_EQ(r["signal"]["code"], "SEGV_MAPERR");
  EXPECT_EQ(r["signal"]["address"], "0x0");
  EXPECT_TRUE(r["signal"]["sender_pid"].is_null());
  EXPECT_EQ(r["httpd"], "Apache/2.4.99 (Test)");
  EXPECT_EQ(r["mpm"], "event");
  EXPECT_EQ(r["generation"], 2);
  EXPECT_EQ(r["ppid"], getpid());
  EXPECT_EQ(r["pid"], r["tid"]);  // the main thread crashed
  // The top frame is crash_null_deref in the test binary, at the faulting instruction.
  const auto& top = r["frames"][0];
  EXPECT_EQ(top["module"], crashtest::self_exe());
  uint64_t fn = reinterpret_cast<uintptr_t>(&crash_null_deref);
  EXPECT_GE(hex_of(top["pc"]), fn);
  EXPECT_LT(hex_of(top["pc"]), fn + 64);
  EXPECT_EQ(hex_of(r["registers"]["rip"]), hex_of(top["pc"]));
  EXPECT_TRUE(top["build_id"].is_string());
  EXPECT_GE(r["frames"].size(), 4u);  // into gtest's machinery
  // The request from the fake slot, redacted.
  const auto& q = r["request"];
  ASSERT_TRUE(q.is_object()) << r.dump();
  EXPECT_EQ(q["method"], "GET");
  EXPECT_EQ(q["path"], "/crash/null");
  EXPECT_EQ(q["protocol"], "HTTP/1.1");
  EXPECT_EQ(q["host"], "www.example.test");
  EXPECT_EQ(q["vhost"], "vhost.example.test:8080");
  EXPECT_EQ(q["client"], "192.0.2.7");
  EXPECT_EQ(q["local"], "127.0.0.1");
  EXPECT_EQ(q["handler"], "crash-handler");
  EXPECT_EQ(q["filename"], "/var/www/crash");
  EXPECT_EQ(q["phase"], "handler");
  EXPECT_EQ(q["connection"]["id"], 77);
  EXPECT_EQ(q["connection"]["keepalives"], 3);
  EXPECT_FALSE(q.contains("query"));
  EXPECT_EQ(q["headers"]["authorization"], "[redacted]");
  EXPECT_EQ(q["headers"]["Proxy-Authorization"], "[redacted]");
  EXPECT_EQ(q["headers"]["COOKIE"], "[redacted]");
  EXPECT_EQ(q["headers"]["Set-Cookie"], "[redacted]");
  EXPECT_EQ(q["headers"]["X-Plain"], "visible");
  EXPECT_EQ(r["connection"]["id"], 77);
  EXPECT_EQ(r["connection"]["client"], "192.0.2.7");
  EXPECT_EQ(r["connection"]["keepalives"], 3);
  EXPECT_EQ(r["folded"], 0);
  EXPECT_EQ(r["truncated"], false);
  // One summary line in the error log, in httpd's format.
  std::string err = crashtest::slurp(dir.file("error.log"));
  EXPECT_EQ(crashtest::lines_of(err).size(), 1u) << err;
  EXPECT_NE(err.find("] [selfheal:error] [pid "), std::string::npos) << err;
  EXPECT_NE(err.find("SELFHEAL0101: SIGSEGV (SEGV_MAPERR at 0x0) in GET /crash/null, top frame "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("; record " + r["id"].get<std::string>() + " in /test/crash.log\n"),
            std::string::npos)
      << err;
}

TEST(CrashSignals, CallThroughNullPointerStillUnwindsIntoTheCaller) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    crash_null_call();
  });
  const nlohmann::json r = the_record(dir, st, SIGSEGV);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["address"], "0x0");
  EXPECT_EQ(r["registers"]["rip"], "0x0");
  const auto& fr = r["frames"];
  ASSERT_GE(fr.size(), 3u) << r.dump();
  EXPECT_EQ(fr[0]["pc"], "0x0");
  EXPECT_TRUE(fr[0]["module"].is_null());
  EXPECT_EQ(fr[1]["module"], crashtest::self_exe());
  uint64_t fn = reinterpret_cast<uintptr_t>(&crash_null_call);
  EXPECT_GT(hex_of(fr[1]["pc"]), fn);
  EXPECT_LT(hex_of(fr[1]["pc"]), fn + 64);
  EXPECT_TRUE(r["request"].is_null());
  EXPECT_TRUE(r["connection"].is_null());
}

TEST(CrashSignals, StackOverflowOnARegisteredThreadIsCaptured) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    pthread_create(
        &t, &attr,
        [](void*) -> void* {
          static FakeRequest req(selfheal::Phase::kTranslate);
          crash::thread_entry()->conn.store(&req.slot);
          g_sink = recurse_forever(0);
          return nullptr;
        },
        nullptr);
    pthread_join(t, nullptr);
  });
  const nlohmann::json r = the_record(dir, st, SIGSEGV);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGSEGV");
  EXPECT_NE(r["pid"], r["tid"]);
  EXPECT_GE(r["frames"].size(), 64u);
  EXPECT_EQ(r["frames_truncated"], true);
  EXPECT_EQ(r["request"]["phase"], "translate");
  // The frames are the recursion.
  uint64_t fn = reinterpret_cast<uintptr_t>(&recurse_forever);
#if defined(__SANITIZE_ADDRESS__)
  const uint64_t kRecurseFnBytes = 4096;  // instrumented: a much larger function
#else
  const uint64_t kRecurseFnBytes = 256;
#endif
  int in_recursion = 0;
  for (const auto& f : r["frames"])
    if (hex_of(f["pc"]) >= fn && hex_of(f["pc"]) < fn + kRecurseFnBytes) ++in_recursion;
  EXPECT_GE(in_recursion, 60);
}

TEST(CrashSignals, IntegerDivideBySigfpe) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    g_sink = crash_divide(7);
  });
  const nlohmann::json r = the_record(dir, st, SIGFPE);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGFPE");
  EXPECT_EQ(r["signal"]["code"], "FPE_INTDIV");
  EXPECT_EQ(r["frames"][0]["module"], crashtest::self_exe());
}

TEST(CrashSignals, AbortIsSigabrtWithSender) {
  TempDir dir;
  pid_t child = 0;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    abort();
  });
  const nlohmann::json r = the_record(dir, st, SIGABRT);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGABRT");
  EXPECT_EQ(r["signal"]["code"], "SI_TKILL");
  EXPECT_EQ(r["signal"]["sender_pid"], r["pid"]);
  EXPECT_TRUE(r["signal"]["address"].is_null());
  (void)child;
  // The signature skips libc's abort/raise frames: some frame is the test binary.
  EXPECT_NE(find_frame_in(r, crashtest::self_exe()), nullptr);
  std::string err = crashtest::slurp(dir.file("error.log"));
  EXPECT_NE(err.find("SELFHEAL0101: SIGABRT (SI_TKILL from pid "), std::string::npos) << err;
}

TEST(CrashSignals, BuiltinTrapIsSigill) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    crash_trap();
  });
  const nlohmann::json r = the_record(dir, st, SIGILL);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGILL");
  EXPECT_EQ(r["signal"]["code"], "ILL_ILLOPN");
  uint64_t fn = reinterpret_cast<uintptr_t>(&crash_trap);
  EXPECT_EQ(hex_of(r["signal"]["address"]), hex_of(r["frames"][0]["pc"]));
  EXPECT_GE(hex_of(r["frames"][0]["pc"]), fn);
}

TEST(CrashSignals, TruncatedMappedFileIsSigbus) {
  TempDir dir;
  std::string data = dir.file("data.bin");
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    int fd = open(data.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) _exit(91);
    auto* p = static_cast<volatile char*>(
        mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (p == MAP_FAILED) _exit(92);
    p[0] = 1;
    if (ftruncate(fd, 0) != 0) _exit(93);
    g_sink = p[2 * 4096];
  });
  const nlohmann::json r = the_record(dir, st, SIGBUS);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["signal"]["name"], "SIGBUS");
  EXPECT_EQ(r["signal"]["code"], "BUS_ADRERR");
}

TEST(CrashSignals, SigtrapWithDefaultActionDiesBySigtrap) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
#if defined(__x86_64__)
    asm volatile("int3");  // returns past the int3: the handler must re-raise, not return
#else
    raise(SIGTRAP);
#endif
    _exit(0);
  });
  const nlohmann::json r = the_record(dir, st, SIGTRAP);
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["signal"]["name"], "SIGTRAP");
}

TEST(CrashSignals, InFlightListsOtherThreadsRequests) {
  TempDir dir;
  int st = run_child([&] {
    static FakeRequest mine(selfheal::Phase::kHandler, 1);
    install_with_request(dir, &mine);
    static std::atomic<int> ready{0};
    for (int i = 0; i < 2; ++i) {
      std::thread([i] {
        // One thread serves a request, one a connection between requests (not in flight).
        static FakeRequest other(selfheal::Phase::kAuthz, 2);
        static FakeRequest idle(selfheal::Phase::kConnection, 3);
        other.path = "/other/request";
        idle.slot.request.store(nullptr);
        crash::thread_entry()->conn.store(i == 0 ? &other.slot : &idle.slot);
        ready.fetch_add(1);
        for (;;) pause();
      }).detach();
    }
    while (ready.load() < 2) usleep(1000);
    crash_null_deref();
  });
  const nlohmann::json r = the_record(dir, st, SIGSEGV);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  ASSERT_EQ(r["in_flight"].size(), 1u) << r["in_flight"].dump();
  const auto& f = r["in_flight"][0];
  EXPECT_EQ(f["path"], "/other/request");
  EXPECT_EQ(f["phase"], "authz");
  EXPECT_EQ(f["connection"]["id"], 2);
  EXPECT_TRUE(f["tid"].is_number_integer());
  EXPECT_NE(f["tid"], r["tid"]);
  EXPECT_FALSE(f["headers"].contains("Cookie"));  // the fake sends it as COOKIE
  EXPECT_EQ(f["headers"]["COOKIE"], "[redacted]");
  EXPECT_EQ(r["request"]["connection"]["id"], 1);
}

TEST(CrashSignals, PipeFallbackReadsTheRequestToo) {
  // Where process_vm_readv is refused (seccomp), reads go through write(2) to a pipe.
  TempDir dir;
  int st = run_child([&] {
    static FakeRequest req;
    install_with_request(dir, &req);
    crash::safe_read_force_pipe(true);
    crash_null_deref();
  });
  const nlohmann::json r = the_record(dir, st, SIGSEGV);
  ASSERT_FALSE(r.is_null());
  expect_complete_record(r);
  EXPECT_EQ(r["request"]["path"], "/crash/null");
  EXPECT_EQ(r["request"]["headers"]["X-Plain"], "visible");
  EXPECT_EQ(r["request"]["headers"]["COOKIE"], "[redacted]");
}

TEST(CrashSignals, RaisedSigsysDiesBySigsys) {
  TempDir dir;
  int st = run_child([&] {
    install_with_request(dir, nullptr);
    raise(SIGSYS);
    _exit(0);
  });
  const nlohmann::json r = the_record(dir, st, SIGSYS);
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["signal"]["name"], "SIGSYS");
  EXPECT_EQ(r["signal"]["code"], "SI_TKILL");
}

TEST(CrashSignals, IgnoredFaultSignalStillDiesBySigsegv) {
  // A fault cannot be ignored: with SIG_IGN as the previous action the default one is taken.
  TempDir dir;
  int st = run_child([&] {
    signal(SIGSEGV, SIG_IGN);
    install_with_request(dir, nullptr);
    crash_null_deref();
  });
  EXPECT_TRUE(DiedBy(st, SIGSEGV));
  EXPECT_EQ(records_of(dir.file("crash.log")).size(), 1u);
}

}  // namespace
