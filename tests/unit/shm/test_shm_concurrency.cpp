// Several processes crash at once: the shared table stays consistent, counts add up exactly,
// and a reader never sees a torn key text or path.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "shm/table.h"

namespace selfheal {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000'000;
constexpr int kProcs = 4;

struct SharedMap {
  explicit SharedMap(size_t bytes) : size(bytes) {
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) mem = nullptr;
  }
  ~SharedMap() {
    if (mem) munmap(mem, size);
  }
  SharedMap(const SharedMap&) = delete;
  SharedMap& operator=(const SharedMap&) = delete;
  size_t size;
  void* mem;
};

uint64_t sig_of(int i) {
  return 0x5100000000000000ull + static_cast<uint64_t>(i) * 0x9e3779b9ull;
}

// A long text that differs in every position between signatures: a torn copy would mix them.
std::string path_of(uint64_t sig) {
  char unit[24];
  std::snprintf(unit, sizeof unit, "/%016llx", static_cast<unsigned long long>(sig));
  std::string s;
  while (s.size() < kShmPathChars - 1) s += unit;
  s.resize(kShmPathChars - 1);
  return s;
}
std::string vhost_of(uint64_t sig) {
  return path_of(sig).substr(0, kShmVhostChars - 1);
}
std::string key_text_of(int k) {
  std::string s = "GET v" + std::to_string(k) + ".example:80 /";
  while (s.size() < kShmKeyChars - 1) s += static_cast<char>('a' + k % 26);
  return s;
}

struct Plan {
  int sigs, keys, per_proc;
  int sig_index(int proc, int i) const { return (i * 7 + proc * 3) % sigs; }
  int key_index(int proc, int i) const { return (i * 5 + proc) % keys; }
  int signo(int i) const { return i % 3 == 0 ? SIGBUS : (i % 3 == 1 ? SIGSEGV : SIGABRT); }
};

// Child body: per_proc crashes. Async-signal-safe calls only, as in the real handler; the
// strings are prepared before the loop.
[[noreturn]] void hammer(void* mem, const std::atomic<int>* go, const Plan& plan, int proc,
                         const std::vector<std::string>& paths,
                         const std::vector<std::string>& vhosts,
                         const std::vector<std::string>& keys) {
  ShmTable* t = shm_table_attach(mem);
  if (!t) _exit(2);
  while (go->load() == 0) {  // start together, so that the writers really overlap
  }
  for (int i = 0; i < plan.per_proc; ++i) {
    int s = plan.sig_index(proc, i);
    int k = plan.key_index(proc, i);
    crash::CrashSummary c;
    c.signo = plan.signo(i);
    c.signature = sig_of(s);
    c.key_hash = quarantine_key_hash_text(keys[k].c_str());
    c.time_us = kT0 + i;
    c.record_written = true;
    ShmCrashInfo info;
    info.key_text = keys[k].c_str();
    info.path = paths[s].c_str();
    info.vhost = vhosts[s].c_str();
    info.top_frame = paths[s].c_str();
    shm_record_crash_ex(t, c, info);
  }
  _exit(0);
}

// Every row must be internally consistent: its texts belong to its key.
void expect_consistent(const ShmSnapshot& s, int* checked) {
  for (const auto& r : s.signatures) {
    ASSERT_EQ(r.last_path, path_of(r.signature)) << "torn signature text";
    ASSERT_EQ(r.last_vhost, vhost_of(r.signature));
    ASSERT_EQ(r.top_frame, path_of(r.signature).substr(0, kShmFrameChars - 1));
    ++*checked;
  }
  for (const auto& r : s.recent) {
    ASSERT_EQ(r.path, path_of(r.signature)) << "torn recent-crash text";
    ++*checked;
  }
  for (const auto& q : s.quarantine) {
    ASSERT_EQ(quarantine_key_hash_text(q.key.c_str()), q.key_hash) << "torn key text";
    ++*checked;
  }
}

void run(const Plan& plan, const ShmLayout& layout, ShmSnapshot* out, int* reader_checked) {
  SharedMap m(shm_table_bytes(layout));
  ASSERT_NE(m.mem, nullptr);
  ShmTable* t = shm_table_init(m.mem, m.size, layout);
  ASSERT_NE(t, nullptr);
  QuarantinePolicy p;
  p.threshold = 16;  // accounting only in this test; quarantine logic has its own tests
  p.window_s = 1;
  quarantine_set_policy(t, p);
  std::vector<std::string> paths, vhosts, keys;
  for (int s = 0; s < plan.sigs; ++s) {
    paths.push_back(path_of(sig_of(s)));
    vhosts.push_back(vhost_of(sig_of(s)));
  }
  for (int k = 0; k < plan.keys; ++k) keys.push_back(key_text_of(k));

  SharedMap flag(4096);
  ASSERT_NE(flag.mem, nullptr);
  auto* go = new (flag.mem) std::atomic<int>(0);
  for (int proc = 0; proc < kProcs; ++proc) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) hammer(m.mem, go, plan, proc, paths, vhosts, keys);
  }
  go->store(1);
  // Read while they write.
  int alive = kProcs;
  while (alive > 0) {
    ShmSnapshot s = shm_snapshot(t, kT0);
    expect_consistent(s, reader_checked);
    int status = 0;
    pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << done;
      --alive;
    }
  }
  *out = shm_snapshot(t, kT0);
  int checked = 0;
  expect_consistent(*out, &checked);
}

TEST(ShmConcurrency, ForkedCrashersCountExactly) {
  Plan plan{16, 8, 20000};
  ShmLayout layout{64, 64, 32};
  ShmSnapshot s;
  int reader_checked = 0;
  ASSERT_NO_FATAL_FAILURE(run(plan, layout, &s, &reader_checked));
  const uint64_t total = static_cast<uint64_t>(kProcs) * plan.per_proc;

  EXPECT_EQ(s.counters.crashes_total, total);
  EXPECT_EQ(s.counters.records_written, total);
  uint64_t by_signal = s.counters.crashes_by_signal[SIGBUS] +
                       s.counters.crashes_by_signal[SIGSEGV] +
                       s.counters.crashes_by_signal[SIGABRT];
  EXPECT_EQ(by_signal, total);
  EXPECT_EQ(s.counters.signature_evictions, 0u);
  EXPECT_EQ(s.counters.slot_busy_giveups, 0u);

  std::map<uint64_t, uint64_t> want_sig;
  std::map<uint64_t, uint64_t> want_key;
  for (int proc = 0; proc < kProcs; ++proc)
    for (int i = 0; i < plan.per_proc; ++i) {
      ++want_sig[sig_of(plan.sig_index(proc, i))];
      ++want_key[quarantine_key_hash_text(key_text_of(plan.key_index(proc, i)).c_str())];
    }
  ASSERT_EQ(s.signatures.size(), want_sig.size());
  for (const auto& r : s.signatures) EXPECT_EQ(r.count, want_sig[r.signature]) << r.signature;
  ASSERT_EQ(s.quarantine.size(), want_key.size());
  for (const auto& q : s.quarantine) {
    EXPECT_EQ(q.crashes, want_key[q.key_hash]) << q.key;
    EXPECT_EQ(q.key, key_text_of(static_cast<int>(q.key.substr(5, 1)[0] - '0')));
  }
  EXPECT_EQ(s.recent.size(), 32u);
  EXPECT_EQ(s.recent.front().seq, total);
  std::printf("[          ] reader checked %d rows while %d processes wrote\n", reader_checked,
              kProcs);
}

TEST(ShmConcurrency, ForkedCrashersUnderEvictionStayConsistent) {
  Plan plan{40, 30, 10000};
  ShmLayout layout{8, 8, 8};  // far fewer slots than signatures and keys
  ShmSnapshot s;
  int reader_checked = 0;
  ASSERT_NO_FATAL_FAILURE(run(plan, layout, &s, &reader_checked));
  const uint64_t total = static_cast<uint64_t>(kProcs) * plan.per_proc;
  EXPECT_EQ(s.counters.crashes_total, total);
  EXPECT_GT(s.counters.signature_evictions, 0u);
  EXPECT_GT(s.counters.quarantine_evictions, 0u);
  EXPECT_LE(s.signatures.size(), 8u);
  EXPECT_LE(s.quarantine.size(), 8u);
  uint64_t sum = 0;
  for (const auto& r : s.signatures) sum += r.count;
  EXPECT_LE(sum, total);
}

}  // namespace
}  // namespace selfheal
