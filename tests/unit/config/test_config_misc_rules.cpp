// MOD-*, MPM-*, RES-*, LIM-*, SYN-*, SEC-*, CRASH-* rules: positive and negative cases.
#include "test_config_support.h"

namespace selfheal::cfg::testing {
namespace {

struct Misc : ::testing::Test {
  FakeEnv env;
  Misc() { env.dir("/var/www/html"); }
  std::vector<Finding> check(const std::string& text, const char* rule, bool hardening = false) {
    return only(run(model(text), env, hardening), rule);
  }
};

TEST_F(Misc, Mod001PhpUnderEvent) {
  Model m = model("", {"core.c", "event.c", "mod_php.c"});
  EXPECT_EQ(only(run(m, env), "MOD-001").size(), 1u);
}

TEST_F(Misc, Mod001PhpUnderPreforkClean) {
  Model m = model("", {"core.c", "prefork.c", "mod_php.c"});
  EXPECT_TRUE(only(run(m, env), "MOD-001").empty());
}

TEST_F(Misc, Mpm001ClampedWorkers) {
  auto f = check("ServerLimit 2\nMaxRequestWorkers 400\n", "MPM-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 2);
  EXPECT_NE(f[0].message.find("= 50"), std::string::npos);
}

TEST_F(Misc, Mpm001DebianDefaultsClean) {
  EXPECT_TRUE(check("StartServers 2\nThreadLimit 64\nThreadsPerChild 25\nMaxRequestWorkers 150\n",
                    "MPM-001")
                  .empty());
}

TEST_F(Misc, Mpm002ThreadsAboveLimitAndNotMultiple) {
  auto f = check("ThreadLimit 32\nThreadsPerChild 40\nMaxRequestWorkers 100\n", "MPM-002");
  EXPECT_EQ(f.size(), 2u) << dump(f);  // 40 > 32, 100 % 32 != 0
}

TEST_F(Misc, Mpm002AlignedClean) {
  EXPECT_TRUE(check("ThreadsPerChild 25\nMaxRequestWorkers 150\n", "MPM-002").empty());
}

TEST_F(Misc, Res001FileLimitTooLow) {
  env.nofile = 64;
  EXPECT_EQ(check("Listen 80\n", "RES-001").size(), 1u);
}

TEST_F(Misc, Res001PostConfigUsesOpenFds) {
  env.nofile = 1024;
  Model m = model("Listen 80\n");
  EXPECT_TRUE(only(run(m, env), "RES-001").empty());
  m.open_fds = 2000;
  RunOptions o;
  o.phase = Phase::post_config;
  EXPECT_EQ(only(run_rules(m, env, o), "RES-001").size(), 1u);
  o.phase = Phase::check_config;  // live check-config does not run post-config rules
  EXPECT_TRUE(only(run_rules(m, env, o), "RES-001").empty());
}

TEST_F(Misc, Res002MemoryTooSmall) {
  env.mem = 256LL << 20;
  EXPECT_EQ(check("ServerLimit 40\nMaxRequestWorkers 1000\n", "RES-002").size(), 1u);
}

TEST_F(Misc, Res002EnoughMemoryClean) {
  EXPECT_TRUE(check("MaxRequestWorkers 150\n", "RES-002").empty());
}

TEST_F(Misc, Lim001TimeoutOutOfRange) {
  EXPECT_EQ(check("Timeout 600\n<VirtualHost *:80>\nTimeout 2\n</VirtualHost>\n", "LIM-001").size(),
            2u);
}

TEST_F(Misc, Lim001DebianTimeoutClean) {
  EXPECT_TRUE(check("Timeout 300\n", "LIM-001").empty());
}

TEST_F(Misc, Lim002KeepAlive) {
  EXPECT_EQ(check("KeepAliveTimeout 30\nMaxKeepAliveRequests 0\n", "LIM-002").size(), 2u);
}

TEST_F(Misc, Lim002Clean) {
  EXPECT_TRUE(
      check("KeepAliveTimeout 5\nKeepAliveTimeout 900ms\nMaxKeepAliveRequests 100\n", "LIM-002")
          .empty());
}

TEST_F(Misc, Lim003NoReqtimeoutHardeningOnly) {
  Model m = model("", {"core.c", "event.c"});
  EXPECT_TRUE(only(run(m, env), "LIM-003").empty());
  EXPECT_EQ(only(run(m, env, true), "LIM-003").size(), 1u);
}

TEST_F(Misc, Lim003LoadedClean) {
  EXPECT_TRUE(check("", "LIM-003", true).empty());
}

TEST_F(Misc, Lim004SmallLimits) {
  EXPECT_EQ(check("LimitRequestFieldSize 1024\nLimitRequestFields 20\n", "LIM-004").size(), 2u);
}

TEST_F(Misc, Lim004DefaultsClean) {
  EXPECT_TRUE(check("LimitRequestFieldSize 8190\nLimitRequestFields 100\n", "LIM-004").empty());
}

TEST_F(Misc, Syn001TrailingComment) {
  auto f = check("DirectoryIndex index.html # comment\n", "SYN-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 1);
}

TEST_F(Misc, Syn001QuotedHashAndUidClean) {
  EXPECT_TRUE(
      check("Header set X \"a # b\"\nUser #1000\nLogFormat \"%h #%l\" x\n", "SYN-001").empty());
}

TEST_F(Misc, Sec001RootDirectoryGranted) {
  auto f = check("<Directory />\nOptions None\nRequire all granted\n</Directory>\n", "SEC-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 3);
}

TEST_F(Misc, Sec001DeniedClean) {
  EXPECT_TRUE(check("<Directory />\nRequire all denied\n</Directory>\n<Directory /var/www>\n"
                    "Require all granted\n</Directory>\n",
                    "SEC-001")
                  .empty());
}

TEST_F(Misc, Sec002StatusUnrestricted) {
  auto f = check(
      "<Location /server-status>\nSetHandler server-status\nRequire all granted\n"
      "</Location>\n<Location /info>\nSetHandler server-info\n</Location>\n",
      "SEC-002");
  EXPECT_EQ(f.size(), 2u) << dump(f);
}

TEST_F(Misc, Sec002RestrictedClean) {
  EXPECT_TRUE(check("<Location /server-status>\nSetHandler server-status\nRequire local\n"
                    "</Location>\n<Location /i>\nSetHandler server-info\n<RequireAny>\n"
                    "Require ip 10.0.0.0/8\n</RequireAny>\n</Location>\n",
                    "SEC-002")
                  .empty());
}

TEST_F(Misc, Sec003ExecCgiWritable) {
  env.dir("/srv/cgi");
  env.user[{"/srv/cgi", W_OK}] = true;
  auto f = check("<Directory /srv/cgi>\nOptions +ExecCGI\n</Directory>\n", "SEC-003");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 2);
}

TEST_F(Misc, Sec003NotWritableClean) {
  env.dir("/usr/lib/cgi-bin");
  env.user[{"/usr/lib/cgi-bin", W_OK}] = false;
  EXPECT_TRUE(check("ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\n<Directory /usr/lib/cgi-bin>\n"
                    "Options +ExecCGI\n</Directory>\n",
                    "SEC-003")
                  .empty());
}

TEST_F(Misc, Sec004IndexesHardening) {
  const char* t = "<Directory /var/www/>\nOptions Indexes FollowSymLinks\n</Directory>\n";
  EXPECT_TRUE(check(t, "SEC-004").empty());
  EXPECT_EQ(check(t, "SEC-004", true).size(), 1u);
  EXPECT_TRUE(check("<Directory /x>\nOptions -Indexes\n</Directory>\n", "SEC-004", true).empty());
}

TEST_F(Misc, Sec005Tokens) {
  EXPECT_EQ(check("ServerTokens OS\nServerSignature On\n", "SEC-005", true).size(), 2u);
  EXPECT_TRUE(check("ServerTokens Prod\nServerSignature Off\n", "SEC-005", true).empty());
}

TEST_F(Misc, Sec006Trace) {
  EXPECT_EQ(check("", "SEC-006", true).size(), 1u);
  EXPECT_TRUE(check("TraceEnable Off\n", "SEC-006", true).empty());
}

TEST_F(Misc, Sec007SymlinksOnDocumentRoot) {
  auto f = check(
      "DocumentRoot /var/www/html\n<Directory /var/www/html/>\nOptions FollowSymLinks\n"
      "AllowOverride All\n</Directory>\n",
      "SEC-007", true);
  EXPECT_EQ(f.size(), 2u) << dump(f);
  EXPECT_TRUE(check("DocumentRoot /var/www/html\n<Directory /srv/other>\nOptions FollowSymLinks\n"
                    "</Directory>\n",
                    "SEC-007", true)
                  .empty());
}

TEST_F(Misc, Crash001NotWritable) {
  env.dir("/var/cache/core");
  env.user[{"/var/cache/core", W_OK | X_OK}] = false;
  EXPECT_EQ(check("CoreDumpDirectory /var/cache/core\n", "CRASH-001").size(), 1u);
  EXPECT_EQ(check("CoreDumpDirectory /nope\n", "CRASH-001").size(), 1u);
}

TEST_F(Misc, Crash001UnsetOrWritableClean) {
  env.dir("/var/cache/core");
  env.user[{"/var/cache/core", W_OK | X_OK}] = true;
  EXPECT_TRUE(check("CoreDumpDirectory /var/cache/core\n", "CRASH-001").empty());
  EXPECT_TRUE(check("", "CRASH-001").empty());
}

TEST_F(Misc, Crash002UnsetHardening) {
  EXPECT_EQ(check("", "CRASH-002", true).size(), 1u);
  EXPECT_TRUE(check("", "CRASH-002").empty());
  env.dir("/var/cache/core");
  EXPECT_TRUE(check("CoreDumpDirectory /var/cache/core\n", "CRASH-002", true).empty());
}

}  // namespace
}  // namespace selfheal::cfg::testing
