// Quarantine policy: threshold within a window, expiry, doubling up to the cap, probation,
// lift, off, once-per-period logging, eviction.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstring>
#include <string>

#include "shm/quarantine.h"
#include "shm/table.h"

namespace selfheal {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000'000;
constexpr int64_t kSec = 1'000'000;

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override { make(ShmLayout{32, 64, 16}); }
  void TearDown() override { unmap(); }
  void unmap() {
    if (mem_) munmap(mem_, size_);
    mem_ = nullptr;
  }
  void make(ShmLayout l) {
    unmap();
    size_ = shm_table_bytes(l);
    mem_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem_, MAP_FAILED);
    t_ = shm_table_init(mem_, size_, l);
    ASSERT_NE(t_, nullptr);
    QuarantinePolicy p;  // 3 in 60 s, 300 s, cap 24 h
    quarantine_set_policy(t_, p);
  }
  void crash(const std::string& key, int64_t t) {
    crash::CrashSummary s;
    s.signo = SIGSEGV;
    s.signature = 0xfeed;
    s.key_hash = quarantine_key_hash_text(key.c_str());
    s.time_us = t;
    s.record_written = true;
    shm_record_crash(t_, s, key.c_str());
  }
  QuarantineVerdict check(const std::string& key, int64_t t) {
    return quarantine_check(t_, quarantine_key_hash_text(key.c_str()), t);
  }
  const QuarantineRow* row(const ShmSnapshot& s, const std::string& key) {
    for (const auto& q : s.quarantine)
      if (q.key == key) return &q;
    return nullptr;
  }
  void* mem_ = nullptr;
  size_t size_ = 0;
  ShmTable* t_ = nullptr;
  const std::string k_ = "GET www.example.com:80 /poison";
  const std::string other_ = "GET www.example.com:80 /fine";
};

TEST(QuarantineKey, HashMatchesFormattedText) {
  char text[128];
  size_t n = quarantine_key_text("GET", "www.example.com:443", "/a/b", text, sizeof text);
  EXPECT_STREQ(text, "GET www.example.com:443 /a/b");
  EXPECT_EQ(n, std::strlen(text));
  EXPECT_EQ(quarantine_key_hash("GET", "www.example.com:443", "/a/b"),
            quarantine_key_hash_text(text));
  // Parts left out by SelfHealQuarantineKey are skipped, not hashed as empty.
  quarantine_key_text("GET", nullptr, "/a/b", text, sizeof text);
  EXPECT_STREQ(text, "GET /a/b");
  EXPECT_EQ(quarantine_key_hash("GET", nullptr, "/a/b"), quarantine_key_hash_text("GET /a/b"));
  EXPECT_EQ(quarantine_key_hash("GET", "", "/a/b"), quarantine_key_hash_text("GET /a/b"));
  EXPECT_NE(quarantine_key_hash("GET", "a", "/b"), quarantine_key_hash("GET", "b", "/a"));
  EXPECT_NE(quarantine_key_hash("GET", "h", "/x"), quarantine_key_hash("POST", "h", "/x"));
  EXPECT_NE(quarantine_key_hash(nullptr, nullptr, nullptr), 0u);
  // Truncation keeps the buffer terminated.
  char small[6];
  EXPECT_EQ(quarantine_key_text("GET", "host", "/p", small, sizeof small), 5u);
  EXPECT_STREQ(small, "GET h");
}

TEST(QuarantineKey, PartsByMask) {
  QuarantineKeyParts k;
  k.method = "GET";
  k.vhost = "www.example.com:443";
  k.path = "/a/b";
  k.query = "x=1";
  k.client = "192.0.2.7";
  char text[128];
  // The default mask is the three-part key, text and hash.
  quarantine_key_format(kKeyDefault, k, text, sizeof text);
  EXPECT_STREQ(text, "GET www.example.com:443 /a/b");
  EXPECT_EQ(quarantine_key_hash_parts(kKeyDefault, k),
            quarantine_key_hash("GET", "www.example.com:443", "/a/b"));
  quarantine_key_format(kKeyAll, k, text, sizeof text);
  EXPECT_STREQ(text, "GET www.example.com:443 /a/b?x=1 192.0.2.7");
  EXPECT_EQ(quarantine_key_hash_parts(kKeyAll, k), quarantine_key_hash_text(text));
  quarantine_key_format(kKeyQuery | kKeyClient, k, text, sizeof text);
  EXPECT_STREQ(text, "?x=1 192.0.2.7");
  quarantine_key_format(kKeyPath | kKeyQuery, k, text, sizeof text);
  EXPECT_STREQ(text, "/a/b?x=1");
  k.query = "";  // an empty query is left out, not written as "?"
  quarantine_key_format(kKeyPath | kKeyQuery, k, text, sizeof text);
  EXPECT_STREQ(text, "/a/b");
  EXPECT_NE(quarantine_key_hash_parts(kKeyMethod | kKeyPath, k),
            quarantine_key_hash_parts(kKeyMethod | kKeyPath | kKeyClient, k));
  char small[6];
  EXPECT_EQ(quarantine_key_format(kKeyAll, k, small, sizeof small), 5u);
  EXPECT_STREQ(small, "GET w");
}

TEST_F(QuarantineTest, TriggersAtThresholdNotBefore) {
  crash(k_, kT0);
  crash(k_, kT0 + 10 * kSec);
  EXPECT_FALSE(check(k_, kT0 + 11 * kSec).quarantined);
  crash(k_, kT0 + 20 * kSec);
  QuarantineVerdict v = check(k_, kT0 + 21 * kSec);
  ASSERT_TRUE(v.quarantined);
  EXPECT_EQ(v.until_us, kT0 + 320 * kSec);
  EXPECT_EQ(v.retry_after_s, 299u);
  EXPECT_EQ(v.strikes, 0u);
  EXPECT_EQ(v.crashes, 3u);
  EXPECT_FALSE(check(other_, kT0 + 21 * kSec).quarantined) << "other keys are left alone";
  ShmSnapshot s = shm_snapshot(t_, kT0 + 21 * kSec);
  const QuarantineRow* r = row(s, k_);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->active);
  EXPECT_EQ(r->since_us, kT0 + 20 * kSec);
  EXPECT_EQ(r->until_us, kT0 + 320 * kSec);
  EXPECT_EQ(r->crashes, 3u);
  EXPECT_EQ(r->first_crash_us, kT0);
  EXPECT_EQ(s.counters.quarantines_started, 1u);
}

TEST_F(QuarantineTest, CrashesSpreadBeyondTheWindowDoNotTrigger) {
  crash(k_, kT0);
  crash(k_, kT0 + 40 * kSec);
  crash(k_, kT0 + 80 * kSec);  // the first is 80 s old: only 2 within 60 s
  EXPECT_FALSE(check(k_, kT0 + 81 * kSec).quarantined);
  crash(k_, kT0 + 90 * kSec);  // 40, 80, 90
  EXPECT_TRUE(check(k_, kT0 + 91 * kSec).quarantined);
}

TEST_F(QuarantineTest, ExpiresLazily) {
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i * kSec);
  const int64_t until = kT0 + 2 * kSec + 300 * kSec;
  EXPECT_TRUE(check(k_, until - 1).quarantined);
  EXPECT_EQ(check(k_, until - 1).retry_after_s, 1u);
  EXPECT_FALSE(check(k_, until).quarantined);
  EXPECT_FALSE(row(shm_snapshot(t_, until), k_)->active);
  EXPECT_TRUE(row(shm_snapshot(t_, until - 1), k_)->active);
}

TEST_F(QuarantineTest, RepeatDoublesUpToTheCap) {
  QuarantinePolicy p;
  p.duration_s = 10;
  p.cap_s = 35;
  quarantine_set_policy(t_, p);
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);
  QuarantineVerdict v = check(k_, kT0 + 3);
  ASSERT_TRUE(v.quarantined);
  EXPECT_EQ(v.until_us, kT0 + 2 + 10 * kSec);
  int64_t now = v.until_us + kSec;  // expired, on probation: one crash re-quarantines
  const int64_t want[] = {20, 35, 35};
  for (int round = 0; round < 3; ++round) {
    EXPECT_FALSE(check(k_, now).quarantined);
    crash(k_, now);
    v = check(k_, now + 1);
    ASSERT_TRUE(v.quarantined) << "round " << round;
    EXPECT_EQ(v.until_us, now + want[round] * kSec) << "round " << round;
    EXPECT_EQ(v.strikes, static_cast<uint32_t>(round + 1));
    now = v.until_us + kSec;
  }
  EXPECT_EQ(shm_snapshot(t_, now).counters.quarantines_started, 4u);
}

TEST_F(QuarantineTest, QuietKeyIsForgivenAfterTheCap) {
  QuarantinePolicy p;
  p.duration_s = 10;
  p.cap_s = 100;
  quarantine_set_policy(t_, p);
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);
  int64_t until = check(k_, kT0 + 3).until_us;
  ASSERT_GT(until, 0);
  int64_t later = until + 200 * kSec;  // beyond probation and the cap
  crash(k_, later);
  EXPECT_FALSE(check(k_, later + 1).quarantined) << "one crash after a long quiet time";
  crash(k_, later + 1);
  crash(k_, later + 2);
  QuarantineVerdict v = check(k_, later + 3);
  ASSERT_TRUE(v.quarantined);
  EXPECT_EQ(v.strikes, 0u);
  EXPECT_EQ(v.until_us, later + 2 + 10 * kSec);
}

TEST_F(QuarantineTest, LiftOneAndAll) {
  for (int i = 0; i < 3; ++i) {
    crash(k_, kT0 + i);
    crash(other_, kT0 + i);
  }
  ASSERT_TRUE(check(k_, kT0 + kSec).quarantined);
  ASSERT_TRUE(check(other_, kT0 + kSec).quarantined);
  EXPECT_EQ(quarantine_lift(t_, quarantine_key_hash_text(k_.c_str())), 1u);
  EXPECT_EQ(quarantine_lift(t_, quarantine_key_hash_text("GET nowhere /x")), 0u);
  EXPECT_FALSE(check(k_, kT0 + kSec).quarantined);
  EXPECT_TRUE(check(other_, kT0 + kSec).quarantined);
  // Lifted means forgiven: one new crash does not put it back, three do, at strikes 0.
  crash(k_, kT0 + 2 * kSec);
  EXPECT_FALSE(check(k_, kT0 + 2 * kSec + 1).quarantined);
  crash(k_, kT0 + 3 * kSec);
  crash(k_, kT0 + 4 * kSec);
  QuarantineVerdict v = check(k_, kT0 + 4 * kSec + 1);
  EXPECT_TRUE(v.quarantined);
  EXPECT_EQ(v.strikes, 0u);

  quarantine_lift_all(t_);  // its return value counts by the wall clock: see the next test
  EXPECT_FALSE(check(k_, kT0 + 5 * kSec).quarantined);
  EXPECT_FALSE(check(other_, kT0 + 5 * kSec).quarantined);
  ShmSnapshot s = shm_snapshot(t_, kT0 + 5 * kSec);
  EXPECT_EQ(s.quarantine.size(), 2u) << "keys and their crash counts stay visible";
  EXPECT_EQ(row(s, k_)->crashes, 6u);
}

TEST_F(QuarantineTest, LiftAllCountsActiveEntries) {
  const int64_t now = shm_snapshot(t_, 0).counters.created_us;  // the real clock
  for (int i = 0; i < 3; ++i) crash(k_, now + i);
  ASSERT_TRUE(check(k_, now + 10).quarantined);
  EXPECT_EQ(quarantine_lift_all(t_), 1u);
  EXPECT_FALSE(check(k_, now + 10).quarantined);
}

TEST_F(QuarantineTest, OffCountsButNeverRefuses) {
  QuarantinePolicy off;
  off.enabled = false;
  quarantine_set_policy(t_, off);
  for (int i = 0; i < 5; ++i) crash(k_, kT0 + i);
  EXPECT_FALSE(check(k_, kT0 + 10).quarantined);
  ShmSnapshot s = shm_snapshot(t_, kT0 + 10);
  EXPECT_EQ(row(s, k_)->crashes, 5u);
  EXPECT_FALSE(row(s, k_)->active);
  // An entry quarantined while on is not enforced once turned off (restart with "off").
  quarantine_set_policy(t_, QuarantinePolicy{});
  for (int i = 0; i < 3; ++i) crash(other_, kT0 + 20 + i);
  ASSERT_TRUE(check(other_, kT0 + 30).quarantined);
  quarantine_set_policy(t_, off);
  EXPECT_FALSE(check(other_, kT0 + 30).quarantined);
}

TEST_F(QuarantineTest, LogsOncePerKeyAndPeriodAndCountsRefusals) {
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);
  EXPECT_TRUE(check(k_, kT0 + 10).log_now);
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(check(k_, kT0 + 11 + i).log_now);
  EXPECT_FALSE(check(other_, kT0 + 20).quarantined);
  ShmSnapshot s = shm_snapshot(t_, kT0 + 30);
  EXPECT_EQ(row(s, k_)->refused, 10u);
  EXPECT_EQ(s.counters.quarantine_refused, 10u);
  // Next period (probation crash after expiry): logged again, once.
  int64_t after = check(k_, kT0 + 40).until_us + kSec;
  crash(k_, after);
  EXPECT_TRUE(check(k_, after + 1).log_now);
  EXPECT_FALSE(check(k_, after + 2).log_now);
}

TEST_F(QuarantineTest, ThresholdOneAndClampedPolicy) {
  QuarantinePolicy p;
  p.threshold = 0;   // clamped to 1
  p.duration_s = 0;  // clamped to 1
  p.window_s = 0;    // clamped to 1
  quarantine_set_policy(t_, p);
  QuarantinePolicy got = quarantine_policy(t_);
  EXPECT_EQ(got.threshold, 1u);
  EXPECT_EQ(got.duration_s, 1u);
  EXPECT_EQ(got.window_s, 1u);
  p.threshold = 1000;
  p.duration_s = 1000;
  p.cap_s = 10;
  quarantine_set_policy(t_, p);
  got = quarantine_policy(t_);
  EXPECT_EQ(got.threshold, kQuarantineRing);
  EXPECT_EQ(got.duration_s, 10u) << "duration <= cap";
  QuarantinePolicy one;
  one.threshold = 1;
  quarantine_set_policy(t_, one);
  crash(k_, kT0);
  EXPECT_TRUE(check(k_, kT0 + 1).quarantined);
}

TEST_F(QuarantineTest, FullWindowEvictsOldestInactiveNeverTheActive) {
  make(ShmLayout{8, kQuarantineProbe, 8});         // the probe window is the whole table
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);  // active
  for (uint32_t i = 1; i < kQuarantineProbe; ++i)
    crash("GET h /k" + std::to_string(i), kT0 + 100 + i);
  crash("GET h /new", kT0 + 200);  // table full: evicts /k1, the oldest inactive
  ShmSnapshot s = shm_snapshot(t_, kT0 + 300);
  EXPECT_EQ(s.counters.quarantine_evictions, 1u);
  EXPECT_EQ(row(s, "GET h /k1"), nullptr);
  EXPECT_NE(row(s, "GET h /new"), nullptr);
  EXPECT_NE(row(s, k_), nullptr);
  EXPECT_TRUE(check(k_, kT0 + 300).quarantined);
}

TEST_F(QuarantineTest, ResetForgetsEverything) {
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);
  ASSERT_TRUE(check(k_, kT0 + 10).quarantined);
  shm_table_reset_quarantine(t_);
  EXPECT_FALSE(check(k_, kT0 + 10).quarantined);
  ShmSnapshot s = shm_snapshot(t_, kT0 + 10);
  EXPECT_TRUE(s.quarantine.empty());
  EXPECT_EQ(s.counters.crashes_total, 3u) << "counters survive";
  crash(k_, kT0 + 20);
  EXPECT_FALSE(check(k_, kT0 + 21).quarantined) << "a reset key starts from zero";
}

TEST_F(QuarantineTest, KeyZeroAndNoKeyAreNeverQuarantined) {
  crash::CrashSummary s;
  s.signo = SIGSEGV;
  s.time_us = kT0;
  for (int i = 0; i < 5; ++i) shm_record_crash(t_, s, nullptr);  // key_hash 0
  EXPECT_TRUE(shm_snapshot(t_, kT0).quarantine.empty());
  EXPECT_FALSE(quarantine_check(t_, 0, kT0).quarantined);
}

TEST_F(QuarantineTest, LargeTableFindsItsKeysWithinTheProbeWindow) {
  // The check probes at most kQuarantineProbe slots from the key's home, whatever the size.
  make(ShmLayout{8, 1u << 16, 8});
  for (int i = 0; i < 3; ++i) crash(k_, kT0 + i);
  for (int n = 0; n < 1000; ++n) crash("GET h /other" + std::to_string(n), kT0 + 10 + n);
  EXPECT_TRUE(check(k_, kT0 + 5000).quarantined);
  EXPECT_FALSE(check("GET h /never", kT0 + 5000).quarantined);
}

}  // namespace
}  // namespace selfheal
