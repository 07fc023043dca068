// The crash record's fixed-buffer JSON writer: hostile bytes, UTF-8, cuts and rollback.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "crash/asfmt.h"
#include "crash/json_writer.h"

namespace {

using selfheal::crash::JsonWriter;
using selfheal::crash::utf8_sequence_length;

std::string text(const JsonWriter& w) {
  return std::string(w.data(), w.size());
}

// Decodes what a JSON parser returns for a string the writer escaped byte-wise: invalid bytes
// come back as U+00XX (encoded in UTF-8 by nlohmann).
std::string latin1_to_utf8(unsigned char c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

TEST(RecordJsonWriter, AllByteValuesGiveValidJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  static char buf[8192];
  JsonWriter w(buf, sizeof buf, 64);
  w.begin_object();
  w.key("all");
  w.str(all.data(), all.size(), all.size());
  w.key("q\"uo\\te\nkey");
  w.str("va\"l\\ue\r\n\t\b\f");
  w.end_object();
  ASSERT_FALSE(w.failed());
  nlohmann::json j = nlohmann::json::parse(text(w));  // throws on invalid JSON
  // Every single byte is invalid UTF-8 on its own when >= 0x80: each comes back as U+00XX.
  std::string expect;
  for (int i = 0; i < 256; ++i) expect += latin1_to_utf8(static_cast<unsigned char>(i));
  EXPECT_EQ(j["all"].get<std::string>(), expect);
  EXPECT_EQ(j["q\"uo\\te\nkey"].get<std::string>(), "va\"l\\ue\r\n\t\b\f");
}

TEST(RecordJsonWriter, ValidUtf8PassesThroughInvalidIsEscaped) {
  static char buf[4096];
  JsonWriter w(buf, sizeof buf, 0);
  const std::string valid = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8";
  w.begin_array();
  w.str(valid.c_str());
  w.str("\xC0\xAF");          // overlong '/'
  w.str("\xED\xA0\x80");      // a UTF-16 surrogate
  w.str("\xF4\x90\x80\x80");  // above U+10FFFF
  w.str("\xE2\x82");          // cut sequence at the end
  w.str(
      "a\xFF"
      "b");
  w.end_array();
  std::string out = text(w);
  EXPECT_NE(out.find(valid), std::string::npos) << out;  // bytes unchanged
  EXPECT_NE(out.find("\\u00c0\\u00af"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u00ed\\u00a0\\u0080"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u00f4\\u0090\\u0080\\u0080"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u00e2\\u0082"), std::string::npos) << out;
  EXPECT_NE(out.find("a\\u00ffb"), std::string::npos) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j[0].get<std::string>(), valid);
  EXPECT_EQ(j.size(), 6u);
}

TEST(RecordJsonWriter, RandomHostileStringsAlwaysParse) {
  static char buf[1 << 16];
  uint32_t seed = 12345;
  for (int round = 0; round < 500; ++round) {
    std::string s;
    int len = static_cast<int>(seed % 300);
    for (int i = 0; i < len; ++i) {
      seed = seed * 1664525u + 1013904223u;
      s += static_cast<char>(seed >> 24);
    }
    JsonWriter w(buf, sizeof buf, 0);
    w.begin_object();
    w.key(s.c_str());
    w.str(s.data(), s.size(), static_cast<size_t>(seed % 200));
    w.end_object();
    ASSERT_FALSE(w.failed());
    EXPECT_TRUE(nlohmann::json::accept(text(w))) << round;
  }
}

TEST(RecordJsonWriter, CutStringsEndWithEllipsisOnACharBoundary) {
  static char buf[256];
  JsonWriter w(buf, sizeof buf, 0);
  w.begin_array();
  w.str("abcdef", 6, 3);
  w.str("ab\xE2\x82\xAC", 5, 4);  // the euro sign would be split: cut before it
  w.str("abc", 3, 3);             // exactly at the cap: not cut
  w.end_array();
  auto j = nlohmann::json::parse(text(w));
  EXPECT_EQ(j[0], "abc\xE2\x80\xA6");
  EXPECT_EQ(j[1], "ab\xE2\x80\xA6");
  EXPECT_EQ(j[2], "abc");
}

TEST(RecordJsonWriter, NumbersHexAndNull) {
  static char buf[256];
  JsonWriter w(buf, sizeof buf, 0);
  w.begin_object();
  w.key("a");
  w.i64(INT64_MIN);
  w.key("b");
  w.u64(UINT64_MAX);
  w.key("c");
  w.hex(0);
  w.key("d");
  w.hex(0xdeadbeefULL);
  w.key("e");
  w.str(nullptr);
  w.key("f");
  const uint8_t id[] = {0x0a, 0xff};
  w.hex_bytes(id, 2);
  w.key("g");
  w.boolean(true);
  w.end_object();
  EXPECT_EQ(text(w),
            "{\"a\":-9223372036854775808,\"b\":18446744073709551615,\"c\":\"0x0\","
            "\"d\":\"0xdeadbeef\",\"e\":null,\"f\":\"0aff\",\"g\":true}");
}

TEST(RecordJsonWriter, OverflowRollsBackTheLastElementAndClosesValid) {
  static char buf[200];
  JsonWriter w(buf, sizeof buf, 20);
  w.begin_object();
  w.key("items");
  w.begin_array();
  int written = 0;
  bool cut = false;
  for (int i = 0; i < 100; ++i) {
    auto m = w.mark();
    w.str("0123456789");
    if (w.failed()) {
      w.rollback(m);
      cut = true;
      break;
    }
    ++written;
  }
  w.end_array();
  w.set_hard(true);
  w.key("truncated");
  w.boolean(cut);
  w.end_object();
  ASSERT_FALSE(w.failed());
  EXPECT_LE(w.size(), sizeof buf);
  auto j = nlohmann::json::parse(text(w));
  EXPECT_TRUE(j["truncated"].get<bool>());
  EXPECT_EQ(static_cast<int>(j["items"].size()), written);
  EXPECT_GT(written, 5);
}

TEST(RecordJsonWriter, RollbackRestoresCommaState) {
  static char buf[64];
  JsonWriter w(buf, sizeof buf, 0);
  w.begin_array();
  w.i64(1);
  auto m = w.mark();
  w.i64(2);
  w.rollback(m);
  w.i64(3);
  w.end_array();
  EXPECT_EQ(text(w), "[1,3]");
}

TEST(RecordJsonWriter, Utf8SequenceLength) {
  auto len = [](const char* s) {
    return utf8_sequence_length(reinterpret_cast<const unsigned char*>(s),
                                selfheal::crash::cstr_len(s));
  };
  EXPECT_EQ(len("a"), 1u);
  EXPECT_EQ(len("\xC3\xA9"), 2u);
  EXPECT_EQ(len("\xEF\xBF\xBD"), 3u);
  EXPECT_EQ(len("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(len("\x80"), 0u);
  EXPECT_EQ(len("\xC1\xBF"), 0u);
  EXPECT_EQ(len("\xE0\x80\x80"), 0u);
  EXPECT_EQ(len("\xF5\x80\x80\x80"), 0u);
}

TEST(RecordAsfmt, CivilTimeAndStamps) {
  char out[40];
  // 2026-11-24T07:01:02.123456Z was a Tuesday.
  const int64_t us = 1795503662123456;
  selfheal::crash::format_iso8601_utc(us, out);
  EXPECT_STREQ(out, "2026-11-24T07:01:02.123456Z");
  char line[64];
  selfheal::crash::TextBuf b(line, sizeof line);
  selfheal::crash::format_errlog_stamp(b, us, 0);
  EXPECT_EQ(std::string(line, b.len), "Tue Nov 24 07:01:02.123456 2026");
  selfheal::crash::format_iso8601_utc(0, out);
  EXPECT_STREQ(out, "1970-01-01T00:00:00.000000Z");
  selfheal::crash::format_iso8601_utc(951782400000000, out);  // leap day 2000
  EXPECT_STREQ(out, "2000-02-29T00:00:00.000000Z");
  // Compare with gmtime_r over a spread of times.
  for (int64_t s = -86400LL * 365 * 3; s < 86400LL * 365 * 200; s += 86400LL * 37 + 3607) {
    time_t t = static_cast<time_t>(s);
    struct tm tm {};
    gmtime_r(&t, &tm);
    auto c = selfheal::crash::civil_from_us(s * 1000000);
    ASSERT_EQ(c.year, tm.tm_year + 1900) << s;
    ASSERT_EQ(c.month, tm.tm_mon + 1) << s;
    ASSERT_EQ(c.day, tm.tm_mday) << s;
    ASSERT_EQ(c.hour, tm.tm_hour) << s;
    ASSERT_EQ(c.weekday, tm.tm_wday) << s;
  }
}

}  // namespace

namespace {

TEST(RecordJsonWriter, NestedRollbackKeepsAnOuterFailure) {
  // A mark taken after a failed write must not clear that failure when rolled back: the outer
  // element still has to be rolled back as a whole.
  static char buf[64];
  JsonWriter w(buf, sizeof buf, 16);
  w.begin_array();
  auto outer = w.mark();
  w.begin_object();
  w.key("k");
  w.str("a long value that does not fit into the soft limit at all");
  ASSERT_TRUE(w.failed());
  auto inner = w.mark();
  w.str("x");
  w.rollback(inner);
  EXPECT_TRUE(w.failed());
  w.rollback(outer);
  EXPECT_FALSE(w.failed());
  w.end_array();
  EXPECT_EQ(text(w), "[]");
}

}  // namespace
