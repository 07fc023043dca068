// The audit's node-exporter textfile: what Prometheus alerts on after the daily audit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "audit_textfile.h"

namespace {

using selfheal::cfg::Finding;
using selfheal::cfg::Severity;

Finding finding(const char* rule, Severity s) {
  Finding f;
  f.rule = rule;
  f.severity = s;
  f.file = "/etc/apache2/sites-enabled/a.conf";
  f.line = 3;
  return f;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AuditTextfile, CountsBySeverityAndRule) {
  const std::vector<Finding> fs{finding("TLS-001", Severity::error),
                                finding("TLS-001", Severity::error),
                                finding("SEC-002", Severity::warning)};
  const std::string t = selfhealctl::audit_textfile(&fs, 1700000000);
  EXPECT_NE(t.find("\nselfheal_audit_success 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nselfheal_audit_last_run_timestamp_seconds 1700000000\n"), std::string::npos);
  EXPECT_NE(t.find("\nselfheal_audit_findings{severity=\"error\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nselfheal_audit_findings{severity=\"warning\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("\nselfheal_audit_findings{severity=\"info\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("\nselfheal_audit_rule_findings{rule=\"TLS-001\",severity=\"error\"} 2\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nselfheal_audit_rule_findings{rule=\"SEC-002\",severity=\"warning\"} 1\n"),
            std::string::npos);
  // Every sample has its HELP and TYPE, which the textfile collector requires to be unique.
  EXPECT_NE(t.find("# TYPE selfheal_audit_findings gauge\n"), std::string::npos);
}

TEST(AuditTextfile, CleanAuditReportsZeroErrors) {
  const std::vector<Finding> none;
  const std::string t = selfhealctl::audit_textfile(&none, 1);
  EXPECT_NE(t.find("selfheal_audit_findings{severity=\"error\"} 0\n"), std::string::npos);
  EXPECT_EQ(t.find("selfheal_audit_rule_findings{"), std::string::npos);
}

TEST(AuditTextfile, UnparsableConfigurationIsNotACleanOne) {
  const std::string t = selfhealctl::audit_textfile(nullptr, 1);
  EXPECT_NE(t.find("\nselfheal_audit_success 0\n"), std::string::npos);
  // No counts at all: "0 errors" would read as a clean audit.
  EXPECT_EQ(t.find("selfheal_audit_findings{"), std::string::npos) << t;
}

TEST(AuditTextfile, LabelValuesAreEscaped) {
  const std::vector<Finding> fs{finding("X\"Y\\Z", Severity::info)};
  const std::string t = selfhealctl::audit_textfile(&fs, 1);
  EXPECT_NE(t.find("rule=\"X\\\"Y\\\\Z\""), std::string::npos) << t;
}

TEST(AuditTextfile, WriteCreatesTheDirectoryAndLeavesNoTemporaryFile) {
  char tmpl[] = "/tmp/selfheal-textfile-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/node-exporter";
  const std::string path = dir + "/selfheal_audit.prom";
  std::string err;
  ASSERT_TRUE(selfhealctl::write_textfile(path, "a 1\n", err)) << err;
  ASSERT_TRUE(selfhealctl::write_textfile(path, "a 2\n", err)) << err;  // replaces
  EXPECT_EQ(slurp(path), "a 2\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);  // the collector runs as user prometheus
  EXPECT_EQ(std::system(("test $(ls " + dir + " | wc -l) -eq 1").c_str()), 0);
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}

TEST(AuditTextfile, WriteFailureSaysWhere) {
  std::string err;
  EXPECT_FALSE(selfhealctl::write_textfile("/proc/selfheal-nope/x.prom", "a 1\n", err));
  EXPECT_NE(err.find("/proc/selfheal-nope"), std::string::npos) << err;
}

}  // namespace
