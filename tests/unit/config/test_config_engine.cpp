// Model derivation, settings, suppression, profiles and the system environment.
#include <pwd.h>
#include <sys/stat.h>

#include <filesystem>

#include "config/rules/common.h"
#include "test_config_support.h"

namespace selfheal::cfg::testing {
namespace {

TEST(ConfigModel, SplitArgsLikeGetwordConf) {
  std::vector<bool> q;
  auto w = split_args(R"(a "b c" 'd "e"' "f\"g" )", &q);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[1], "b c");
  EXPECT_EQ(w[2], "d \"e\"");
  EXPECT_EQ(w[3], "f\"g");
  EXPECT_FALSE(q[0]);
  EXPECT_TRUE(q[1]);
}

// An empty quoted address ("") as the first vhost's: the address memo starts empty too,
// and comparing the two must not hand memcmp a null pointer (UBSan; found by the fuzzer).
TEST(ConfigModel, EmptyQuotedVhostAddress) {
  Model m = model("<VirtualHost \"\">\n</VirtualHost>\n<VirtualHost \"\" *:80>\n</VirtualHost>\n");
  ASSERT_EQ(m.vhosts.size(), 2u);
  ASSERT_EQ(m.vhosts[0].addrs.size(), 1u);
  EXPECT_EQ(m.vhosts[0].addrs[0].host, "");
  EXPECT_EQ(m.vhosts[0].addrs[0].port, 0);
  ASSERT_EQ(m.vhosts[1].addrs.size(), 2u);
  EXPECT_EQ(m.vhosts[1].addrs[1].port, 80);
}

TEST(ConfigModel, VhostsNamesAddressesAndLines) {
  Model m = model(
      "Listen 80\nListen 127.0.0.1:8443 https\n<VirtualHost *:80 [::1]:81>\n"
      "  ServerName WWW.example.com:80\n  ServerAlias a b\n"
      "  <Directory /x>\n    Require all granted\n  </Directory>\n</VirtualHost>\n");
  ASSERT_EQ(m.vhosts.size(), 1u);
  const VHost& v = m.vhosts[0];
  EXPECT_EQ(v.server_name, "www.example.com");
  ASSERT_EQ(v.addrs.size(), 2u);
  EXPECT_EQ(v.addrs[1].host, "::1");
  EXPECT_EQ(v.addrs[1].port, 81);
  EXPECT_EQ(v.aliases.size(), 2u);
  ASSERT_EQ(m.listens.size(), 2u);
  EXPECT_EQ(m.listens[1].host, "127.0.0.1");
  EXPECT_EQ(m.listens[1].protocol, "https");
  const int req = m.all("require").front();
  EXPECT_EQ(m.dirs[static_cast<size_t>(req)].vhost, 0);
  EXPECT_EQ(m.dirs[static_cast<size_t>(req)].line, 7);
  EXPECT_FALSE(m.server_level(req));
  EXPECT_EQ(m.effective_mpm(), "event");
  EXPECT_TRUE(m.threaded_mpm());
}

TEST(ConfigModel, ServerValueInheritsFromMain) {
  Model m = model(
      "Timeout 30\n<VirtualHost *:80>\n</VirtualHost>\n<VirtualHost *:81>\nTimeout 5\n"
      "</VirtualHost>\n");
  EXPECT_EQ(m.dirs[static_cast<size_t>(m.server_value("timeout", 0))].args[0], "30");
  EXPECT_EQ(m.dirs[static_cast<size_t>(m.server_value("timeout", 1))].args[0], "5");
  EXPECT_EQ(m.resolve("logs/x"), "/etc/apache2/logs/x");
}

TEST(ConfigModel, ContinuationLinesKeepFirstLine) {
  Model m = model("DirectoryIndex a \\\n  b\nTimeout 5\n");
  EXPECT_EQ(m.dirs[0].args.size(), 2u);
  EXPECT_EQ(m.dirs[0].line, 1);
  EXPECT_EQ(m.dirs[1].line, 3);
}

// The word splitter's eight-byte scan (with its overlapping last load) and the local
// word buffer (spilling past eight words) must split exactly like split_args().
TEST(ConfigModel, DirectiveArgsMatchSplitArgs) {
  const std::vector<std::string> cases = {"a",
                                          "abcdefg",
                                          "abcdefgh",
                                          "abcdefghi",
                                          "/srv/www/site-1234/htdocs",
                                          "x\ty",
                                          "one two three four five six seven eight nine ten eleven",
                                          "a\x01"
                                          "b c",
                                          "\"quoted arg\" tail",
                                          "'it''s' \"a\\\"b\" c",
                                          "#comment-like 1",
                                          "trailing-spaces   ",
                                          "aaaaaaa\x1f"
                                          "bbbbbbbb cc",
                                          std::string(70, 'z') + " y"};
  for (const std::string& raw : cases) {
    Model m;
    const int f = m.intern_file("t.conf");
    const int d = m.add("Directive", raw, f, 1);
    m.finalize();
    const auto want = split_args(raw);
    const auto& got = m.dirs[static_cast<size_t>(d)].args;
    ASSERT_EQ(got.size(), want.size()) << raw;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << raw;
  }
}

TEST(ConfigModel, HashWordFlagsOnlyUnquotedWords) {
  Model m = model("User #1000\nServerAdmin a@b # comment\nHeader set X \"#fff\"\n");
  EXPECT_TRUE(m.dirs[0].hash_word);
  EXPECT_TRUE(m.dirs[1].hash_word);
  EXPECT_FALSE(m.dirs[2].hash_word);
}

// A tree added out of document order (a child after a later sibling of its parent)
// takes the general walk: the same vhosts, membership and document-order indices.
TEST(ConfigModel, OutOfOrderTreeGivesDocumentOrder) {
  Model m;
  const int f = m.intern_file("t.conf");
  const int v1 = m.add("<VirtualHost", "*:80>", f, 1);
  const int v2 = m.add("<VirtualHost", "*:81>", f, 5);
  const int dr2 = m.add("DocumentRoot", "/b", f, 6, v2);
  const int dr1 = m.add("DocumentRoot", "/a", f, 2, v1);  // back into the first vhost
  const int top = m.add("DocumentRoot", "/main", f, 9);
  m.finalize();
  ASSERT_EQ(m.vhosts.size(), 2u);
  EXPECT_EQ(m.vhosts[0].dir, v1);
  EXPECT_EQ(m.dirs[static_cast<size_t>(dr1)].vhost, 0);
  EXPECT_EQ(m.dirs[static_cast<size_t>(dr2)].vhost, 1);
  EXPECT_EQ(m.dirs[static_cast<size_t>(top)].vhost, -1);
  EXPECT_EQ(m.all("documentroot"), (std::vector<int>{dr1, dr2, top}));
  EXPECT_EQ(m.main_value("documentroot"), top);
  EXPECT_EQ(m.server_value("documentroot", 0), dr1);
}

TEST(RuleUtil, DynamicPathMatchesByteByByteDefinition) {
  auto reference = [](std::string_view p) {
    for (size_t i = 0; i < p.size(); ++i) {
      const char ch = p[i];
      if (ch == '$' || ch == '*' || ch == '?' || ch == '[') return true;
      if (ch == '%' && i + 1 < p.size() && p[i + 1] == '{') return true;
    }
    return false;
  };
  const std::string alphabet = "/az09.-_$%{*?[&'()+,# Z\x80\xff";
  uint64_t seed = 12345;
  auto next = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull; };
  for (int it = 0; it < 200000; ++it) {
    std::string s;
    const size_t n = (next() >> 33) % 40;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = next() >> 33;
      s += (r % 4) ? "/abcdefghij0123456789"[r % 21] : alphabet[r % alphabet.size()];
    }
    ASSERT_EQ(util::dynamic_path(s), reference(s)) << s;
  }
  EXPECT_TRUE(util::dynamic_path("/srv/www/%{SERVER_NAME}/htdocs"));
  EXPECT_FALSE(util::dynamic_path("/srv/www/100%/htdocs"));
  EXPECT_TRUE(util::dynamic_path("/srv/www/site/htdocs/*"));
}

TEST(RuleUtil, KeyHashSeesEveryByte) {
  for (size_t n = 1; n <= 40; ++n) {
    const std::string base(n, 'a');
    for (size_t i = 0; i < n; ++i) {
      std::string other = base;
      other[i] = 'b';
      EXPECT_NE(key_hash(base), key_hash(other)) << n << " " << i;
    }
  }
  EXPECT_NE(key_hash(""), key_hash(std::string(1, '\0')));
}

TEST(RuleEngine, EveryRuleHasIdSeverityProfileAndUniqueId) {
  std::set<std::string> ids;
  for (const Rule& r : all_rules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_NE(r.fn, nullptr);
    EXPECT_NE(std::string(r.hint), "");
  }
  for (const char* id :
       {"TLS-001", "TLS-007", "LOG-001", "LOG-003", "RUN-001", "NET-001",   "NET-004", "DOC-001",
        "DOC-002", "MAP-001", "MAP-006", "MOD-001", "MPM-001", "MPM-002",   "RES-001", "RES-002",
        "LIM-001", "LIM-004", "SYN-001", "SEC-001", "SEC-007", "CRASH-001", "HTA-001"})
    EXPECT_NE(find_rule(id), nullptr) << id;
  EXPECT_TRUE(is_rule_family("TLS"));
  EXPECT_FALSE(is_rule_family("NOPE"));
}

TEST(RuleEngine, GlobalAndFamilySkip) {
  FakeEnv env;
  EXPECT_EQ(only(run(model("Timeout 900\nLogLevel debug\n"), env), "LIM-001").size(), 1u);
  auto f = run(model("SelfHealSkip LIM-001 LOG-*\nTimeout 900\nLogLevel debug\n"), env);
  EXPECT_TRUE(only(f, "LIM-001").empty());
  EXPECT_TRUE(only(f, "LOG-003").empty());
}

TEST(RuleEngine, PerVhostSkip) {
  FakeEnv env;
  auto f = run(model("<VirtualHost *:80>\nSelfHealSkip lim-001\nTimeout 900\n</VirtualHost>\n"
                     "<VirtualHost *:81>\nTimeout 900\n</VirtualHost>\n"),
               env);
  auto l = only(f, "LIM-001");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].line, 6);
}

TEST(RuleEngine, ProfileDirectiveEnablesHardening) {
  FakeEnv env;
  EXPECT_TRUE(only(run(model("TraceEnable on\n"), env), "SEC-006").empty());
  EXPECT_EQ(only(run(model("SelfHealProfile hardening\nTraceEnable on\n"), env), "SEC-006").size(),
            1u);
}

TEST(RuleEngine, ThresholdDirective) {
  FakeEnv env;
  EXPECT_TRUE(
      only(run(model("SelfHealRuleThreshold LIM-001 max 1000\nTimeout 900\n"), env), "LIM-001")
          .empty());
}

TEST(RuleEngine, UserAccessIsPrefetchedOnce) {
  FakeEnv env;
  run(model("DocumentRoot /a\n<VirtualHost *:80>\nDocumentRoot /b\n</VirtualHost>\n"), env);
  EXPECT_EQ(env.prefetches, 1);
}

TEST(RuleEngine, FindingJsonAndText) {
  Finding f{"TLS-001", Severity::error, "/etc/a.conf", 3, "v", "msg \"q\"", "hint"};
  EXPECT_EQ(
      finding_json(f),
      R"({"file":"/etc/a.conf","hint":"hint","line":3,"message":"msg \"q\"","rule":"TLS-001","severity":"error","vhost":"v"})");
  EXPECT_EQ(finding_text(f), "/etc/a.conf:3: error TLS-001 [v] msg \"q\" (fix: hint)");
}

TEST(RuleEngine, CleanDebianLikeConfigHasNoSafetyFindings) {
  FakeEnv env;
  env.dir("/var/log/apache2");
  env.dir("/var/run/apache2");
  env.dir("/var/www/html");
  env.user[{"/var/www/html", R_OK | X_OK}] = true;
  Model m = model(
      "DefaultRuntimeDir /var/run/apache2\nPidFile /var/run/apache2/apache2.pid\nTimeout 300\n"
      "KeepAlive On\nMaxKeepAliveRequests 100\nKeepAliveTimeout 5\nUser www-data\nGroup www-data\n"
      "HostnameLookups Off\nErrorLog /var/log/apache2/error.log\nLogLevel warn\n"
      "StartServers 2\nMinSpareThreads 25\nMaxSpareThreads 75\nThreadLimit 64\n"
      "ThreadsPerChild 25\nMaxRequestWorkers 150\nMaxConnectionsPerChild 0\n"
      "<Location /server-status>\nSetHandler server-status\nRequire local\n</Location>\n"
      "Listen 80\n<Directory />\nOptions FollowSymLinks\nAllowOverride None\n"
      "Require all denied\n</Directory>\n<Directory /var/www/>\nOptions Indexes FollowSymLinks\n"
      "AllowOverride None\nRequire all granted\n</Directory>\nAccessFileName .htaccess\n"
      "ServerTokens OS\nServerSignature On\nTraceEnable Off\n"
      "<VirtualHost *:80>\nServerAdmin webmaster@localhost\nDocumentRoot /var/www/html\n"
      "ErrorLog /var/log/apache2/error.log\nCustomLog /var/log/apache2/access.log combined\n"
      "</VirtualHost>\n");
  auto f = run(m, env);
  EXPECT_TRUE(f.empty()) << dump(f);
  EXPECT_FALSE(run(m, env, true).empty());  // hardening has opinions
}

// The real environment: the helper switches to an unprivileged user (needs root).
TEST(SystemEnvironment, UserAccessAsRunUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const passwd* pw = getpwnam("nobody");
  if (!pw) GTEST_SKIP() << "no user nobody";
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("selfheal_ua_" + std::to_string(getpid()));
  fs::create_directories(base / "open");
  fs::create_directories(base / "closed");
  chmod(base.c_str(), 0755);
  chmod((base / "open").c_str(), 0755);
  chmod((base / "closed").c_str(), 0700);
  SystemEnvironment env(pw->pw_name, pw->pw_uid, pw->pw_gid);
  env.prefetch_user_access({{(base / "open").string(), R_OK | X_OK},
                            {(base / "closed").string(), R_OK | X_OK},
                            {(base / "open").string(), W_OK}});
  EXPECT_EQ(env.user_access((base / "open").string(), R_OK | X_OK), std::optional<bool>(true));
  EXPECT_EQ(env.user_access((base / "closed").string(), R_OK | X_OK), std::optional<bool>(false));
  EXPECT_EQ(env.user_access((base / "open").string(), W_OK), std::optional<bool>(false));
  EXPECT_TRUE(env.access((base / "closed").string(), R_OK));  // root can
  fs::remove_all(base);
}

// prestat() answers ahead exactly the stat()s the DOC rules make: literal absolute
// DocumentRoot and <Directory> paths, not expressions, regexes or relative paths. (Proof:
// directories removed after prestat() still exist for the environment; the others not.)
TEST(SystemEnvironment, PrestatAnswersDocumentRootsAhead) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("selfheal_pre_" + std::to_string(getpid()));
  for (const char* d : {"root", "dir", "expr%{HOST}", "regex", "rel"})
    fs::create_directories(base / d);
  const std::string b = base.string();
  Model m = model("DocumentRoot " + b + "/root\n<Directory " + b +
                  "/dir>\n</Directory>\n"
                  "DocumentRoot " +
                  b + "/expr%{HOST}\n<Directory ~ " + b +
                  "/regex>\n"
                  "</Directory>\n<VirtualHost *:80>\nDocumentRoot rel\n</VirtualHost>\n");
  m.server_root = b;
  SystemEnvironment env("", -1, -1);
  env.prestat(m);
  fs::remove_all(base);
  EXPECT_TRUE(env.stat(b + "/root").is_dir);
  EXPECT_TRUE(env.stat(b + "/dir").is_dir);
  EXPECT_FALSE(env.stat(b + "/expr%{HOST}").exists);
  EXPECT_FALSE(env.stat(b + "/regex").exists);
  EXPECT_FALSE(env.stat(b + "/rel").exists);
  // What the rules then conclude: DOC-001 takes the answer given ahead for the main
  // server's DocumentRoot and stats the vhost's relative one itself (gone by now).
  const auto f = only(run(m, env, false, true), "DOC-001");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 8);
}

TEST(SystemEnvironment, BindDetectsPortInUse) {
  SystemEnvironment env("", -1, -1);
  EXPECT_EQ(env.try_bind("127.0.0.1", 0, ""), BindResult::unknown);
  EXPECT_EQ(env.try_bind("192.0.2.77", 18080, ""), BindResult::not_local);
}

}  // namespace
}  // namespace selfheal::cfg::testing
