// Status rendering: HTML escaping of hostile input, JSON validity, Prometheus exposition that
// passes promtool, mod_status sections.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "shm/table.h"
#include "status/render.h"

namespace selfheal {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000'000;
constexpr int64_t kSec = 1'000'000;

const char* const kHostilePath =
    "/<script>alert(\"x\")</script>/a&b'c\\d\n\x01\xff\xfe/\xc3\xa9t\xc3\xa9";
const char* const kHostileVhost = "evil\"host\\:80</td>";

bool valid_utf8(const std::string& s) {
  return status_utf8_sanitize(s) == s;
}

class StatusRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ShmLayout l{16, 16, 8};
    size_ = shm_table_bytes(l);
    mem_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem_, MAP_FAILED);
    t_ = shm_table_init(mem_, size_, l);
    ASSERT_NE(t_, nullptr);
    char key[kShmKeyChars];
    quarantine_key_text("GET", kHostileVhost, kHostilePath, key, sizeof key);
    ShmCrashInfo info;
    info.key_text = key;
    info.method = "GET";
    info.vhost = kHostileVhost;
    info.path = kHostilePath;
    info.top_frame = "mod_evil.so+0x10 <b>";
    crash::CrashSummary c;
    c.signo = SIGSEGV;
    c.signature = 0x0123456789abcdefull;
    c.key_hash = quarantine_key_hash_text(key);
    c.record_written = true;
    for (int i = 0; i < 3; ++i) {
      c.time_us = kT0 + i * kSec;
      shm_record_crash_ex(t_, c, info);
    }
    c.signo = SIGABRT;
    c.signature = 0xabcull;
    c.key_hash = 0;
    c.record_written = false;
    c.record_dropped = true;
    shm_record_crash(t_, c, nullptr);
    shm_note_child_died(t_, SIGSEGV);
    quarantine_check(t_, quarantine_key_hash_text(key), kT0 + 5 * kSec);  // one refusal
    snap_ = shm_snapshot(t_, kT0 + 10 * kSec);
    in_.snapshot = &snap_;
    in_.server_version = "Apache/2.4.71 (Debian) <mod_selfheal>";
    in_.lift_action = "/selfheal-status?lift";
    in_.findings.push_back({"SH0001", "error", "/etc/apache2/sites-enabled/a\"b.conf", 12,
                            "www.example.com:443", "SSLCertificateFile <missing> & \"quoted\""});
    in_.findings.push_back({"SH0002", "warning", "/etc/apache2/apache2.conf", 3, "", "w\\1\n2"});
    in_.findings.push_back({"SH0002", "warning", "/etc/apache2/apache2.conf", 4, "", "w2"});
  }
  void TearDown() override { munmap(mem_, size_); }

  void* mem_ = nullptr;
  size_t size_ = 0;
  ShmTable* t_ = nullptr;
  ShmSnapshot snap_;
  StatusInput in_;
};

TEST(StatusHelpers, Utf8Sanitize) {
  EXPECT_EQ(status_utf8_sanitize("plain"), "plain");
  EXPECT_EQ(status_utf8_sanitize("\xc3\xa9"), "\xc3\xa9");
  EXPECT_EQ(status_utf8_sanitize("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(status_utf8_sanitize("a\xff"), "a\xef\xbf\xbd");
  EXPECT_EQ(status_utf8_sanitize("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") << "overlong";
  EXPECT_EQ(status_utf8_sanitize("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")
      << "surrogate";
  EXPECT_EQ(status_utf8_sanitize("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd") << "truncated";
  EXPECT_EQ(status_utf8_sanitize(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(StatusHelpers, Escapes) {
  EXPECT_EQ(status_html_escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(status_html_escape("a\nb\x01"),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
  EXPECT_EQ(status_prom_label_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(status_signal_name(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(status_signal_name(63), "SIG63");
  EXPECT_EQ(status_time_utc(0), "");
  EXPECT_EQ(status_time_utc(1'795'000'000'123'456), "2026-11-18T11:06:40Z");
  EXPECT_EQ(status_signature_hex(0xabc), "0000000000000abc");
}

TEST_F(StatusRenderTest, HtmlEscapesHostileInput) {
  std::string html = status_render_html(in_);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("</td>\""), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("evil&quot;host\\:80&lt;/td&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;mod_selfheal&gt;"), std::string::npos);
  EXPECT_NE(html.find("SSLCertificateFile &lt;missing&gt; &amp; &quot;quoted&quot;"),
            std::string::npos);
  EXPECT_TRUE(valid_utf8(html));
  for (char c : html)
    EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << "raw control char";
  // What the page must show at 3 a.m.
  EXPECT_NE(html.find("QUARANTINED"), std::string::npos);
  EXPECT_NE(html.find("0123456789abcdef"), std::string::npos);
  EXPECT_NE(html.find("SIGSEGV"), std::string::npos);
  EXPECT_NE(html.find("name=\"lift\" value=\"all\""), std::string::npos);
  EXPECT_NE(html.find("SH0001"), std::string::npos);
  EXPECT_NE(html.find("\xc3\xa9t\xc3\xa9"), std::string::npos) << "valid UTF-8 is kept";
}

TEST_F(StatusRenderTest, HtmlWithoutSharedMemoryOrLift) {
  StatusInput in;
  std::string html = status_render_html(in);
  EXPECT_NE(html.find("Shared memory is not available"), std::string::npos);
  EXPECT_EQ(html.find("<form"), std::string::npos);
  in_.lift_action.clear();
  EXPECT_EQ(status_render_html(in_).find("<form"), std::string::npos);
}

TEST_F(StatusRenderTest, JsonIsValidAndComplete) {
  std::string text = status_render_json(in_);
  nlohmann::json j = nlohmann::json::parse(text);  // throws on invalid JSON / UTF-8
  EXPECT_EQ(j["schema"], 1);
  EXPECT_EQ(j["available"], true);
  EXPECT_EQ(j["counters"]["crashes_total"], 4);
  EXPECT_EQ(j["counters"]["crashes_by_signal"]["SIGSEGV"], 3);
  EXPECT_EQ(j["counters"]["records_dropped"], 1);
  EXPECT_EQ(j["counters"]["quarantine_refused"], 1);
  EXPECT_EQ(j["counters"]["quarantine_active"], 1);
  ASSERT_EQ(j["signatures"].size(), 2u);
  EXPECT_EQ(j["signatures"][0]["signature"], "0123456789abcdef");
  EXPECT_EQ(j["signatures"][0]["count"], 3);
  EXPECT_EQ(j["signatures"][0]["signal"], "SIGSEGV");
  ASSERT_EQ(j["quarantine"].size(), 1u);
  const auto& q = j["quarantine"][0];
  EXPECT_EQ(q["active"], true);
  EXPECT_EQ(q["crashes"], 3);
  EXPECT_EQ(q["refused"], 1);
  EXPECT_EQ(q["expires_us"], kT0 + 2 * kSec + 300 * kSec);
  EXPECT_EQ(q["retry_after_s"], 292);
  std::string key = q["key"];
  EXPECT_EQ(key.rfind("GET evil\"host\\:80</td> /<script>", 0), 0u) << key;
  EXPECT_EQ(j["recent_crashes"].size(), 4u);
  EXPECT_EQ(j["recent_crashes"][0]["signal"], "SIGABRT");
  ASSERT_EQ(j["findings"].size(), 3u);
  EXPECT_EQ(j["findings"][0]["severity"], "error");
  EXPECT_EQ(j["findings"][0]["line"], 12);

  StatusInput none;
  nlohmann::json n = nlohmann::json::parse(status_render_json(none));
  EXPECT_EQ(n["available"], false);
  EXPECT_TRUE(n["quarantine"].is_array());
}

TEST_F(StatusRenderTest, MetricsContent) {
  std::string m = status_render_metrics(in_);
  EXPECT_NE(m.find("# TYPE selfheal_crashes_total counter\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_crashes_total{signal=\"SIGSEGV\",signature=\"0123456789abcdef\"} 3\n"),
            std::string::npos);
  EXPECT_NE(m.find("selfheal_config_findings{severity=\"warning\",rule=\"SH0002\"} 2\n"),
            std::string::npos);
  EXPECT_NE(m.find("selfheal_quarantine_active 1\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_quarantine_refused_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_crash_records_dropped_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_crash_records_folded_total 0\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_children_crashed_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("selfheal_quarantine_entries{key=\"GET evil\\\"host\\\\:80</td> /<script>"),
            std::string::npos);
  EXPECT_NE(m.find("\\n"), std::string::npos) << "newline in the path escaped";
  EXPECT_TRUE(valid_utf8(m));
  EXPECT_EQ(m.back(), '\n');
}

// Runs promtool check metrics on text; returns its exit status and output.
int promtool(const std::string& text, std::string* output) {
  char path[] = "/tmp/selfheal_metrics_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return -1;
  close(fd);
  std::string cmd = std::string("/usr/bin/promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) *output += buf;
  int status = pclose(p);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(StatusRenderTest, MetricsPassPromtool) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  std::string out;
  EXPECT_EQ(promtool(status_render_metrics(in_), &out), 0) << out;
  StatusInput empty_table;
  ShmSnapshot empty;
  empty_table.snapshot = &empty;
  out.clear();
  EXPECT_EQ(promtool(status_render_metrics(empty_table), &out), 0) << out;
  StatusInput none;
  out.clear();
  EXPECT_EQ(promtool(status_render_metrics(none), &out), 0) << out;
}

TEST_F(StatusRenderTest, ModStatusSections) {
  std::string a = status_render_auto(in_);
  EXPECT_NE(a.find("SelfHealCrashes: 4\n"), std::string::npos);
  EXPECT_NE(a.find("SelfHealQuarantineActive: 1\n"), std::string::npos);
  EXPECT_NE(a.find("SelfHealQuarantineRefused: 1\n"), std::string::npos);
  EXPECT_NE(a.find("SelfHealConfigErrors: 1\n"), std::string::npos);
  for (size_t pos = 0; pos < a.size();) {  // every line is "Key: value"
    size_t nl = a.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = a.substr(pos, nl - pos);
    EXPECT_NE(line.find(": "), std::string::npos) << line;
    EXPECT_EQ(line.find(' '), line.find(": ") + 1) << line;
    pos = nl + 1;
  }
  std::string f = status_render_fragment(in_);
  EXPECT_EQ(f.find("<script>"), std::string::npos);
  EXPECT_NE(f.find("<h2>SelfHeal</h2>"), std::string::npos);
  EXPECT_NE(f.find("Quarantined key"), std::string::npos);
  EXPECT_TRUE(valid_utf8(f));
}

}  // namespace
}  // namespace selfheal
