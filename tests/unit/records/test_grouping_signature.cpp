// Grouping by signature, filters, and signature stability across address-space layouts.
#include <gtest/gtest.h>

#include <string>

#include "crash/signature.h"
#include "records/grouping.h"
#include "records/reader.h"

using namespace selfheal::records;

namespace {

const std::string kData = SELFHEAL_TEST_DATA;

std::string record_line(uint64_t base_crashy, uint64_t base_libc, bool with_signature,
                        const char* sig_name = "SIGSEGV") {
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      R"({"schema":1,"type":"crash","id":"1-%llx","time_us":1795158062000000,"pid":1,)"
      R"("signal":{"name":"%s","number":11},"frames":[)"
      R"({"pc":"0x%llx","module":"/lib/x86_64-linux-gnu/libc.so.6","offset":"0x9d0c0","build_id":"ab"},)"
      R"({"pc":"0x%llx","module":"/usr/lib/apache2/modules/mod_x.so","offset":"0x1a2b","build_id":"cd"},)"
      R"({"pc":"0x%llx","module":"/usr/lib/apache2/modules/mod_x.so","offset":"0x1c40","build_id":"cd"},)"
      R"({"pc":"0x%llx","module":"/usr/sbin/apache2","offset":"0x5f2e1","build_id":"ef"},)"
      R"({"pc":"0x%llx","module":"/usr/sbin/apache2","offset":"0x4c1a0","build_id":"ef"}]%s})",
      static_cast<unsigned long long>(base_crashy), sig_name,
      static_cast<unsigned long long>(base_libc + 0x9d0c0),
      static_cast<unsigned long long>(base_crashy + 0x1a2b),
      static_cast<unsigned long long>(base_crashy + 0x1c40),
      static_cast<unsigned long long>(0x555500000000ull + base_libc / 0x1000 + 0x5f2e1),
      static_cast<unsigned long long>(0x555500000000ull + base_libc / 0x1000 + 0x4c1a0),
      with_signature ? R"(,"signature":"0123456789abcdef")" : "");
  return buf;
}

CrashRecord parse(const std::string& line) {
  CrashRecord r;
  std::string why;
  EXPECT_TRUE(parse_record(line, r, why)) << why;
  return r;
}

TEST(GroupingSignature, SameOffsetsDifferentBasesSameSignature) {
  CrashRecord a = parse(record_line(0x7f0000000000, 0x7f1000000000, false));
  CrashRecord b = parse(record_line(0x7f3a1c200000, 0x7f2b00000000, false));
  CrashRecord c = parse(record_line(0x7fffe0000000, 0x7f0100000000, false));
  ASSERT_TRUE(a.signature_computed);
  EXPECT_NE(a.frames[1].pc, b.frames[1].pc);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.signature, c.signature);
  auto groups = group_records({a, b, c});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].count, 3u);
}

TEST(GroupingSignature, SignalIsPartOfTheSignature) {
  CrashRecord a = parse(record_line(0x7f0000000000, 0x7f1000000000, false, "SIGSEGV"));
  CrashRecord b = parse(record_line(0x7f0000000000, 0x7f1000000000, false, "SIGBUS"));
  EXPECT_NE(a.signature, b.signature);
}

TEST(GroupingSignature, RecordedSignatureIsUsedAsWritten) {
  CrashRecord a = parse(record_line(0x7f0000000000, 0x7f1000000000, true));
  EXPECT_FALSE(a.signature_computed);
  EXPECT_EQ(a.signature, "0123456789abcdef");
}

// The rule, pinned: libc is skipped, then basename + offset of three frames and the signal.
// If this value changes, every signature in every deployed crash log changes: don't.
TEST(GroupingSignature, RuleIsPinned) {
  selfheal::SigFrame f[] = {{"/lib/x86_64-linux-gnu/libc.so.6", 0x9d0c0},
                            {"/usr/lib/apache2/modules/mod_x.so", 0x1a2b},
                            {"/usr/lib/apache2/modules/mod_x.so", 0x1c40},
                            {"/usr/sbin/apache2", 0x5f2e1},
                            {"/usr/sbin/apache2", 0x4c1a0}};
  char hex[17];
  selfheal::signature_hex(selfheal::crash_signature("SIGSEGV", f, 5), hex);
  CrashRecord a = parse(record_line(0x7f0000000000, 0x7f1000000000, false));
  EXPECT_EQ(a.signature, hex);
  // Same frames under other directories: only basenames count.
  selfheal::SigFrame g[] = {{"/opt/x/libc.so.6", 0x9d0c0},
                            {"/elsewhere/mod_x.so", 0x1a2b},
                            {"/elsewhere/mod_x.so", 0x1c40},
                            {"/other/apache2", 0x5f2e1},
                            {"/other/apache2", 0x1}};  // the 4th frame after skipping is ignored
  char hex2[17];
  selfheal::signature_hex(selfheal::crash_signature("SIGSEGV", g, 5), hex2);
  EXPECT_STREQ(hex, hex2);
}

TEST(GroupingSignature, SignatureFramesSkipRuntimeAndFallBack) {
  CrashRecord a = parse(record_line(0x7f0000000000, 0x7f1000000000, false));
  EXPECT_EQ(signature_frames(a.frames), (std::vector<size_t>{1, 2, 3}));
  std::vector<Frame> only_libc(2);
  only_libc[0].module = "/lib/x86_64-linux-gnu/libc.so.6";
  only_libc[1].module = "/lib64/ld-linux-x86-64.so.2";
  EXPECT_EQ(signature_frames(only_libc), (std::vector<size_t>{0, 1}));
}

TEST(GroupingSignature, SampleLogGroups) {
  ReadResult r = read_files({kData + "/sample_crash.log"});
  ASSERT_EQ(r.records.size(), 8u);
  auto groups = group_records(r.records);
  ASSERT_EQ(groups.size(), 4u);
  const Group& g = groups[0];
  EXPECT_EQ(g.signature, "dba2ed84eea09f26");
  EXPECT_EQ(g.records, 4u);
  EXPECT_EQ(g.folded, 2u);
  EXPECT_EQ(g.count, 6u);
  EXPECT_EQ(g.signal, "SIGSEGV");
  EXPECT_EQ(format_time_us(g.first_us), "2026-11-20T07:01:02.123456Z");
  EXPECT_EQ(format_time_us(g.last_us), "2026-11-24T09:13:45.000777Z");
  EXPECT_EQ(g.pids, (std::vector<int64_t>{4242, 4243, 4244, 4245}));
  ASSERT_EQ(g.paths.size(), 2u);
  EXPECT_EQ(g.paths[0].value, "/api/upload");
  EXPECT_EQ(g.paths[0].count, 5u);  // 3 records, one of them folding 2 more
  EXPECT_EQ(g.vhosts[0].value, "www.example.com:443");
  EXPECT_EQ(g.ids.front(), "4242-660afce9bc9c0");
  EXPECT_EQ(g.latest->pid, 4245);
  EXPECT_EQ(g.top_index, (std::vector<size_t>{2, 3, 4}));
  ASSERT_EQ(g.top_frames.size(), 3u);
  EXPECT_EQ(g.top_frames[0].offset, 0x1a2bu);
  // The SIGABRT group: one record had no signature field; recomputed, it joins the other.
  EXPECT_EQ(groups[1].signal, "SIGABRT");
  EXPECT_EQ(groups[1].records, 2u);
  EXPECT_EQ(groups[3].no_request, 1u);
}

TEST(GroupingSignature, Filters) {
  ReadResult r = read_files({kData + "/sample_crash.log"});
  Filter f;
  f.signal = normalize_signal("abrt");
  EXPECT_EQ(f.signal, "SIGABRT");
  auto g = group_records(r.records, f);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].signal, "SIGABRT");

  Filter since;
  since.since_us = parse_iso8601("2026-11-23T00:00:00Z");
  size_t n = 0;
  for (const auto& x : group_records(r.records, since)) n += x.records;
  EXPECT_EQ(n, 4u);

  Filter until;
  until.until_us = parse_iso8601("2026-11-20T07:01:02.123456Z");  // inclusive
  n = 0;
  for (const auto& x : group_records(r.records, until)) n += x.records;
  EXPECT_EQ(n, 1u);

  Filter vh;
  vh.vhost = "STATIC.example.org";  // host part, any case
  g = group_records(r.records, vh);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].signal, "SIGBUS");
  vh.vhost = "www.example.com:443";
  EXPECT_EQ(group_records(r.records, vh).size(), 1u);

  Filter p;
  p.path = "/api/";
  g = group_records(r.records, p);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].records, 4u);
  p.path = "/nothing";
  EXPECT_TRUE(group_records(r.records, p).empty());
}

TEST(GroupingSignature, NormalizeSignal) {
  EXPECT_EQ(normalize_signal("SIGSEGV"), "SIGSEGV");
  EXPECT_EQ(normalize_signal("segv"), "SIGSEGV");
  EXPECT_EQ(normalize_signal("11"), "SIGSEGV");
  EXPECT_EQ(normalize_signal("7"), "SIGBUS");
  EXPECT_EQ(normalize_signal("99"), "");
  EXPECT_EQ(normalize_signal("SIG"), "");
  EXPECT_EQ(normalize_signal("bad-name"), "");
}

}  // namespace
