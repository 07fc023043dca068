// fuzz_config_rules: arbitrary directive trees into the configuration model
// (module/config/model) and every rule of the rule engine (config/engine, config/rules/*).
//
// Input: one byte of options (profile, phase, -t or live, MPM, which modules are loaded),
// a blob the fake environment answers from (file contents: PEM certificates, .htaccess text),
// then httpd-style configuration text. The environment is a fake: no rule touches the real
// filesystem, the network or the run user (no helper process); stat/access/bind answers come
// from a hash of the path, so rules see existing files, directories, unreadable paths and
// ports in use.
//
// Checks: no crash, no sanitizer finding, no exception out of run_rules; every finding has a
// known rule id, a severity and a message; findings are sorted; the same input gives the same
// findings.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/engine.h"
#include "config/model.h"
#include "fuzz_check.h"

namespace cfg = selfheal::cfg;

namespace {

uint64_t fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

class FuzzEnv : public cfg::Environment {
 public:
  explicit FuzzEnv(std::string blob) : blob_(std::move(blob)) {}
  cfg::FileInfo stat(std::string_view p) override {
    const uint64_t h = fnv(std::string(p));
    cfg::FileInfo fi;
    fi.exists = (h & 3) != 0;
    if (!fi.exists) {
      fi.err = (h & 4) ? 2 : 13;
      return fi;
    }
    fi.is_dir = (h >> 2) & 1;
    fi.is_reg = !fi.is_dir;
    fi.mode = static_cast<unsigned>((fi.is_dir ? 040000 : 0100000) | ((h >> 8) & 0777));
    fi.uid = (h >> 20) & 1 ? 0 : 33;
    fi.gid = (h >> 21) & 1 ? 0 : 33;
    return fi;
  }
  bool readonly_fs(const std::string& p) override { return (fnv(p) >> 30) & 1; }
  bool access(const std::string& p, int) override { return (fnv(p) >> 31) & 1; }
  std::optional<bool> user_access(std::string_view p, int mode) override {
    const uint64_t h = fnv(std::string(p)) ^ static_cast<uint64_t>(mode);
    if ((h & 7) == 0) return std::nullopt;
    return ((h >> 3) & 1) != 0;
  }
  std::optional<std::string> read_file(const std::string& p) override {
    if ((fnv(p) >> 40) & 1) return std::nullopt;
    return blob_;
  }
  std::vector<std::string> list_dir(const std::string& p) override {
    if ((fnv(p) >> 41) & 1) return {};
    return {"a", "site", ".hidden"};
  }
  cfg::BindResult try_bind(const std::string& host, int port, const std::string&) override {
    return static_cast<cfg::BindResult>((fnv(host) + static_cast<uint64_t>(port)) % 5);
  }
  std::time_t now() override { return 1'800'000'000; }
  long open_file_limit() override { return 1024; }
  long long memory_bytes() override { return 1LL << 30; }
  std::optional<std::string> find_in_path(const std::string& prog) override {
    if (fnv(prog) & 1) return std::nullopt;
    return "/usr/bin/" + prog;
  }

 private:
  std::string blob_;
};

std::vector<cfg::Finding> run(std::string_view text, uint8_t opts, const std::string& blob) {
  static const char* const kModules[] = {
      "core.c",      "mod_so.c",         "http_core.c",      "mod_ssl.c",        "mod_rewrite.c",
      "mod_proxy.c", "mod_alias.c",      "mod_reqtimeout.c", "mod_headers.c",    "mod_http2.c",
      "mod_unixd.c", "mod_log_config.c", "mod_status.c",     "mod_authz_core.c", "mod_dir.c",
      "mod_mime.c",  "mod_cgi.c",        "mod_php.c",        "mod_proxy_fcgi.c", "mod_env.c"};
  cfg::Model m;
  m.server_root = "/srv/fuzz-root";  // never touched: the environment is fake
  for (size_t i = 0; i < std::size(kModules); ++i)
    if (i < 3 || ((opts >> (i % 5)) & 1)) m.modules.push_back(kModules[i]);
  static const char* const kMpm[] = {"event", "worker", "prefork", ""};
  m.mpm = kMpm[(opts >> 5) & 3];
  m.modules.push_back(m.mpm.empty() ? "event.c" : m.mpm + ".c");
  m.run_user = "www-data";
  m.run_uid = 33;
  m.run_gid = 33;
  if (opts & 0x80) m.known_directives = {"documentroot", "servername", "listen", "directory"};
  cfg::append_config_text(m, text, "/etc/apache2/apache2.conf");
  m.finalize();

  FuzzEnv env(blob);
  cfg::RunOptions ro;
  ro.config_test = opts & 1;
  ro.phase = (opts & 2) ? cfg::Phase::post_config : cfg::Phase::check_config;
  if (opts & 4) ro.profile = (opts & 8) ? cfg::Profile::hardening : cfg::Profile::safety;
  std::vector<cfg::Finding> fs = cfg::run_rules(m, env, ro);

  for (size_t i = 0; i < fs.size(); ++i) {
    const cfg::Finding& f = fs[i];
    FUZZ_CHECK(cfg::find_rule(f.rule) != nullptr);
    FUZZ_CHECK(!f.message.empty());
    // No file only for server-wide findings (e.g. MOD-001 on a module the MPM cannot run).
    FUZZ_CHECK(!f.file.empty() || f.line == 0);
    FUZZ_CHECK(f.line >= 0);
    FUZZ_CHECK(f.severity >= cfg::Severity::info && f.severity <= cfg::Severity::error);
    (void)cfg::finding_text(f);
    FUZZ_CHECK(nlohmann::json::accept(cfg::finding_json(f)));
  }
  return fs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t opts = data[0];
  // data[1]: length of the environment blob (file contents the fake filesystem returns).
  const size_t blob_len = std::min<size_t>(data[1], size - 2);
  std::string blob(reinterpret_cast<const char*>(data + 2), blob_len);
  std::string_view text(reinterpret_cast<const char*>(data + 2 + blob_len), size - 2 - blob_len);
  std::vector<cfg::Finding> a = run(text, opts, blob);
  // Deterministic: the same tree gives the same findings, in the same (sorted) order.
  std::vector<cfg::Finding> b = run(text, opts, blob);
  FUZZ_CHECK(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    FUZZ_CHECK(a[i].rule == b[i].rule && a[i].file == b[i].file && a[i].line == b[i].line &&
               a[i].message == b[i].message && a[i].severity == b[i].severity);
    if (i)  // sorted by file, line, rule
      FUZZ_CHECK(a[i - 1].file < a[i].file ||
                 (a[i - 1].file == a[i].file &&
                  (a[i - 1].line < a[i].line ||
                   (a[i - 1].line == a[i].line && a[i - 1].rule <= a[i].rule))));
  }
  return 0;
}
