// selfhealctl follow: new records as they land, across rename+create and copytruncate
// rotation; bounded by --count/--timeout; stops cleanly on the stop flag and on SIGTERM.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "test_cli_util.h"

using namespace selfhealctl;
using namespace selfhealctl::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> sample_lines() {
  std::vector<std::string> v;
  std::istringstream in(slurp(kData + "/sample_crash.log"));
  for (std::string l; std::getline(in, l);) v.push_back(l + "\n");
  return v;
}

std::string id_of(const std::string& line) {
  auto p = line.find("\"id\":\"") + 6;
  return line.substr(p, line.find('"', p) - p);
}

void append(int fd, const std::string& s) {
  ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

void nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

struct TempDir {
  fs::path p = fs::temp_directory_path() /
               ("selfheal-follow-" + std::to_string(getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  TempDir() { fs::create_directories(p); }
  ~TempDir() { fs::remove_all(p); }
};

TEST(CliFollow, AcrossRenameCreateAndCopytruncate) {
  TempDir dir;
  const std::string log = (dir.p / "crash.log").string();
  auto lines = sample_lines();
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0);
  append(fd, lines[0]);  // already there: not printed without --from-start

  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  int rc = -1;
  std::thread t([&] {
    rc = run_follow({log, "--count", "4", "--timeout", "20", "--interval", "20", "--no-symbolize"},
                    env);
  });
  nap(150);
  append(fd, lines[1]);  // 1: plain append
  nap(150);
  // logrotate's default: rename, then the writer still appends to the old file for a moment,
  // then a new file is created (httpd reopens on graceful restart).
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  append(fd, lines[2]);  // 2: lands in the renamed file; must still be read
  nap(100);
  close(fd);
  fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  append(fd, lines[3]);  // 3: the new file
  nap(150);
  // copytruncate: copy, truncate in place; the writer keeps its O_APPEND descriptor.
  ASSERT_EQ(ftruncate(fd, 0), 0);
  append(fd, lines[4]);  // 4: the truncated file, from offset 0
  t.join();
  close(fd);
  EXPECT_EQ(rc, 0) << err.str();
  std::vector<std::string> got;
  std::istringstream in(out.str());
  for (std::string l; std::getline(in, l);) got.push_back(l);
  ASSERT_EQ(got.size(), 4u) << out.str() << "---\n" << err.str();
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(got[i].find("id " + id_of(lines[i + 1])), std::string::npos) << got[i];
  EXPECT_NE(err.str().find("was rotated"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("was truncated"), std::string::npos) << err.str();
}

TEST(CliFollow, FromStartJsonAndDamage) {
  TempDir dir;
  const std::string log = (dir.p / "crash.log").string();
  auto lines = sample_lines();
  std::ofstream(log) << lines[0] << "garbage\n" << lines[1];
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  int rc = run_follow(
      {log, "--from-start", "--json", "--count", "2", "--timeout", "5", "--interval", "20"}, env);
  EXPECT_EQ(rc, 0);
  std::istringstream in(out.str());
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  auto j = nlohmann::json::parse(l1);
  EXPECT_EQ(j["id"], id_of(lines[0]));
  EXPECT_EQ(j["signature"], "dba2ed84eea09f26");
  EXPECT_EQ(j["top_frames"].size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(l2)["line"], 3);
  EXPECT_NE(err.str().find(":2: skipped: not JSON"), std::string::npos) << err.str();
}

TEST(CliFollow, TimeoutAndStopFlag) {
  TempDir dir;
  const std::string log = (dir.p / "crash.log").string();
  std::ofstream(log) << "";
  {
    std::ostringstream out, err;
    CliEnv env = test_env(out, err);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(run_follow({log, "--count", "1", "--timeout", "0.3", "--interval", "20"}, env), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    EXPECT_EQ(run_follow({log, "--timeout", "0.1", "--interval", "20"}, env), 0);
  }
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  volatile std::sig_atomic_t stop = 0;
  env.stop = &stop;
  int rc = -1;
  auto t0 = std::chrono::steady_clock::now();
  std::thread t([&] { rc = run_follow({log, "--interval", "50"}, env); });
  nap(100);
  stop = 1;
  t.join();
  EXPECT_EQ(rc, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(CliFollow, WaitsForALogThatDoesNotExistYet) {
  TempDir dir;
  const std::string log = (dir.p / "later.log").string();
  auto lines = sample_lines();
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  int rc = -1;
  std::thread t([&] {
    rc = run_follow({log, "--count", "1", "--timeout", "10", "--interval", "20"}, env);
  });
  nap(100);
  std::ofstream(log) << lines[5];
  t.join();
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.str().find(id_of(lines[5])), std::string::npos) << out.str() << err.str();
  EXPECT_NE(err.str().find("waiting for"), std::string::npos);
}

// The real binary: SIGTERM and SIGINT end it cleanly (exit 0) while it sleeps.
TEST(CliFollow, BinaryExitsCleanlyOnSigtermAndSigint) {
  const std::string bin = std::string(SELFHEAL_BUILD_DIR) + "/selfhealctl";
  if (access(bin.c_str(), X_OK) != 0) GTEST_SKIP() << bin << " not built";
  TempDir dir;
  const std::string log = (dir.p / "crash.log").string();
  std::ofstream(log) << "";
  for (int sig : {SIGTERM, SIGINT}) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(bin.c_str(), bin.c_str(), "follow", log.c_str(), "--timeout", "30", (char*)nullptr);
      _exit(127);
    }
    nap(300);
    auto t0 = std::chrono::steady_clock::now();
    kill(pid, sig);
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
  }
}

}  // namespace
