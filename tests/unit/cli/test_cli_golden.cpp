// Golden-file tests of selfhealctl's text and JSON output (crashes, show) on the fixed sample
// logs in tests/data. See test_cli_util.h to regenerate after an intended change.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_cli_util.h"

using namespace selfhealctl;
using namespace selfhealctl::testing;

namespace {

const std::string kSample = kData + "/sample_crash.log";
const std::string kDamaged = kData + "/damaged_crash.log";

TEST(CliGolden, CrashesText) {
  Captured c = run(run_crashes, {kSample});
  EXPECT_EQ(c.rc, 0);
  EXPECT_EQ(c.err, "");
  expect_golden("crashes_sample.txt", c.out);
}

TEST(CliGolden, CrashesJson) {
  Captured c = run(run_crashes, {kSample, "--json"});
  EXPECT_EQ(c.rc, 0);
  expect_golden("crashes_sample.json", c.out);
  // The documented shape.
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["records"], 8);
  ASSERT_EQ(j["groups"].size(), 4u);
  for (const char* k : {"signature", "count", "first_seen", "last_seen", "signal", "top_frames",
                        "paths", "vhosts", "ids"})
    EXPECT_TRUE(j["groups"][0].contains(k)) << k;
  EXPECT_EQ(j["groups"][0]["paths"][0]["path"], "/api/upload");
  EXPECT_TRUE(j["skipped"].is_array());
}

TEST(CliGolden, CrashesDamagedText) {
  Captured c = run(run_crashes, {kDamaged});
  EXPECT_EQ(c.rc, 0);
  expect_golden("crashes_damaged.txt", c.out);
  expect_golden("crashes_damaged.stderr", c.err);
}

TEST(CliGolden, CrashesDamagedJson) {
  Captured c = run(run_crashes, {kDamaged, "--json", "--no-symbolize"});
  EXPECT_EQ(c.rc, 0);
  expect_golden("crashes_damaged.json", c.out);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["skipped"].size(), 8u);
  EXPECT_EQ(j["skipped"][0]["line"], 2);
}

TEST(CliGolden, CrashesFiltered) {
  Captured c =
      run(run_crashes, {kSample, "--since", "2026-11-22", "--until", "2026-11-24T08:30:00Z",
                        "--signal", "segv", "--path", "/api", "--vhost", "www.example.com"});
  EXPECT_EQ(c.rc, 0);
  expect_golden("crashes_filtered.txt", c.out);
  Captured rel =
      run(run_crashes, {kSample, "--since", "1d", "--no-symbolize"});  // now: 11-25 00:00
  EXPECT_NE(rel.out.find("2 of 8 records match"), std::string::npos) << rel.out;
  Captured none = run(run_crashes, {kSample, "--signal", "SIGFPE"});
  EXPECT_NE(none.out.find("No crashes match."), std::string::npos) << none.out;
}

TEST(CliGolden, CrashesUsageErrors) {
  EXPECT_EQ(run(run_crashes, {kSample, "--since", "last tuesday"}).rc, 2);
  EXPECT_EQ(run(run_crashes, {kSample, "--signal", "SIGNOPE!"}).rc, 2);
  EXPECT_EQ(run(run_crashes, {kSample, "--bogus"}).rc, 2);
  EXPECT_EQ(run(run_crashes, {kSample, "--since"}).rc, 2);
  Captured missing = run(run_crashes, {kData + "/nope.log"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("cannot read @DATA@/nope.log"), std::string::npos);
  EXPECT_EQ(run(run_crashes, {"--help"}).rc, 0);
}

TEST(CliGolden, ShowRecordText) {
  Captured c = run(run_show, {"4500-660f5a61a2810", kSample});
  EXPECT_EQ(c.rc, 0) << c.err;
  expect_golden("show_record.txt", c.out);
}

TEST(CliGolden, ShowGroupText) {
  Captured c = run(run_show, {"dba2ed84", kSample});
  EXPECT_EQ(c.rc, 0) << c.err;
  expect_golden("show_group.txt", c.out);
}

TEST(CliGolden, ShowGroupJson) {
  Captured c = run(run_show, {"DBA2ED84EEA09F26", kSample, "--json"});
  EXPECT_EQ(c.rc, 0) << c.err;
  expect_golden("show_group.json", c.out);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["kind"], "group");
  EXPECT_EQ(j["group"]["count"], 6);
  EXPECT_EQ(j["latest"]["record"]["pid"], 4245);
  EXPECT_EQ(j["latest"]["backtrace"].size(), 6u);
  EXPECT_EQ(j["latest"]["backtrace"][2]["in_signature"], true);
  EXPECT_EQ(j["latest"]["backtrace"][0]["in_signature"], false);
}

TEST(CliGolden, ShowNotFoundAndAmbiguous) {
  Captured nf = run(run_show, {"ffff0000", kSample});
  EXPECT_EQ(nf.rc, 1);
  EXPECT_NE(nf.err.find("no record id or signature 'ffff0000'"), std::string::npos) << nf.err;
  // "6" starts two signatures, but is too short to be a prefix; give 4+ digits.
  EXPECT_EQ(run(run_show, {"6", kSample}).rc, 1);
  EXPECT_EQ(run(run_show, {}).rc, 2);
}

TEST(CliGolden, DefaultLogFromEnvironmentAndConfig) {
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  env.selfheal_conf = kData + "/selfheal_test.conf";
  env.apache_root = kData + "/apache-root";
  LogChoice c = default_crash_log(env);
  EXPECT_EQ(c.path, "/srv/logs/selfheal_crash.log");
  EXPECT_NE(c.how.find("selfheal_test.conf:5"), std::string::npos) << c.how;
  env.getenv = [](const char* n) -> const char* {
    return std::string(n) == "SELFHEAL_CRASH_LOG" ? "/tmp/x.log" : nullptr;
  };
  EXPECT_EQ(default_crash_log(env).path, "/tmp/x.log");
  env.getenv = [](const char*) -> const char* { return nullptr; };
  env.selfheal_conf = kData + "/missing.conf";
  EXPECT_EQ(default_crash_log(env).path, "/var/log/apache2/selfheal_crash.log");
  // A missing default log just means no crashes yet.
  env.getenv = [](const char* n) -> const char* {
    return std::string(n) == "SELFHEAL_CRASH_LOG" ? SELFHEAL_TEST_DATA "/no-crashes-yet.log"
                                                  : nullptr;
  };
  EXPECT_EQ(run_crashes({}, env), 0);
  EXPECT_NE(out.str().find("no crash has been recorded"), std::string::npos) << out.str();
}

TEST(CliGolden, RelativeConfigPathAndApacheLogDir) {
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  env.selfheal_conf = kData + "/selfheal_test_envvars.conf";
  env.apache_root = kData + "/apache-root";
  EXPECT_EQ(default_crash_log(env).path, "/var/log/apache2-test/selfheal_crash.log");
  env.selfheal_conf = kData + "/selfheal_test_relative.conf";
  EXPECT_EQ(default_crash_log(env).path, kData + "/apache-root/logs/crash.log");
}

TEST(CliGolden, TimeArguments) {
  EXPECT_EQ(parse_time_arg("1h", kTestNow).value(), kTestNow - 3600000000LL);
  EXPECT_EQ(parse_time_arg("2d", kTestNow).value(), kTestNow - 2 * 86400000000LL);
  EXPECT_EQ(parse_time_arg("30m", kTestNow).value(), kTestNow - 1800000000LL);
  EXPECT_EQ(parse_time_arg("2026-11-24T07:01:02Z", kTestNow).value(), 1795503662000000);
  EXPECT_FALSE(parse_time_arg("1y", kTestNow));
  EXPECT_FALSE(parse_time_arg("h", kTestNow));
  EXPECT_FALSE(parse_time_arg("", kTestNow));
}

}  // namespace
