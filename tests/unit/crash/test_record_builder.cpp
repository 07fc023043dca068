// The crash record builder without a crash: redaction, the query, corrupt pointers, the
// 64 KiB cap, and the fault-tolerant reads it relies on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crash/modules_snapshot.h"
#include "crash/record.h"
#include "crash/request_json.h"
#include "crash/safe_read.h"
#include "crash/state.h"
#include "crash/unwind.h"
#include "test_crash_util.h"

namespace crash = selfheal::crash;
using crashtest::FakeRequest;

namespace {

// Builds a record for a fake SIGSEGV on the calling thread with slot as its connection.
struct Built {
  std::string text;
  bool truncated = false;
  nlohmann::json json;
};

Built build(crash::ThreadEntry* self, const crash::ThreadEntry* entries, size_t n, bool redact) {
  static char buf[crash::kMaxRecordBytes];
  static crash::Installed cfg;
  cfg = crash::Installed{};
  cfg.redact = redact;
  crash::modules_snapshot();
  ucontext_t uc;
  getcontext(&uc);
  siginfo_t si{};
  si.si_signo = SIGSEGV;
  si.si_code = SEGV_MAPERR;
  static crash::Backtrace bt;
  bt = crash::Backtrace{};
  bt.n = 1;
  bt.frames[0].pc = reinterpret_cast<uintptr_t>(&build);
  bt.frames[0].module = crash::module_for_pc(bt.frames[0].pc);
  crash::RecordFacts f;
  f.signo = SIGSEGV;
  f.info = &si;
  f.uc = &uc;
  f.time_us = 1795503662123456;
  f.pid = getpid();
  f.tid = getpid();
  f.bt = &bt;
  f.signature = crash::backtrace_signature(SIGSEGV, bt);
  f.self = self;
  f.entries = entries;
  f.n_entries = n;
  f.cfg = &cfg;
  Built b;
  size_t len = crash::build_record(f, buf, sizeof buf, &b.truncated);
  b.text.assign(buf, len);
  EXPECT_LE(len, crash::kMaxRecordBytes);
  EXPECT_GE(len, 2u);
  EXPECT_EQ(b.text.substr(len - 2), "}\n");
  EXPECT_EQ(b.text.find('\n'), len - 1) << "one line";
  EXPECT_TRUE(nlohmann::json::accept(b.text));
  if (nlohmann::json::accept(b.text)) b.json = nlohmann::json::parse(b.text);
  return b;
}

TEST(RecordBuilder, RedactsSecretHeadersAndTheQuery) {
  static FakeRequest req;
  static crash::ThreadEntry self;
  self.conn.store(&req.slot);
  Built b = build(&self, nullptr, 0, true);
  const auto& q = b.json["request"];
  ASSERT_TRUE(q.is_object()) << b.text;
  EXPECT_FALSE(q.contains("query"));
  for (const char* k : {"authorization", "Proxy-Authorization", "COOKIE", "Set-Cookie"})
    EXPECT_EQ(q["headers"][k], "[redacted]") << k;
  EXPECT_EQ(q["headers"]["User-Agent"], "crash-test/1.0");
  EXPECT_EQ(b.text.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(b.text.find("c2VjcmV0"), std::string::npos);
  EXPECT_EQ(b.text.find("session=abc"), std::string::npos);
  EXPECT_EQ(b.text.find("Bearer"), std::string::npos);
  EXPECT_FALSE(b.truncated);
}

TEST(RecordBuilder, QueryIsWrittenOnlyWithRedactionOff) {
  static FakeRequest req;
  static crash::ThreadEntry self;
  self.conn.store(&req.slot);
  Built b = build(&self, nullptr, 0, false);
  EXPECT_EQ(b.json["request"]["query"], "token=s3cr3t");
  // Secret headers stay redacted whatever SelfHealRedact says.
  EXPECT_EQ(b.json["request"]["headers"]["COOKIE"], "[redacted]");
}

TEST(RecordBuilder, CorruptPointersGiveNullNotAFault) {
  // A page that is mapped but unreadable, and pointers into it.
  long pg = sysconf(_SC_PAGESIZE);
  void* bad = mmap(nullptr, static_cast<size_t>(pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(bad, MAP_FAILED);
  static FakeRequest req;
  req.method = static_cast<const char*>(bad);
  req.handler = reinterpret_cast<const char*>(0x10);                   // a small garbage pointer
  req.slot.refs.filename = reinterpret_cast<const char* const*>(bad);  // the field itself
  req.headers[1].val = static_cast<const char*>(bad);
  req.slot.refs.protocol = nullptr;
  static crash::ThreadEntry self;
  self.conn.store(&req.slot);
  Built b = build(&self, nullptr, 0, true);
  const auto& q = b.json["request"];
  EXPECT_TRUE(q["method"].is_null());
  EXPECT_TRUE(q["handler"].is_null());
  EXPECT_TRUE(q["filename"].is_null());
  EXPECT_TRUE(q["protocol"].is_null());
  EXPECT_TRUE(q["headers"]["User-Agent"].is_null());
  EXPECT_EQ(q["path"], "/crash/null");
  // A slot pointer that is garbage altogether: no request, no connection.
  self.conn.store(reinterpret_cast<selfheal::ConnSlot*>(bad));
  Built b2 = build(&self, nullptr, 0, true);
  EXPECT_TRUE(b2.json["request"].is_null());
  EXPECT_TRUE(b2.json["connection"].is_null());
  munmap(bad, static_cast<size_t>(pg));
}

TEST(RecordBuilder, LongStringsAreCutWithAnEllipsis) {
  static std::string long_path = "/" + std::string(5000, 'p');
  static std::string long_value(3000, 'v');
  static FakeRequest req;
  req.path = long_path.c_str();
  req.add_header("X-Long", long_value.c_str());
  static crash::ThreadEntry self;
  self.conn.store(&req.slot);
  Built b = build(&self, nullptr, 0, true);
  std::string path = b.json["request"]["path"];
  EXPECT_EQ(path.size(), crash::kMaxPathBytes + 3);
  EXPECT_EQ(path.substr(path.size() - 3), "\xE2\x80\xA6");
  std::string v = b.json["request"]["headers"]["X-Long"];
  EXPECT_EQ(v.size(), crash::kMaxFieldBytes + 3);
}

TEST(RecordBuilder, HugeRequestsAreCutAtTheCapAndStayValid) {
  // 300 headers of ~500 bytes on this thread and 60 other requests like it: far over 64 KiB.
  static std::vector<std::string> values;
  static std::vector<std::string> names;
  static FakeRequest req;
  for (int i = 0; i < 300; ++i) {
    names.push_back("X-Header-" + std::to_string(i));
    values.push_back(std::string(500, static_cast<char>('a' + i % 26)) + "\"\\\n\x01\xff");
  }
  for (int i = 0; i < 300; ++i)
    req.add_header(names[static_cast<size_t>(i)].c_str(), values[static_cast<size_t>(i)].c_str());
  static crash::ThreadEntry entries[61];
  entries[0].tid.store(1);
  entries[0].conn.store(&req.slot);
  for (int i = 1; i < 61; ++i) {
    entries[i].tid.store(1000 + i);
    entries[i].conn.store(&req.slot);
  }
  Built b = build(&entries[0], entries, 61, true);
  EXPECT_TRUE(b.truncated);
  EXPECT_EQ(b.json["truncated"], true);
  EXPECT_GE(b.text.size(), crash::kMaxRecordBytes - crash::kRecordReserve - 1024);
  // The sections after the request are still there (possibly empty), the tail is intact.
  EXPECT_TRUE(b.json["modules"].is_array());
  EXPECT_TRUE(b.json["in_flight"].is_array());
  EXPECT_EQ(b.json["folded"], 0);
  EXPECT_TRUE(b.json["request"]["headers"].is_object());
  EXPECT_GT(b.json["request"]["headers"].size(), 10u);
  EXPECT_LT(b.json["request"]["headers"].size(), 110u);
}

TEST(RecordBuilder, ManyModulesAndInFlightRequestsFitOrAreCut) {
  static FakeRequest req;
  static crash::ThreadEntry entries[crash::kMaxThreads > 200 ? 200 : crash::kMaxThreads];
  for (int i = 0; i < 200; ++i) {
    entries[i].tid.store(2000 + i);
    entries[i].conn.store(&req.slot);
  }
  Built b = build(&entries[0], entries, 200, true);
  // At most kMaxInFlight listed; the rest is said by truncated.
  EXPECT_LE(b.json["in_flight"].size(), static_cast<size_t>(crash::kMaxInFlight));
  EXPECT_TRUE(b.json["truncated"].get<bool>());
  EXPECT_GE(b.json["modules"].size(), 3u);
}

TEST(RecordBuilder, HeaderSecretNamesAreCaseInsensitive) {
  EXPECT_TRUE(crash::header_is_secret("AUTHORIZATION", 13));
  EXPECT_TRUE(crash::header_is_secret("proxy-authorization", 19));
  EXPECT_TRUE(crash::header_is_secret("Cookie", 6));
  EXPECT_TRUE(crash::header_is_secret("set-COOKIE", 10));
  EXPECT_FALSE(crash::header_is_secret("Cookies", 7));
  EXPECT_FALSE(crash::header_is_secret("X-Authorization", 15));
}

TEST(RecordSafeRead, UnreadableMemoryIsReportedNotFaulted) {
  for (bool pipe : {false, true}) {
    crash::safe_read_force_pipe(pipe);
    long pg = sysconf(_SC_PAGESIZE);
    auto* two =
        static_cast<char*>(mmap(nullptr, 2 * static_cast<size_t>(pg), PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(two, MAP_FAILED);
    ASSERT_EQ(mprotect(two + pg, static_cast<size_t>(pg), PROT_NONE), 0);
    // A string that ends right at the page end, with no NUL before the unreadable page.
    char* tail = two + pg - 5;
    memcpy(tail, "abcde", 5);
    char out[64];
    bool cut = false;
    EXPECT_EQ(crash::safe_strcpy(out, sizeof out, tail, &cut), 5);
    EXPECT_TRUE(cut);
    EXPECT_STREQ(out, "abcde");
    memcpy(tail, "abc\0", 4);
    EXPECT_EQ(crash::safe_strcpy(out, sizeof out, tail, &cut), 3);
    EXPECT_FALSE(cut);
    EXPECT_EQ(crash::safe_strcpy(out, sizeof out, two + pg, &cut), -1);
    EXPECT_EQ(crash::safe_strcpy(out, sizeof out, nullptr, &cut), -1);
    char buf[16];
    EXPECT_EQ(crash::safe_read(buf, two + pg - 4, 16), 4u);  // the readable prefix
    EXPECT_EQ(crash::safe_read(buf, reinterpret_cast<void*>(8), 8), 0u);
    EXPECT_EQ(crash::safe_read_used_pipe(), pipe || crash::safe_read_used_pipe());
    munmap(two, 2 * static_cast<size_t>(pg));
  }
  crash::safe_read_force_pipe(false);
}

TEST(RecordModules, SnapshotHasThisBinaryWithItsBuildId) {
  size_t n = crash::modules_snapshot();
  ASSERT_GE(n, 3u);
  const crash::ModuleInfo* m = crash::module_for_pc(reinterpret_cast<uintptr_t>(&build));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m->path), crashtest::self_exe());
  EXPECT_GT(m->build_id_len, 0);
  EXPECT_EQ(crash::module_for_pc(0), nullptr);
  // getpid: not intercepted by ASan (whose write() lives in libasan).
  const crash::ModuleInfo* libc = crash::module_for_pc(reinterpret_cast<uintptr_t>(&getpid));
  ASSERT_NE(libc, nullptr);
  EXPECT_NE(std::string(libc->path).find("libc"), std::string::npos);
}

TEST(RecordNames, PhaseNames) {
  EXPECT_STREQ(selfheal::phase_name(selfheal::Phase::kMapToStorage), "map_to_storage");
  EXPECT_STREQ(selfheal::phase_name(selfheal::Phase::kLog), "log");
  EXPECT_STREQ(selfheal::phase_name(static_cast<selfheal::Phase>(200)), "unknown");
}

}  // namespace
