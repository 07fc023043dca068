// selfhealctl lint: runs the real httpd parser (Debian's apache2 in config-test mode)
// with mod_selfheal loaded and prints the rule findings as text, JSON or SARIF 2.1.0.
//
// The module writes one JSON object per finding, then a "done" line, to the file named
// by SELFHEAL_LINT_OUTPUT (SELFHEAL_LINT_PROFILE overrides SelfHealProfile). No done
// line means httpd never reached the checks: a parse error (exit 2).
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "audit_textfile.h"
#include "commands.h"
#include "config/engine.h"

namespace selfhealctl {
namespace {

using selfheal::cfg::Finding;
using selfheal::cfg::Severity;
using json = nlohmann::json;

constexpr const char* kUsage =
    "usage: selfhealctl lint [-f FILE] [-d DIR] [-D NAME]... [-C DIRECTIVE]... [-c DIRECTIVE]...\n"
    "                        [--format text|json|sarif] [--json] [--fail-on error|warning|info]\n"
    "                        [--profile safety|hardening] [--module PATH] [--httpd PATH]\n"
    "                        [--textfile PATH] [--list-rules]\n"
    "Runs httpd -t with mod_selfheal loaded. Exit 0 clean, 1 findings at or above --fail-on\n"
    "(default error), 2 tool or parse error. httpd: --httpd, $SELFHEAL_HTTPD or\n"
    "/usr/sbin/apache2; module: --module, $SELFHEAL_MODULE, mod_selfheal.so beside selfhealctl,\n"
    "or /usr/lib/apache2/modules/mod_selfheal.so. A Debian config's envvars file is sourced.\n"
    "--textfile PATH also writes the counts for the node exporter's textfile collector\n"
    "(selfheal_audit_success, selfheal_audit_findings{severity}, ..._rule_findings{rule}).\n";

struct Options {
  std::vector<std::string> httpd_args;  // -f/-d/-D/-C/-c, in order
  std::string conf_dir;                 // from -d or -f
  std::string format = "text";
  Severity fail_on = Severity::error;
  std::string profile;
  std::string module;
  std::string httpd;
  std::string textfile;
  bool list_rules = false;
};

bool exists(const std::string& p) {
  return !p.empty() && ::access(p.c_str(), R_OK) == 0;
}

std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  return s.substr(0, s.find_last_of('/'));
}

std::string dir_of(const std::string& p) {
  const size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
}

// 0 ok, 1 help printed, 2 usage error.
int parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "selfhealctl lint: %s needs a value\n%s", a.c_str(), kUsage);
        return false;
      }
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 1;
    } else if (a == "-f" || a == "-d" || a == "-D" || a == "-C" || a == "-c") {
      if (!value(v)) return 2;
      o.httpd_args.push_back(a);
      o.httpd_args.push_back(v);
      if (a == "-d") o.conf_dir = v;
      if (a == "-f" && o.conf_dir.empty() && !v.empty() && v[0] == '/') o.conf_dir = dir_of(v);
    } else if (a == "--format") {
      if (!value(o.format)) return 2;
      if (o.format != "text" && o.format != "json" && o.format != "sarif") {
        std::fprintf(stderr, "selfhealctl lint: --format '%s': use text, json or sarif\n",
                     o.format.c_str());
        return 2;
      }
    } else if (a == "--json") {
      o.format = "json";
    } else if (a == "--fail-on") {
      if (!value(v)) return 2;
      auto s = selfheal::cfg::parse_severity(v);
      if (!s) {
        std::fprintf(stderr, "selfhealctl lint: --fail-on '%s': use error, warning or info\n",
                     v.c_str());
        return 2;
      }
      o.fail_on = *s;
    } else if (a == "--profile") {
      if (!value(o.profile)) return 2;
      if (o.profile != "safety" && o.profile != "hardening") {
        std::fprintf(stderr, "selfhealctl lint: --profile '%s': use safety or hardening\n",
                     o.profile.c_str());
        return 2;
      }
    } else if (a == "--module") {
      if (!value(o.module)) return 2;
    } else if (a == "--httpd") {
      if (!value(o.httpd)) return 2;
    } else if (a == "--textfile") {
      if (!value(o.textfile)) return 2;
    } else if (a == "--list-rules") {
      o.list_rules = true;
    } else {
      std::fprintf(stderr, "selfhealctl lint: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  return 0;
}

// --textfile: the audit's metrics; a failure to write them fails the run (exit 2), since an
// audit whose result never reaches Prometheus is the report nobody reads.
int leave_textfile(const Options& o, const std::vector<Finding>* fs, int rc) {
  if (o.textfile.empty()) return rc;
  std::string err;
  if (!write_textfile(o.textfile, audit_textfile(fs, std::time(nullptr)), err)) {
    std::fprintf(stderr, "selfhealctl lint: --textfile: %s\n", err.c_str());
    return 2;
  }
  return rc;
}

std::string find_module(const Options& o) {
  if (!o.module.empty()) return o.module;
  if (const char* e = std::getenv("SELFHEAL_MODULE"); e && *e) return e;
  if (std::string p = self_dir() + "/mod_selfheal.so"; exists(p)) return p;
  return "/usr/lib/apache2/modules/mod_selfheal.so";
}

// Runs httpd; returns its exit status (-1 if it could not run) and its output.
int run_httpd(const std::vector<std::string>& args, const std::string& envvars, std::string& out) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    // Source the Debian envvars file (as apache2ctl does), then exec httpd.
    std::vector<const char*> argv{
        "/bin/sh", "-c", "if [ -n \"$0\" ] && [ -f \"$0\" ]; then . \"$0\"; fi; exec \"$@\"",
        envvars.c_str()};
    for (const std::string& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    ::execv("/bin/sh", const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string file_uri(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::strchr("/-._~", c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string fingerprint(const Finding& f) {
  // Stable across line moves: rule, file, vhost and message (no line number).
  const std::string key = f.rule + '\n' + f.file + '\n' + f.vhost + '\n' + f.message;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < 16 && i < len; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

const char* sarif_level(Severity s) {
  return s == Severity::error ? "error" : s == Severity::warning ? "warning" : "note";
}

json rule_json(const selfheal::cfg::Rule& r) {
  json th = json::array();
  for (const auto& t : r.thresholds) th.push_back({{"name", t.name}, {"default", t.value}});
  return {{"id", r.id},
          {"severity", selfheal::cfg::severity_name(r.severity)},
          {"profile", r.profile == selfheal::cfg::Profile::safety ? "safety" : "hardening"},
          {"title", r.title},
          {"hint", r.hint},
          {"thresholds", th}};
}

json sarif(const std::vector<Finding>& fs) {
  json rules = json::array();
  std::vector<std::string> ids;
  for (const auto& r : selfheal::cfg::all_rules()) {
    ids.push_back(r.id);
    rules.push_back(
        {{"id", r.id},
         {"name", r.id},
         {"shortDescription", {{"text", r.title}}},
         {"help", {{"text", r.hint}}},
         {"defaultConfiguration", {{"level", sarif_level(r.severity)}}},
         {"properties",
          {{"profile", r.profile == selfheal::cfg::Profile::safety ? "safety" : "hardening"}}}});
  }
  json results = json::array();
  for (const Finding& f : fs) {
    std::string text = f.message;
    if (!f.vhost.empty()) text += " [vhost " + f.vhost + "]";
    if (!f.hint.empty()) text += " Fix: " + f.hint;
    json loc = {{"physicalLocation", {{"artifactLocation", {{"uri", file_uri(f.file)}}}}}};
    if (f.line > 0) loc["physicalLocation"]["region"] = {{"startLine", f.line}};
    json r = {{"ruleId", f.rule},
              {"level", sarif_level(f.severity)},
              {"message", {{"text", text}}},
              {"locations", json::array({loc})},
              {"partialFingerprints", {{"selfhealFinding/v1", fingerprint(f)}}}};
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == f.rule) r["ruleIndex"] = i;
    results.push_back(std::move(r));
  }
  return {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", json::array({{{"tool",
                              {{"driver",
                                {{"name", "selfhealctl-lint"},
                                 {"informationUri", "https://github.com/mod-selfheal/mod_selfheal"},
                                 {"version", "0.1.0"},
                                 {"rules", rules}}}}},
                             {"results", results}}})}};
}

}  // namespace

int cmd_lint(int argc, char** argv) {
  Options o;
  if (int r = parse(argc, argv, o)) return r == 1 ? 0 : 2;
  if (o.list_rules) {
    if (o.format == "text") {
      for (const auto& r : selfheal::cfg::all_rules())
        std::printf("%-9s %-7s %-9s %s\n", r.id, selfheal::cfg::severity_name(r.severity),
                    r.profile == selfheal::cfg::Profile::safety ? "safety" : "hardening", r.title);
    } else {
      json a = json::array();
      for (const auto& r : selfheal::cfg::all_rules()) a.push_back(rule_json(r));
      std::printf("%s\n", a.dump(2).c_str());
    }
    return 0;
  }
  const std::string httpd = !o.httpd.empty() ? o.httpd
                            : std::getenv("SELFHEAL_HTTPD") && *std::getenv("SELFHEAL_HTTPD")
                                ? std::getenv("SELFHEAL_HTTPD")
                                : "/usr/sbin/apache2";
  const std::string module = find_module(o);
  if (!exists(module)) {
    std::fprintf(stderr, "selfhealctl lint: module %s not found (use --module)\n", module.c_str());
    return 2;
  }
  // Debian's config needs the envvars apache2ctl sets: defaults, then the config's envvars.
  const std::string conf_dir = o.conf_dir.empty() ? "/etc/apache2" : o.conf_dir;
  ::setenv("APACHE_CONFDIR", conf_dir.c_str(), 0);
  const std::string envvars =
      std::getenv("APACHE_ENVVARS") ? std::getenv("APACHE_ENVVARS") : conf_dir + "/envvars";
  for (const auto& [k, v] : std::vector<std::pair<const char*, const char*>>{
           {"APACHE_RUN_USER", "www-data"},
           {"APACHE_RUN_GROUP", "www-data"},
           {"APACHE_PID_FILE", "/var/run/apache2/apache2.pid"},
           {"APACHE_RUN_DIR", "/var/run/apache2"},
           {"APACHE_LOCK_DIR", "/var/lock/apache2"},
           {"APACHE_LOG_DIR", "/var/log/apache2"},
           {"LANG", "C"}})
    ::setenv(k, v, 0);

  char tmpl[] = "/tmp/selfheal-lint-XXXXXX";
  const int tfd = ::mkstemp(tmpl);
  if (tfd < 0) {
    std::perror("selfhealctl lint: mkstemp");
    return 2;
  }
  ::close(tfd);
  const std::string out_path = tmpl;
  ::setenv("SELFHEAL_LINT_OUTPUT", out_path.c_str(), 1);
  if (!o.profile.empty()) ::setenv("SELFHEAL_LINT_PROFILE", o.profile.c_str(), 1);

  std::vector<std::string> args{httpd};
  // -C runs before the config file: if it loads mod_selfheal too, httpd skips it (AH01574).
  args.push_back("-C");
  args.push_back("LoadModule selfheal_module " + module);
  args.insert(args.end(), o.httpd_args.begin(), o.httpd_args.end());
  args.push_back("-t");
  std::string output;
  const int rc = run_httpd(args, exists(envvars) ? envvars : std::string(), output);

  std::vector<Finding> fs;
  bool done = false;
  {
    std::ifstream in(out_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("selfheal_lint")) {
        done = true;
        continue;
      }
      Finding f;
      f.rule = j.value("rule", "");
      f.severity =
          selfheal::cfg::parse_severity(j.value("severity", "info")).value_or(Severity::info);
      f.file = j.value("file", "");
      f.line = j.value("line", 0);
      f.vhost = j.value("vhost", "");
      f.message = j.value("message", "");
      f.hint = j.value("hint", "");
      fs.push_back(std::move(f));
    }
  }
  ::unlink(out_path.c_str());
  if (!done) {
    std::fprintf(stderr,
                 "selfhealctl lint: %s did not reach the configuration checks (exit %d):\n%s",
                 httpd.c_str(), rc, output.c_str());
    return leave_textfile(o, nullptr, 2);
  }

  size_t at_or_above = 0, counts[3] = {0, 0, 0};
  for (const Finding& f : fs) {
    ++counts[static_cast<int>(f.severity)];
    if (f.severity >= o.fail_on) ++at_or_above;
  }
  if (rc != 0 && counts[2] == 0) {  // httpd failed after our checks, for its own reasons
    std::fprintf(stderr, "selfhealctl lint: %s -t failed (exit %d):\n%s", httpd.c_str(), rc,
                 output.c_str());
    return leave_textfile(o, nullptr, 2);
  }
  if (o.format == "sarif") {
    std::printf("%s\n", sarif(fs).dump(2).c_str());
  } else if (o.format == "json") {
    json a = json::array();
    for (const Finding& f : fs) a.push_back(json::parse(selfheal::cfg::finding_json(f)));
    json doc = {{"findings", a},
                {"summary", {{"error", counts[2]}, {"warning", counts[1]}, {"info", counts[0]}}}};
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    for (const Finding& f : fs) std::printf("%s\n", selfheal::cfg::finding_text(f).c_str());
    std::printf("%zu error(s), %zu warning(s), %zu info\n", counts[2], counts[1], counts[0]);
  }
  return leave_textfile(o, &fs, at_or_above ? 1 : 0);
}

}  // namespace selfhealctl
