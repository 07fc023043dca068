// LOG-*, RUN-*, NET-*, DOC-*, MAP-*, HTA-* rules: positive and negative cases.
#include "test_config_support.h"

namespace selfheal::cfg::testing {
namespace {

struct FsRules : ::testing::Test {
  FakeEnv env;
  FsRules() {
    env.dir("/var/log/apache2");
    env.dir("/var/www/html");
    env.dir("/run/apache2");
    env.file("/usr/bin/rotatelogs");
  }
  std::vector<Finding> check(const std::string& text, const char* rule, bool config_test = true) {
    return only(run(model(text), env, false, config_test), rule);
  }
};

TEST_F(FsRules, Log001MissingPipedProgram) {
  auto f = check("ErrorLog \"|/usr/bin/nope -x\"\nCustomLog \"||/usr/bin/rotatelogs x 86400\" c\n",
                 "LOG-001");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 1);
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST_F(FsRules, Log001ShellFormAndPathSearch) {
  env.path_programs.insert("logger");
  EXPECT_TRUE(check("ErrorLog \"|logger -t apache\"\n", "LOG-001").empty());
  auto f = check("ErrorLog \"|$/opt/none/bin/x\"\n", "LOG-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
}

TEST_F(FsRules, Log002DirectoryMissingOrIsDirectory) {
  auto f =
      check("ErrorLog /nonexistent/error.log\nCustomLog /var/log/apache2 combined\n", "LOG-002");
  ASSERT_EQ(f.size(), 2u) << dump(f);
  EXPECT_EQ(f[0].line, 1);
  EXPECT_EQ(f[1].line, 2);
}

TEST_F(FsRules, Log002ReadOnlyFilesystem) {
  env.readonly.insert("/var/log/apache2");
  EXPECT_EQ(check("ErrorLog /var/log/apache2/error.log\n", "LOG-002").size(), 1u);
}

TEST_F(FsRules, Log002WritableDirectoryAndSyslogClean) {
  EXPECT_TRUE(
      check("ErrorLog /var/log/apache2/error.log\nErrorLog syslog:local7\n"
            "<VirtualHost *:80>\nCustomLog /var/log/apache2/a.log combined\n</VirtualHost>\n",
            "LOG-002")
          .empty());
}

TEST_F(FsRules, Log003GlobalDebug) {
  EXPECT_EQ(check("LogLevel debug\n", "LOG-003").size(), 1u);
  EXPECT_EQ(check("LogLevel trace3\n", "LOG-003").size(), 1u);
}

TEST_F(FsRules, Log003ModuleDebugAndVhostClean) {
  EXPECT_TRUE(check("LogLevel warn ssl:debug\n<VirtualHost *:80>\nLogLevel debug\n</VirtualHost>\n",
                    "LOG-003")
                  .empty());
}

TEST_F(FsRules, Run001PidDirMissing) {
  auto f = check("PidFile /run/nothere/apache2.pid\n", "RUN-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 1);
}

TEST_F(FsRules, Run001RelativeToRuntimeDirClean) {
  EXPECT_TRUE(check("DefaultRuntimeDir /run/apache2\nPidFile apache2.pid\n", "RUN-001").empty());
  EXPECT_EQ(check("DefaultRuntimeDir /run/other\nPidFile apache2.pid\n", "RUN-001").size(), 1u);
}

TEST_F(FsRules, Net001PortInUseOnlyInConfigTest) {
  env.binds[8080] = BindResult::in_use;
  EXPECT_EQ(check("Listen 8080\n", "NET-001").size(), 1u);
  EXPECT_TRUE(check("Listen 8080\n", "NET-001", false).empty());
}

TEST_F(FsRules, Net001OwnRunningServerClean) {
  env.binds[8080] = BindResult::in_use_by_us;
  EXPECT_TRUE(check("Listen 8080\nListen 8081\n", "NET-001").empty());
}

TEST_F(FsRules, Net002VhostWithoutListen) {
  auto f = check("Listen 80\n<VirtualHost *:8081>\nServerName a\n</VirtualHost>\n", "NET-002");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 2);
}

TEST_F(FsRules, Net002CoveredClean) {
  EXPECT_TRUE(check("Listen 80\nListen 127.0.0.1:81\n<VirtualHost *:80>\n</VirtualHost>\n"
                    "<VirtualHost 127.0.0.1:81>\n</VirtualHost>\n",
                    "NET-002")
                  .empty());
}

TEST_F(FsRules, Net003IpVhostBesideWildcard) {
  auto f = check(
      "Listen 80\n<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
      "<VirtualHost 127.0.0.1:80>\nServerName b\n</VirtualHost>\n",
      "NET-003");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 5);
  EXPECT_EQ(f[0].vhost, "b (127.0.0.1:80)");
}

TEST_F(FsRules, Net003DifferentPortsClean) {
  EXPECT_TRUE(
      check("<VirtualHost *:80>\n</VirtualHost>\n<VirtualHost 127.0.0.1:81>\n</VirtualHost>\n",
            "NET-003")
          .empty());
}

TEST_F(FsRules, Net004DuplicateNames) {
  auto f = check(
      "<VirtualHost *:80>\nServerName a.example\n</VirtualHost>\n"
      "<VirtualHost *:80>\nServerName b.example\nServerAlias A.example\n</VirtualHost>\n",
      "NET-004");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 6);
}

TEST_F(FsRules, Net004SameNameOtherPortClean) {
  EXPECT_TRUE(check("<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
                    "<VirtualHost *:443>\nServerName a\n</VirtualHost>\n",
                    "NET-004")
                  .empty());
}

TEST_F(FsRules, Doc001MissingDocumentRoot) {
  auto f = check("<VirtualHost *:80>\nDocumentRoot /srv/missing\n</VirtualHost>\n", "DOC-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 2);
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST_F(FsRules, Doc001ExistingClean) {
  EXPECT_TRUE(check("DocumentRoot /var/www/html\n", "DOC-001").empty());
}

TEST_F(FsRules, Doc002NotReadableByRunUser) {
  env.dir("/srv/private");
  env.user[{"/srv/private", R_OK | X_OK}] = false;
  env.user[{"/var/www/html", R_OK | X_OK}] = true;
  auto f = check(
      "DocumentRoot /var/www/html\n<VirtualHost *:80>\nDocumentRoot /srv/private\n"
      "</VirtualHost>\n",
      "DOC-002");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 3);
}

TEST_F(FsRules, Doc002ReadableOrUnknownClean) {
  env.dir("/srv/unknown");
  EXPECT_TRUE(check("DocumentRoot /srv/unknown\n", "DOC-002").empty());
}

TEST_F(FsRules, Map001AliasTargetMissing) {
  auto f = check("Alias /x /srv/nothing\nScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\n", "MAP-001");
  EXPECT_EQ(f.size(), 2u) << dump(f);
}

TEST_F(FsRules, Map001ExistingAndMatchFormsClean) {
  EXPECT_TRUE(check("Alias /x /var/www/html\nAliasMatch ^/y(.*) /srv/$1\n", "MAP-001").empty());
}

TEST_F(FsRules, Map002ProxyWithoutProvider) {
  auto f = check(
      "<VirtualHost *:80>\nProxyPass /app/ http://127.0.0.1:9000/\n"
      "ProxyPass /f/ fcgi://127.0.0.1:9001/\n</VirtualHost>\n",
      "MAP-002");
  ASSERT_EQ(f.size(), 2u) << dump(f);
  EXPECT_EQ(f[0].line, 2);
}

TEST_F(FsRules, Map002WithProviderClean) {
  Model m = model("ProxyPass /app/ http://127.0.0.1:9000/\nProxyPass /x !\n",
                  {"core.c", "event.c", "mod_proxy.c", "mod_proxy_http.c"});
  EXPECT_TRUE(only(run(m, env), "MAP-002").empty());
}

TEST_F(FsRules, Map003SlashMismatch) {
  auto f =
      check("ProxyPass /app http://b/app/\n<Location /x/>\nProxyPass http://b/x\n</Location>\n",
            "MAP-003");
  EXPECT_EQ(f.size(), 2u) << dump(f);
}

TEST_F(FsRules, Map003ConsistentClean) {
  EXPECT_TRUE(check("ProxyPass /app/ http://b/app/\nProxyPass /z http://b/z\n", "MAP-003").empty());
}

TEST_F(FsRules, Map004PerDirectoryLoop) {
  auto f = check(
      "<Directory /var/www/html>\nRewriteEngine on\nRewriteRule ^(.*)$ /app/$1 [L]\n"
      "</Directory>\n",
      "MAP-004");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 3);
}

TEST_F(FsRules, Map004GuardedOrTerminatingClean) {
  EXPECT_TRUE(check("<Directory /var/www/html>\nRewriteCond %{REQUEST_URI} !^/app/\n"
                    "RewriteRule ^(.*)$ /app/$1 [L]\nRewriteRule ^(.*)$ /b/$1 [END]\n"
                    "RewriteRule ^(.*)$ index.php [L]\n</Directory>\nRewriteRule ^(.*)$ /app/$1\n",
                    "MAP-004")
                  .empty());
}

// PCRE syntax mod_rewrite accepts and ECMAScript does not: a lookbehind and an inline flag.
TEST_F(FsRules, Map004ReadsPcreSyntax) {
  auto f = check(
      "<Directory /var/www/html>\nRewriteEngine on\n"
      "RewriteRule (?<!x)^(?i)(.*)$ /app/$1 [L]\n</Directory>\n",
      "MAP-004");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 3);
}

// A pattern that backtracks exponentially on its own result ("foo" matches, then 30 a's and
// a c), and a substitution that multiplies the URL sixteenfold per pass: both end the
// simulation within its bounds, without a finding (the rule engine cannot tell), and the
// rules after them still run. Unbounded, the first takes 2^30 steps and the second builds a
// 850 KB URL.
TEST_F(FsRules, Map004BoundedOnBacktrackingAndGrowth) {
  const std::string bomb =
      "<Directory /var/www/html>\nRewriteEngine on\n"
      "RewriteRule ^(foo|(a+)+)$ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac [L]\n"
      "RewriteRule ^(.*)$ $1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1 [L]\n"
      "RewriteRule ^(.*)$ /app/$1 [L]\n</Directory>\n";
  auto f = check(bomb, "MAP-004");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 5);
}

TEST_F(FsRules, Map005RecursionLimitChanged) {
  EXPECT_EQ(check("LimitInternalRecursion 40\n", "MAP-005").size(), 1u);
  EXPECT_TRUE(check("LimitInternalRecursion 10 10\n", "MAP-005").empty());
}

TEST_F(FsRules, Map006ErrorDocumentMissing) {
  env.file("/var/www/html/404.html");
  auto f = check(
      "DocumentRoot /var/www/html\nErrorDocument 404 /404.html\n"
      "ErrorDocument 500 /oops.html\nErrorDocument 403 \"Forbidden\"\n",
      "MAP-006");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].line, 3);
  EXPECT_EQ(f[0].severity, Severity::info);
}

TEST_F(FsRules, Map006AliasedErrorPageClean) {
  env.dir("/usr/share/apache2/error");
  env.file("/usr/share/apache2/error/HTTP_NOT_FOUND.html.var");
  EXPECT_TRUE(check("DocumentRoot /var/www/html\nAlias /error/ /usr/share/apache2/error/\n"
                    "ErrorDocument 404 /error/HTTP_NOT_FOUND.html.var\n",
                    "MAP-006")
                  .empty());
}

TEST_F(FsRules, Hta001UnknownDirectiveInHtaccess) {
  env.file("/var/www/html/.htaccess",
           "# c\nRewriteEngine on\n<IfModule mod_nope.c>\nNope 1\n"
           "</IfModule>\nHeader set X 1\n");
  Model m = model(
      "DocumentRoot /var/www/html\n<Directory /var/www/html>\nAllowOverride All\n"
      "</Directory>\n");
  m.known_directives = {"rewriteengine", "documentroot", "ifmodule", "allowoverride"};
  auto f = only(run(m, env), "HTA-001");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].file, "/var/www/html/.htaccess");
  EXPECT_EQ(f[0].line, 6);
}

TEST_F(FsRules, Hta001OverridesOffClean) {
  env.file("/var/www/html/.htaccess", "Header set X 1\n");
  Model m = model(
      "DocumentRoot /var/www/html\n<Directory /var/www/html>\nAllowOverride None\n"
      "</Directory>\n");
  m.known_directives = {"rewriteengine"};
  EXPECT_TRUE(only(run(m, env), "HTA-001").empty());
}

}  // namespace
}  // namespace selfheal::cfg::testing
