// The shared-memory crash table: layout, counters, signatures, recent crashes, eviction.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "shm/table.h"
#include "shm/table_layout.h"  // private layout, for the white-box tests

namespace selfheal {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000'000;  // a fixed "now" in µs
constexpr int64_t kSec = 1'000'000;

struct ShmMap {
  explicit ShmMap(size_t bytes) : size(bytes) {
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) mem = nullptr;
  }
  ~ShmMap() {
    if (mem) munmap(mem, size);
  }
  ShmMap(const ShmMap&) = delete;
  ShmMap& operator=(const ShmMap&) = delete;
  size_t size;
  void* mem;
};

crash::CrashSummary crash_of(int signo, uint64_t sig, int64_t t, const char* path = nullptr,
                             uint64_t key = 0) {
  crash::CrashSummary s;
  s.signo = signo;
  s.signature = sig;
  s.time_us = t;
  s.path = path;
  s.key_hash = key;
  s.record_written = true;
  return s;
}

class ShmTableTest : public ::testing::Test {
 protected:
  void make(ShmLayout l) {
    map_ = std::make_unique<ShmMap>(shm_table_bytes(l));
    ASSERT_NE(map_->mem, nullptr);
    table_ = shm_table_init(map_->mem, map_->size, l);
    ASSERT_NE(table_, nullptr);
  }
  void SetUp() override { make(ShmLayout{}); }
  std::unique_ptr<ShmMap> map_;
  ShmTable* table_ = nullptr;
};

TEST(ShmTableLayout, InitAttachValidate) {
  ShmLayout l{16, 32, 8};
  size_t bytes = shm_table_bytes(l);
  EXPECT_GT(bytes, sizeof(ShmTable));
  EXPECT_EQ(bytes % 64, 0u);
  ShmMap m(bytes + 128);
  ASSERT_NE(m.mem, nullptr);
  EXPECT_EQ(shm_table_attach(m.mem), nullptr) << "zeroed memory has no magic";
  EXPECT_EQ(shm_table_init(m.mem, bytes - 65, l), nullptr) << "too small";
  // apr_shm's usable base is mapping + 8: the table aligns itself, attach finds it again.
  char* apr_like = static_cast<char*>(m.mem) + 8;
  EXPECT_EQ(shm_table_init(apr_like, bytes - 65, l), nullptr) << "too small once aligned";
  ShmTable* shifted = shm_table_init(apr_like, bytes, l);
  ASSERT_NE(shifted, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(shifted) % 64, 0u);
  EXPECT_EQ(static_cast<void*>(shifted), static_cast<void*>(static_cast<char*>(m.mem) + 64));
  EXPECT_EQ(shm_table_attach(apr_like), shifted);
  std::memset(m.mem, 0, m.size);
  ShmTable* t = shm_table_init(m.mem, bytes, l);
  ASSERT_EQ(t, m.mem);
  EXPECT_EQ(shm_table_attach(m.mem), t);
  ShmLayout got = shm_table_layout(t);
  EXPECT_EQ(got.signature_slots, 16u);
  EXPECT_EQ(got.quarantine_slots, 32u);
  EXPECT_EQ(got.recent_crashes, 8u);
  QuarantinePolicy p = quarantine_policy(t);
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.threshold, 3u);
  EXPECT_EQ(p.window_s, 60u);
  EXPECT_EQ(p.duration_s, 300u);
  t->version.store(kShmVersion + 1);
  EXPECT_EQ(shm_table_attach(m.mem), nullptr) << "other version";
  t->version.store(kShmVersion);
  t->q_slots.store(33);
  EXPECT_EQ(shm_table_attach(m.mem), nullptr) << "sizes disagree";
}

TEST(ShmTableLayout, ClampsSlotCounts) {
  ShmLayout zero{0, 0, 0};
  EXPECT_EQ(shm_table_bytes(zero), shm_table_bytes(ShmLayout{1, 1, 1}));
  ShmMap m(shm_table_bytes(zero));
  ShmTable* t = shm_table_init(m.mem, m.size, zero);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(shm_table_layout(t).quarantine_slots, 1u);
  shm_record_crash(t, crash_of(SIGSEGV, 7, kT0, "/a", 9), "GET a /a");
  EXPECT_EQ(shm_snapshot(t, kT0).signatures.size(), 1u);
}

TEST(ShmTableLayout, NullTableIsHarmless) {
  shm_record_crash(nullptr, crash_of(SIGSEGV, 1, kT0), "x");
  shm_note_child_died(nullptr, SIGSEGV);
  shm_table_reset_quarantine(nullptr);
  EXPECT_FALSE(quarantine_check(nullptr, 1, kT0).quarantined);
  ShmSnapshot s = shm_snapshot(nullptr, kT0);
  EXPECT_TRUE(s.signatures.empty());
}

TEST_F(ShmTableTest, CountsBySignalAndRecordFate) {
  auto a = crash_of(SIGSEGV, 0xaa, kT0, "/x");
  shm_record_crash(table_, a, nullptr);
  shm_record_crash(table_, a, nullptr);
  auto dropped = crash_of(SIGBUS, 0xbb, kT0 + 1);
  dropped.record_written = false;
  dropped.record_dropped = true;
  shm_record_crash(table_, dropped, nullptr);
  auto folded = crash_of(SIGSEGV, 0xaa, kT0 + 2);
  folded.record_written = false;
  folded.folded = true;
  shm_record_crash(table_, folded, nullptr);
  shm_record_crash(table_, crash_of(200, 0, kT0 + 3), nullptr);  // odd signal, no signature
  shm_note_child_died(table_, SIGSEGV);

  ShmSnapshot s = shm_snapshot(table_, kT0 + 10);
  EXPECT_EQ(s.counters.crashes_total, 5u);
  EXPECT_EQ(s.counters.crashes_by_signal[SIGSEGV], 3u);
  EXPECT_EQ(s.counters.crashes_by_signal[SIGBUS], 1u);
  EXPECT_EQ(s.counters.crashes_by_signal[0], 1u);
  EXPECT_EQ(s.counters.records_written, 3u);
  EXPECT_EQ(s.counters.records_dropped, 1u);
  EXPECT_EQ(s.counters.records_folded, 1u);
  EXPECT_EQ(s.counters.children_died, 1u);
  ASSERT_EQ(s.signatures.size(), 2u);
  EXPECT_EQ(s.signatures[0].signature, 0xaau);
  EXPECT_EQ(s.signatures[0].count, 3u);
  EXPECT_EQ(s.signatures[0].first_us, kT0);
  EXPECT_EQ(s.signatures[0].last_us, kT0 + 2);
  EXPECT_EQ(s.signatures[1].signature, 0xbbu);
  EXPECT_EQ(s.signatures[1].signo, SIGBUS);
  EXPECT_EQ(s.recent.size(), 5u);
}

TEST_F(ShmTableTest, SignatureKeepsLastRequestAndTopFrame) {
  ShmCrashInfo info;
  info.method = "POST";
  info.vhost = "shop.example:443";
  info.path = "/cart/checkout";
  info.top_frame = "mod_shop.so+0x1a2b";
  shm_record_crash_ex(table_, crash_of(SIGSEGV, 0x1234, kT0, "/ignored"), info);
  info.path = "/cart/pay";
  info.top_frame = nullptr;  // later crash without a frame keeps the old one
  shm_record_crash_ex(table_, crash_of(SIGSEGV, 0x1234, kT0 + kSec), info);
  ShmSnapshot s = shm_snapshot(table_, kT0 + 2 * kSec);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].last_path, "/cart/pay");
  EXPECT_EQ(s.signatures[0].last_vhost, "shop.example:443");
  EXPECT_EQ(s.signatures[0].top_frame, "mod_shop.so+0x1a2b");
  ASSERT_EQ(s.recent.size(), 2u);
  EXPECT_EQ(s.recent[0].path, "/cart/pay");
  EXPECT_EQ(s.recent[0].method, "POST");
  EXPECT_EQ(s.recent[0].vhost, "shop.example:443");
  EXPECT_EQ(s.recent[1].path, "/cart/checkout");
}

TEST_F(ShmTableTest, RecentCrashIdMatchesCrashLogFormat) {
  shm_record_crash(table_, crash_of(SIGSEGV, 1, 0x5f00aa), nullptr);
  ShmCrashInfo info;
  info.pid = 4242;
  shm_record_crash_ex(table_, crash_of(SIGABRT, 2, 0x10), info);
  info.record_id = "given-id";
  shm_record_crash_ex(table_, crash_of(SIGABRT, 2, 0x11), info);
  ShmSnapshot s = shm_snapshot(table_, kT0);
  ASSERT_EQ(s.recent.size(), 3u);
  EXPECT_EQ(s.recent[2].id, std::to_string(getpid()) + "-5f00aa");
  EXPECT_EQ(s.recent[2].pid, static_cast<long>(getpid()));
  EXPECT_EQ(s.recent[1].id, "4242-10");
  EXPECT_EQ(s.recent[0].id, "given-id");
}

TEST_F(ShmTableTest, RecentRingKeepsTheNewest) {
  make(ShmLayout{8, 8, 4});
  for (int i = 1; i <= 10; ++i) shm_record_crash(table_, crash_of(SIGSEGV, i, kT0 + i), nullptr);
  ShmSnapshot s = shm_snapshot(table_, kT0 + 100);
  ASSERT_EQ(s.recent.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s.recent[i].seq, static_cast<uint64_t>(10 - i));
    EXPECT_EQ(s.recent[i].signature, static_cast<uint64_t>(10 - i));
  }
}

TEST_F(ShmTableTest, FullSignatureTableEvictsLeastRecentlySeen) {
  make(ShmLayout{4, 8, 8});
  for (uint64_t sig = 1; sig <= 4; ++sig)
    shm_record_crash(table_, crash_of(SIGSEGV, sig, kT0 + static_cast<int64_t>(sig)), nullptr);
  shm_record_crash(table_, crash_of(SIGSEGV, 1, kT0 + 10), nullptr);  // 1 is recent again
  shm_record_crash(table_, crash_of(SIGSEGV, 5, kT0 + 11), nullptr);  // evicts 2
  ShmSnapshot s = shm_snapshot(table_, kT0 + 20);
  ASSERT_EQ(s.signatures.size(), 4u);
  std::set<uint64_t> sigs;
  for (const auto& r : s.signatures) sigs.insert(r.signature);
  EXPECT_EQ(sigs, (std::set<uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(s.counters.signature_evictions, 1u);
  EXPECT_EQ(s.signatures[0].signature, 1u);
  EXPECT_EQ(s.signatures[0].count, 2u);
  for (const auto& r : s.signatures) {
    if (r.signature == 5) {
      EXPECT_EQ(r.count, 1u) << "the evicted count is not inherited";
    }
  }
}

TEST_F(ShmTableTest, LongTextIsTruncatedNotOverflowing) {
  std::string path(1000, 'p');
  ShmCrashInfo info;
  info.path = path.c_str();
  info.vhost = path.c_str();
  info.top_frame = path.c_str();
  info.method = path.c_str();
  shm_record_crash_ex(table_, crash_of(SIGSEGV, 3, kT0), info);
  ShmSnapshot s = shm_snapshot(table_, kT0);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].last_path, std::string(kShmPathChars - 1, 'p'));
  EXPECT_EQ(s.signatures[0].last_vhost, std::string(kShmVhostChars - 1, 'p'));
  EXPECT_EQ(s.signatures[0].top_frame, std::string(kShmFrameChars - 1, 'p'));
  EXPECT_EQ(s.recent[0].method, std::string(kShmMethodChars - 1, 'p'));
}

TEST_F(ShmTableTest, SnapshotMergesDuplicateSlots) {
  make(ShmLayout{4, 8, 8});
  shm_record_crash(table_, crash_of(SIGSEGV, 77, kT0, "/old"), nullptr);
  // Forge the rare outcome of two racing evictions: the same signature in two slots.
  SigSlot* slots = sig_slots(table_);
  int used = -1;
  for (int i = 0; i < 4; ++i)
    if (slots[i].key.load() == 77) used = i;
  ASSERT_GE(used, 0);
  SigSlot& dup = slots[(used + 1) % 4];
  dup.key.store(77);
  dup.count.store(5);
  dup.first_us.store(kT0 - kSec);
  dup.last_us.store(kT0 + kSec);
  dup.path.store("/new");
  ShmSnapshot s = shm_snapshot(table_, kT0 + 2 * kSec);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].count, 6u);
  EXPECT_EQ(s.signatures[0].first_us, kT0 - kSec);
  EXPECT_EQ(s.signatures[0].last_path, "/new");
}

TEST_F(ShmTableTest, SlotHeldByADeadWriterIsTakenOver) {
  make(ShmLayout{1, 8, 8});
  shm_record_crash(table_, crash_of(SIGSEGV, 5, kT0), nullptr);
  SigSlot& slot = sig_slots(table_)[0];
  slot.seq.fetch_add(1);  // a writer took the slot and was killed before releasing it
  ASSERT_EQ(shm_snapshot(table_, kT0).signatures.size(), 0u) << "busy slots are skipped";
  auto start = std::chrono::steady_clock::now();
  shm_record_crash(table_, crash_of(SIGSEGV, 5, kT0 + 1), nullptr);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(400));
  EXPECT_LT(waited, std::chrono::seconds(5));
  ShmSnapshot s = shm_snapshot(table_, kT0 + 2);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].count, 2u);
  EXPECT_EQ(slot.seq.load() & 1, 0u);
}

TEST_F(ShmTableTest, GenerationDiagnosisIsClaimedOnce) {
  shm_table_begin_generation(table_, 0);
  EXPECT_TRUE(shm_claim_generation_diagnosis(table_, 0));
  EXPECT_FALSE(shm_claim_generation_diagnosis(table_, 0));
  shm_record_crash(table_, crash_of(SIGSEGV, 1, kT0), nullptr);
  EXPECT_EQ(shm_snapshot(table_, kT0).counters.generation_crashes, 1u);
  shm_table_begin_generation(table_, 1);
  ShmSnapshot s = shm_snapshot(table_, kT0);
  EXPECT_EQ(s.counters.generation, 1u);
  EXPECT_EQ(s.counters.generation_crashes, 0u);
  EXPECT_EQ(s.counters.crashes_total, 1u);
  EXPECT_TRUE(shm_claim_generation_diagnosis(table_, 1));
  EXPECT_FALSE(shm_claim_generation_diagnosis(table_, 1));
}

TEST_F(ShmTableTest, AttachSeesTheSameTableAfterFork) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ShmTable* t = shm_table_attach(map_->mem);
    if (!t) _exit(1);
    shm_record_crash(t, crash_of(SIGSEGV, 99, kT0, "/child"), "GET h /child");
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ShmSnapshot s = shm_snapshot(table_, kT0);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].last_path, "/child");
  EXPECT_EQ(s.recent[0].pid, static_cast<long>(pid));
}

TEST_F(ShmTableTest, FoldLimiterAcrossCallersPerSignatureAndWindow) {
  uint64_t carried = 99;
  // after == 0: off.
  EXPECT_FALSE(shm_fold_check(table_, 0xaa, kT0, 0, 60, &carried));
  EXPECT_EQ(carried, 0u);
  // 2 per 60 s: two written, then folded with a running count.
  EXPECT_FALSE(shm_fold_check(table_, 0xaa, kT0, 2, 60, &carried));
  EXPECT_EQ(carried, 0u);
  EXPECT_FALSE(shm_fold_check(table_, 0xaa, kT0 + 1, 2, 60, &carried));
  EXPECT_TRUE(shm_fold_check(table_, 0xaa, kT0 + 2, 2, 60, &carried));
  EXPECT_EQ(carried, 1u);
  EXPECT_TRUE(shm_fold_check(table_, 0xaa, kT0 + 3, 2, 60, &carried));
  EXPECT_EQ(carried, 2u);
  // Another signature has its own budget.
  EXPECT_FALSE(shm_fold_check(table_, 0xbb, kT0 + 4, 2, 60, &carried));
  EXPECT_EQ(carried, 0u);
  // The next window writes again and carries the folded count once.
  EXPECT_FALSE(shm_fold_check(table_, 0xaa, kT0 + 61 * kSec, 2, 60, &carried));
  EXPECT_EQ(carried, 2u);
  EXPECT_FALSE(shm_fold_check(table_, 0xaa, kT0 + 62 * kSec, 2, 60, &carried));
  EXPECT_EQ(carried, 0u);
  // A slot claimed by the limiter alone is no signature row yet; the crash then fills it.
  ShmSnapshot s = shm_snapshot(table_, kT0 + 70 * kSec);
  EXPECT_TRUE(s.signatures.empty());
  auto c = crash_of(SIGSEGV, 0xaa, kT0 + 63 * kSec, "/p");
  shm_record_crash(table_, c, nullptr);
  s = shm_snapshot(table_, kT0 + 70 * kSec);
  ASSERT_EQ(s.signatures.size(), 1u);
  EXPECT_EQ(s.signatures[0].count, 1u);
  EXPECT_EQ(s.signatures[0].last_path, "/p");
  // The crash did not reset the limiter's window.
  EXPECT_TRUE(shm_fold_check(table_, 0xaa, kT0 + 64 * kSec, 2, 60, &carried));
  EXPECT_EQ(carried, 1u);
}

TEST_F(ShmTableTest, EarlyCrashesCountPerGenerationAndWindow) {
  shm_table_begin_generation(table_, 3);
  const int64_t early = 10 * kSec, window = 60 * kSec;
  EXPECT_EQ(shm_note_early_crash(table_, 1 * kSec, early, kT0, window), 1u);
  EXPECT_EQ(shm_note_early_crash(table_, 60 * kSec, early, kT0 + 1, window), 0u);  // not early
  EXPECT_EQ(shm_note_early_crash(table_, -1, early, kT0 + 2, window), 0u);         // unknown
  EXPECT_EQ(shm_note_early_crash(table_, 0, early, kT0 + 3, window), 2u);
  // Early crashes spread beyond the window do not add up.
  EXPECT_EQ(shm_note_early_crash(table_, 0, early, kT0 + 100 * kSec, window), 1u);
  EXPECT_EQ(shm_snapshot(table_, kT0).counters.generation_early_crashes, 3u);
  shm_table_begin_generation(table_, 4);
  EXPECT_EQ(shm_snapshot(table_, kT0).counters.generation_early_crashes, 0u);
  EXPECT_EQ(shm_note_early_crash(table_, 0, early, kT0 + 101 * kSec, window), 1u);
  EXPECT_TRUE(shm_claim_generation_diagnosis(table_, 4));
  EXPECT_FALSE(shm_claim_generation_diagnosis(table_, 4));
}

}  // namespace
}  // namespace selfheal
