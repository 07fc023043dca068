// Helpers for the fork-based crash tests: run a child that installs the crash core and dies,
// read back the crash log, and build fake ConnSlot/RequestRefs like the httpd glue does.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "selfheal/crash.h"
#include "selfheal/request_slot.h"

namespace crashtest {

// Recurses until the stack runs out: a stack-overflow crash. The stop condition reads a
// volatile that is always 0, so the compiler can neither end nor flatten the recursion.
inline volatile int g_recursion_stop = 0;
[[gnu::noinline]] inline int recurse_forever(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  int r = g_recursion_stop == 1 ? 0 : recurse_forever(depth + 1);
  asm volatile("" ::: "memory");
  return r + pad[0];
}

// A scratch directory removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/selfheal-crash-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (system(cmd.c_str()) != 0) {
    }
  }
  std::string file(const char* name) const { return path + "/" + name; }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start));  // a line without newline: callers check for this
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// Records of a crash log; each must be a complete line of valid JSON.
inline std::vector<nlohmann::json> records_of(const std::string& path) {
  std::string s = slurp(path);
  std::vector<nlohmann::json> out;
  if (s.empty()) return out;
  EXPECT_EQ(s.back(), '\n') << "crash log does not end with a newline";
  for (const auto& l : lines_of(s)) {
    if (l.rfind("MARKER", 0) == 0) continue;
    EXPECT_TRUE(nlohmann::json::accept(l)) << l.substr(0, 300);
    if (nlohmann::json::accept(l)) out.push_back(nlohmann::json::parse(l));
  }
  return out;
}

// Forks; the child runs fn (with no core dumps) and _exits 0 if fn returns. Returns the wait
// status, killing the child after timeout_s.
inline int run_child(const std::function<void()>& fn, int timeout_s = 20) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl {};
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = 0;  // no cores, but a test may raise the soft limit again
    setrlimit(RLIMIT_CORE, &rl);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizer runtimes install their own fatal-signal handlers, which would become the
    // "previous action" and exit instead of dying by the signal: start from the defaults.
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) signal(s, SIG_DFL);
#endif
    fn();
    _exit(0);
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "child timed out (hung in the handler?)";
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

inline ::testing::AssertionResult DiedBy(int status, int sig) {
  if (WIFSIGNALED(status) && WTERMSIG(status) == sig) return ::testing::AssertionSuccess();
  if (WIFSIGNALED(status))
    return ::testing::AssertionFailure()
           << "died by signal " << WTERMSIG(status) << ", want " << sig;
  return ::testing::AssertionFailure()
         << "exited with status " << WEXITSTATUS(status) << ", want death by signal " << sig;
}

// A request as the glue would publish it: strings, a header table, RequestRefs, ConnSlot.
struct FakeRequest {
  const char* method = "GET";
  const char* path = "/crash/null";
  const char* query = "token=s3cr3t";
  const char* protocol = "HTTP/1.1";
  const char* host = "www.example.test";
  const char* vhost = "vhost.example.test";
  unsigned short port = 8080;
  const char* handler = "crash-handler";
  const char* filename = "/var/www/crash";
  const char* client_ip = "192.0.2.7";
  const char* local_ip = "127.0.0.1";
  int keepalives = 3;
  std::vector<selfheal::TableEntryView> headers;
  selfheal::ArrayHeaderView array{};
  const selfheal::ArrayHeaderView* array_ptr = nullptr;
  selfheal::ConnSlot slot;

  explicit FakeRequest(selfheal::Phase phase = selfheal::Phase::kHandler, long conn_id = 77) {
    add_header("Host", "www.example.test");
    add_header("User-Agent", "crash-test/1.0");
    add_header("authorization", "Basic c2VjcmV0");
    add_header("Proxy-Authorization", "Bearer xyz");
    add_header("COOKIE", "session=abc");
    add_header("Set-Cookie", "x=y");
    add_header("X-Plain", "visible");
    slot.client_ip = &client_ip;
    slot.local_ip = &local_ip;
    slot.keepalives = &keepalives;
    slot.conn_id = conn_id;
    slot.phase.store(static_cast<uint8_t>(phase));
    auto& r = slot.refs;
    r.method = &method;
    r.path = &path;
    r.query = &query;
    r.protocol = &protocol;
    r.host = &host;
    r.vhost = &vhost;
    r.vhost_port = &port;
    r.handler = &handler;
    r.filename = &filename;
    r.client_ip = &client_ip;
    r.headers_in = &array_ptr;
    r.start_us = 0;
    r.key_hash = 0x1234;
    publish();
  }
  FakeRequest(const FakeRequest&) = delete;

  void add_header(const char* k, const char* v) {
    headers.push_back({k, v, 0});
    publish();
  }
  void publish() {
    array.elt_size = sizeof(selfheal::TableEntryView);
    array.nelts = static_cast<int>(headers.size());
    array.nalloc = array.nelts;
    array.elts = reinterpret_cast<char*>(headers.data());
    array_ptr = &array;
    slot.request.store(&slot.refs);
  }
};

inline int open_log(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// A Config for a child: crash log and error log in dir.
inline selfheal::crash::Config child_config(const TempDir& dir) {
  selfheal::crash::Config cfg;
  cfg.crash_fd = open_log(dir.file("crash.log"));
  cfg.errlog_fd = open_log(dir.file("error.log"));
  cfg.crash_log_path = "/test/crash.log";
  cfg.httpd_version = "Apache/2.4.99 (Test)";
  cfg.mpm = "event";
  cfg.generation = 2;
  return cfg;
}

// The path of the running test binary, as the modules snapshot records it.
inline std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Checks every schema-1 field is present with the right type.
void expect_complete_record(const nlohmann::json& r);

}  // namespace crashtest
