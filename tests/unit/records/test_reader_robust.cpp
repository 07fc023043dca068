// The crash log reader: valid records, every kind of damage, no crash, no silent loss.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "records/reader.h"

using namespace selfheal::records;

namespace {

const std::string kData = SELFHEAL_TEST_DATA;

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every non-blank line is accounted for: a record, or a skip naming it.
void expect_accounted(const ReadResult& r) {
  std::set<size_t> seen;
  for (const auto& rec : r.records) seen.insert(rec.line);
  for (const auto& s : r.skipped) seen.insert(s.line);
  EXPECT_EQ(seen.size(), r.lines) << "a non-blank line is neither a record nor skipped";
}

TEST(ReaderRobust, SampleLogReadsEveryRecord) {
  ReadResult r = read_files({kData + "/sample_crash.log"});
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.skipped.empty());
  ASSERT_EQ(r.records.size(), 8u);
  const CrashRecord& a = r.records[0];
  EXPECT_EQ(a.id, "4242-660afce9bc9c0");
  EXPECT_EQ(a.schema, 1);
  EXPECT_EQ(a.time, "2026-11-20T07:01:02.123456Z");
  EXPECT_EQ(a.time_us, 1795158062123456);
  EXPECT_EQ(a.pid, 4242);
  EXPECT_EQ(a.signal.name, "SIGSEGV");
  EXPECT_EQ(a.signal.number, 11);
  EXPECT_EQ(a.signal.code, "SEGV_MAPERR");
  EXPECT_FALSE(a.signal.sender_pid.has_value());
  EXPECT_EQ(a.signature, "dba2ed84eea09f26");
  EXPECT_FALSE(a.signature_computed);
  ASSERT_EQ(a.frames.size(), 6u);
  EXPECT_EQ(a.frames[2].module.value(), "/opt/selfheal-test/modules/mod_crashy.so");
  EXPECT_EQ(a.frames[2].offset, 0x1a2bu);
  EXPECT_EQ(a.frames[2].pc, 0x7f3a1c201a2bu);
  EXPECT_EQ(a.frames[2].build_id, "aa11bb22cc33dd44ee55ff6600771188229933aa");
  ASSERT_TRUE(a.request.has_value());
  EXPECT_EQ(a.request->method, "POST");
  EXPECT_EQ(a.request->path, "/api/upload");
  EXPECT_EQ(a.request->vhost, "www.example.com:443");
  EXPECT_EQ(a.file, kData + "/sample_crash.log");
  EXPECT_EQ(a.line, 1u);
  EXPECT_EQ(r.records[1].signal.sender_pid.value_or(0), 4301);
  EXPECT_FALSE(r.records[3].request.has_value());
  EXPECT_FALSE(r.records[3].frames[0].module.has_value());  // a jump to 0
  EXPECT_EQ(r.records[5].in_flight.size(), 2u);
  EXPECT_EQ(r.records[2].folded, 2);
  expect_accounted(r);
}

TEST(ReaderRobust, DamagedLogSkipsAndCountsEachDamagedLine) {
  ReadResult r = read_files({kData + "/damaged_crash.log"});
  EXPECT_TRUE(r.errors.empty());
  // Good lines 1 and 10, one record recovered from the interleaved line 4, two from line 8.
  ASSERT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.records[0].line, 1u);
  EXPECT_EQ(r.records[1].line, 4u);
  EXPECT_EQ(r.records[1].pid, 4400);
  EXPECT_EQ(r.records[2].line, 8u);
  EXPECT_EQ(r.records[3].line, 8u);
  EXPECT_EQ(r.records[4].line, 10u);
  std::map<size_t, std::string> why;
  for (const auto& s : r.skipped) {
    EXPECT_EQ(s.file, kData + "/damaged_crash.log");
    why[s.line] = s.reason;
  }
  ASSERT_EQ(why.size(), 8u);
  EXPECT_NE(why[2].find("cut short"), std::string::npos) << why[2];
  EXPECT_NE(why[3].find("binary"), std::string::npos) << why[3];
  EXPECT_NE(why[4].find("interleaved"), std::string::npos) << why[4];
  EXPECT_NE(why[4].find("recovered 1"), std::string::npos) << why[4];
  EXPECT_NE(why[5].find("schema 2 is newer"), std::string::npos) << why[5];
  EXPECT_NE(why[7].find("heartbeat"), std::string::npos) << why[7];
  EXPECT_NE(why[8].find("all 2 recovered"), std::string::npos) << why[8];
  EXPECT_NE(why[9].find("frames"), std::string::npos) << why[9];
  EXPECT_NE(why[11].find("truncated last line"), std::string::npos) << why[11];
  EXPECT_EQ(r.lines, 10u);  // line 6 is blank
  expect_accounted(r);
}

TEST(ReaderRobust, ByteAtATimeFeedingGivesTheSameResult) {
  std::string bytes = read_all(kData + "/damaged_crash.log");
  ReadResult whole = read_files({kData + "/damaged_crash.log"});
  LineReader lr(kData + "/damaged_crash.log");
  ReadResult pieces;
  for (char c : bytes) lr.feed(std::string_view(&c, 1), pieces);
  lr.finish(pieces);
  ASSERT_EQ(pieces.records.size(), whole.records.size());
  for (size_t i = 0; i < whole.records.size(); ++i) {
    EXPECT_EQ(pieces.records[i].id, whole.records[i].id);
    EXPECT_EQ(pieces.records[i].line, whole.records[i].line);
  }
  ASSERT_EQ(pieces.skipped.size(), whole.skipped.size());
  for (size_t i = 0; i < whole.skipped.size(); ++i) {
    EXPECT_EQ(pieces.skipped[i].line, whole.skipped[i].line);
    EXPECT_EQ(pieces.skipped[i].reason, whole.skipped[i].reason);
  }
}

// The fast path (summary: modules and registers left out) accepts and rejects the lines the
// full parse does, on the damaged log and on random damage; the one difference allowed is a
// record whose left-out `modules` has a field of the wrong type, which only the full read
// decodes (and rejects).
TEST(ReaderRobust, SummaryReadingAgreesWithFullReading) {
  ReadOptions summary;
  summary.summary = true;
  std::string base = read_all(kData + "/sample_crash.log") + read_all(kData + "/damaged_crash.log");
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    std::string s = base;
    for (int e = 0; e < round % 10; ++e) {
      size_t pos = rng() % s.size();
      if (rng() % 2)
        s[pos] = "{}[]\",: x\n"[rng() % 11];
      else
        s.erase(pos, rng() % 50);
    }
    LineReader full("f"), fast("f", summary);
    ReadResult a, b;
    full.feed(s, a);
    full.finish(a);
    fast.feed(s, b);
    fast.finish(b);
    std::map<std::pair<size_t, std::string>, const CrashRecord*> fast_recs;
    for (const auto& r : b.records) fast_recs[{r.line, r.id}] = &r;
    for (const auto& r : a.records) {
      auto it = fast_recs.find({r.line, r.id});
      ASSERT_NE(it, fast_recs.end()) << "round " << round << " line " << r.line;
      EXPECT_EQ(it->second->signature, r.signature);
      EXPECT_EQ(it->second->frames.size(), r.frames.size());
      EXPECT_TRUE(it->second->modules.empty());
    }
    std::map<size_t, std::string> fast_skips;
    for (const auto& x : b.skipped) fast_skips[x.line] = x.reason;
    size_t module_only = 0;
    for (const auto& x : a.skipped) {
      auto it = fast_skips.find(x.line);
      if (it != fast_skips.end()) {
        EXPECT_EQ(it->second, x.reason) << "round " << round << " line " << x.line;
        continue;
      }
      EXPECT_TRUE(x.reason.find("module") != std::string::npos ||
                  x.reason.find("base") != std::string::npos)
          << "round " << round << " line " << x.line
          << ": only the full read skipped it: " << x.reason;
      ++module_only;
    }
    EXPECT_EQ(a.skipped.size(), b.skipped.size() + module_only) << "round " << round;
    EXPECT_EQ(b.records.size(), a.records.size() + module_only) << "round " << round;
  }
}

TEST(ReaderRobust, LastLineWithoutNewlineButCompleteIsKept) {
  std::string first_line = read_all(kData + "/sample_crash.log");
  first_line = first_line.substr(0, first_line.find('\n'));
  LineReader lr("mem");
  ReadResult r;
  lr.feed(first_line, r);
  EXPECT_TRUE(r.records.empty());  // not yet: the line may still be growing
  lr.finish(r);
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_TRUE(r.skipped.empty());
}

TEST(ReaderRobust, OverlongLineIsSkippedWithoutKeepingIt) {
  LineReader lr("mem");
  ReadResult r;
  std::string chunk(256 * 1024, 'x');
  for (int i = 0; i < 6; ++i) lr.feed(chunk, r);  // 1.5 MiB, no newline yet
  lr.feed("\n{}\n", r);
  lr.finish(r);
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].line, 1u);
  EXPECT_NE(r.skipped[0].reason.find("too long"), std::string::npos);
  EXPECT_EQ(r.skipped[1].line, 2u);
  EXPECT_NE(r.skipped[1].reason.find("no \"schema\""), std::string::npos);
}

TEST(ReaderRobust, WrongTypesAreSkippedNotThrown) {
  const char* bad[] = {
      R"({"schema":1,"type":"crash","id":7,"time_us":1,"signal":{"name":"SIGSEGV"},"frames":[]})",
      R"({"schema":1,"type":"crash","id":"a","time_us":"x","signal":{"name":"SIGSEGV"},"frames":[]})",
      R"({"schema":1,"type":"crash","id":"a","time_us":1,"signal":"SIGSEGV","frames":[]})",
      R"({"schema":1,"type":"crash","id":"a","time_us":1,"signal":{"name":"SIGSEGV"},"frames":[1]})",
      R"({"schema":1,"type":"crash","id":"a","time_us":1,"signal":{"name":"SIGSEGV"},"frames":[{"offset":"0xzz"}]})",
      R"({"schema":1,"type":"crash","id":"a","time_us":1,"signal":{"name":"SIGSEGV"},"frames":[],"request":"x"})",
      R"({"schema":"1"})",
      R"({"schema":0,"type":"crash"})",
      R"([1,2,3])",
      R"("just a string")",
      R"({"schema":1,"type":"crash","id":"a","time":"yesterday","signal":{"name":"SIGSEGV"},"frames":[]})",
  };
  for (const char* l : bad) {
    CrashRecord rec;
    std::string why;
    EXPECT_FALSE(parse_record(l, rec, why)) << l;
    EXPECT_FALSE(why.empty()) << l;
  }
}

TEST(ReaderRobust, MinimalRecordAndNullFields) {
  CrashRecord rec;
  std::string why;
  ASSERT_TRUE(parse_record(
      R"({"schema":1,"type":"crash","id":"1-2","time":"2026-11-24T07:01:02.5Z","signal":{"number":11},)"
      R"("frames":[{"pc":"0x0","module":null,"offset":"0x0","build_id":null}],)"
      R"("request":{"method":"GET","path":null,"host":null}})",
      rec, why))
      << why;
  EXPECT_EQ(rec.time_us, 1795503662500000);
  EXPECT_EQ(rec.signal.name, "SIGSEGV");
  EXPECT_TRUE(rec.signature_computed);
  EXPECT_EQ(rec.signature.size(), 16u);
  ASSERT_TRUE(rec.request);
  EXPECT_EQ(rec.request->path, "");
}

TEST(ReaderRobust, RandomGarbageNeverThrowsAndIsAccounted) {
  std::string base = read_all(kData + "/sample_crash.log");
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 20);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s[pos] = static_cast<char>(rng() & 0xff);
          break;
        case 1:
          s.erase(pos, rng() % 200);
          break;
        case 2:
          s.insert(pos, s.substr(rng() % s.size(), rng() % 300));
          break;
        case 3:
          s.insert(pos, 1, '\n');
          break;
      }
      if (s.empty()) s = "x";
    }
    LineReader lr("fuzz");
    ReadResult r;
    ASSERT_NO_THROW({
      lr.feed(s, r);
      lr.finish(r);
    });
    expect_accounted(r);
  }
}

TEST(ReaderRobust, MissingFileIsAnErrorNotACrash) {
  ReadResult r = read_files({kData + "/does-not-exist.log"});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.records.empty());
}

TEST(ReaderRobust, Iso8601) {
  EXPECT_EQ(parse_iso8601("2026-11-24T07:01:02.123456Z").value(), 1795503662123456);
  EXPECT_EQ(parse_iso8601("2026-11-24T09:01:02.123456+02:00").value(), 1795503662123456);
  EXPECT_EQ(parse_iso8601("2026-11-24 07:01:02Z").value(), 1795503662000000);
  EXPECT_EQ(parse_iso8601("2026-11-24").value(), 1795478400000000);
  EXPECT_EQ(parse_iso8601("2026-11-24T07:01").value(), 1795503660000000);
  EXPECT_FALSE(parse_iso8601("2026-13-01"));
  EXPECT_FALSE(parse_iso8601("2026-11-24T07"));
  EXPECT_FALSE(parse_iso8601("yesterday"));
  EXPECT_EQ(format_time_us(1795503662123456), "2026-11-24T07:01:02.123456Z");
  EXPECT_EQ(format_time_us(0), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
