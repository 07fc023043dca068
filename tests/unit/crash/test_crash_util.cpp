// Shared checks of the crash tests (see test_crash_util.h).
#include "test_crash_util.h"

namespace crashtest {

void expect_complete_record(const nlohmann::json& r) {
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["schema"], 1);
  EXPECT_EQ(r["type"], "crash");
  for (const char* k : {"id", "time", "hostname", "httpd", "mpm", "signature"})
    EXPECT_TRUE(r[k].is_string()) << k;
  for (const char* k : {"time_us", "pid", "ppid", "tid", "generation", "uptime_ms",
                        "requests_served", "rss_kb", "folded"})
    EXPECT_TRUE(r.contains(k) && (r[k].is_number_integer() || r[k].is_null())) << k;
  EXPECT_TRUE(r["time_us"].is_number_integer());
  EXPECT_TRUE(r["rss_kb"].is_number_integer());
  EXPECT_GT(r["rss_kb"].get<int64_t>(), 0);
  EXPECT_EQ(r["id"].get<std::string>().find(std::to_string(r["pid"].get<int64_t>()) + "-"), 0u);
  EXPECT_EQ(r["signature"].get<std::string>().size(), 16u);
  EXPECT_EQ(r["time"].get<std::string>().size(), 27u);
  EXPECT_EQ(r["time"].get<std::string>().back(), 'Z');
  const auto& s = r["signal"];
  ASSERT_TRUE(s.is_object());
  EXPECT_TRUE(s["name"].is_string());
  EXPECT_TRUE(s["number"].is_number_integer());
  EXPECT_TRUE(s.contains("code"));
  EXPECT_TRUE(s.contains("address"));
  EXPECT_TRUE(s.contains("sender_pid"));
#if defined(__x86_64__)
  ASSERT_TRUE(r["registers"].is_object());
  for (const char* k : {"rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
                        "r10", "r11", "r12", "r13", "r14", "r15", "eflags"}) {
    ASSERT_TRUE(r["registers"][k].is_string()) << k;
    EXPECT_EQ(r["registers"][k].get<std::string>().rfind("0x", 0), 0u) << k;
  }
#endif
  ASSERT_TRUE(r["frames"].is_array());
  EXPECT_GE(r["frames"].size(), 1u);
  for (const auto& f : r["frames"]) {
    EXPECT_TRUE(f["pc"].is_string());
    EXPECT_TRUE(f["module"].is_string() || f["module"].is_null());
    EXPECT_TRUE(f["offset"].is_string());
    EXPECT_TRUE(f["build_id"].is_string() || f["build_id"].is_null());
  }
  EXPECT_TRUE(r["frames_truncated"].is_boolean());
  ASSERT_TRUE(r["modules"].is_array());
  EXPECT_GE(r["modules"].size(), 3u);
  int with_build_id = 0;
  for (const auto& m : r["modules"]) {
    EXPECT_TRUE(m["path"].is_string());
    EXPECT_TRUE(m["base"].is_string());
    if (m["build_id"].is_string() && !m["build_id"].get<std::string>().empty()) ++with_build_id;
  }
  EXPECT_GE(with_build_id, 2);
  EXPECT_TRUE(r.contains("request"));
  EXPECT_TRUE(r.contains("connection"));
  EXPECT_TRUE(r["in_flight"].is_array());
  EXPECT_TRUE(r["truncated"].is_boolean());
}

}  // namespace crashtest
