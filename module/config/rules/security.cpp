// SEC-* rules: access control, CGI, information disclosure.
#include <unistd.h>

#include <functional>
#include <unordered_set>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

bool is_root_dir(const Directive& d) {
  return d.section && d.lname == "directory" && !d.args.empty() && d.args[0] == "/";
}

bool grants_all(const Directive& d) {
  if (d.lname == "require" && d.args.size() >= 2 && iequals(d.args[0], "all") &&
      iequals(d.args[1], "granted"))
    return true;
  return d.lname == "allow" && d.args.size() >= 2 && iequals(d.args[1], "all");
}

void walk(const Model& m, int d, const std::function<void(int)>& fn) {
  for (int ch : m.dirs[static_cast<size_t>(d)].children) {
    fn(ch);
    walk(m, ch, fn);
  }
}

void sec001(Context& c) {
  for (int d : c.m.all("directory")) {
    if (!is_root_dir(c.dir(d))) continue;
    walk(c.m, d, [&](int x) {
      if (grants_all(c.dir(x)) && util::enclosing(c.m, x, {"requirenone"}) < 0)
        c.report(x,
                 "<Directory /> grants access to the whole filesystem: any file the run "
                 "user can read is served",
                 std::nullopt, "Require all denied in <Directory />, grant per directory");
    });
  }
}

bool restricts(const Model& m, int section) {
  bool yes = false;
  walk(m, section, [&](int x) {
    const Directive& d = m.dirs[static_cast<size_t>(x)];
    if (d.lname == "require" && !grants_all(d)) yes = true;
    if (d.lname == "deny" || d.lname == "authtype") yes = true;
    if (d.lname == "allow" && !grants_all(d)) yes = true;
  });
  return yes;
}

void sec002(Context& c) {
  for (const char* n : {"sethandler", "addhandler"})
    for (int d : c.m.all(n)) {
      const std::string h = to_lower(c.arg(d, 0));
      if (h != "server-status" && h != "server-info") continue;
      bool restricted = false;
      for (int p = c.dir(d).parent; p >= 0 && c.dir(p).lname != "virtualhost"; p = c.dir(p).parent)
        restricted = restricted || restricts(c.m, p);
      if (!restricted)
        c.report(d, h + " is served with no access restriction: anyone can read it", std::nullopt,
                 "add Require local (or Require ip ...) next to the SetHandler");
    }
}

bool options_have(const Directive& d, std::initializer_list<const char*> names) {
  bool on = false;
  for (const std::string_view& a : d.args) {
    const char op = !a.empty() && (a[0] == '+' || a[0] == '-') ? a[0] : 0;
    const std::string_view opt = op ? a.substr(1) : a;
    bool match = false;
    for (const char* n : names) match = match || iequals(opt, n);
    if (!op && &a == &d.args.front()) on = false;
    if (match) on = op != '-';
  }
  return on;
}

void sec003(Context& c) {
  if (c.m.run_uid == 0) return;
  auto check = [&](int d, const std::string& path) {
    if (!c.env.stat(path).is_dir) return;
    const std::optional<bool> w = c.env.user_access(path, W_OK);
    if (w && *w)
      c.report(d,
               "CGI programs run from " + path +
                   ", which the run user can write: a "
                   "compromised worker plants programs that then run",
               std::nullopt, "make the directory writable by root only");
  };
  for (int d : c.m.all("options")) {
    if (!options_have(c.dir(d), {"ExecCGI", "All"})) continue;
    const int sec = util::enclosing(c.m, d, {"directory"});
    if (sec < 0 || c.dir(sec).args.empty() || util::dynamic_path(c.dir(sec).args[0])) continue;
    check(d, c.m.resolve(c.dir(sec).args[0]));
  }
  for (int d : c.m.all("scriptalias")) {
    const auto& a = c.dir(d).args;
    if (a.size() >= 2 && !util::dynamic_path(a[1])) check(d, c.m.resolve(a[1]));
  }
}

void sec004(Context& c) {
  for (int d : c.m.all("options"))
    if (options_have(c.dir(d), {"Indexes", "All"}))
      c.report(d, "Options Indexes lists directory contents to anyone", std::nullopt,
               "Options -Indexes");
}

void sec005(Context& c) {
  const int t = c.m.main_value("servertokens");
  const std::string v = t >= 0 ? to_lower(c.arg(t, 0)) : "full";
  if (v != "prod" && v != "productonly")
    c.report(t,
             "ServerTokens " + (t >= 0 ? c.arg(t, 0) : std::string("Full (default)")) +
                 " tells every client the server's version and OS",
             std::nullopt, "ServerTokens Prod");
  for (int d : c.m.all("serversignature"))
    if (!iequals(c.arg(d, 0), "off"))
      c.report(d, "ServerSignature " + c.arg(d, 0) + " adds the version to error pages",
               std::nullopt, "ServerSignature Off");
}

void sec006(Context& c) {
  const int t = c.m.main_value("traceenable");
  if (t < 0)
    c.report(-1, "TraceEnable is on by default: TRACE echoes requests (cross-site tracing)",
             std::nullopt, "TraceEnable Off");
  for (int d : c.m.all("traceenable"))
    if (!iequals(c.arg(d, 0), "off"))
      c.report(d, "TraceEnable " + c.arg(d, 0) + ": TRACE echoes requests (cross-site tracing)",
               std::nullopt, "TraceEnable Off");
}

void sec007(Context& c) {
  std::unordered_set<std::string> roots{"/"};
  for (int v = -1; v < static_cast<int>(c.m.vhosts.size()); ++v) {
    const std::string r = util::document_root(c.m, v);
    if (!r.empty()) roots.insert(util::strip_trailing_slash(r));
  }
  for (int d : c.m.all("directory")) {
    const Directive& x = c.dir(d);
    if (x.args.empty() || util::dynamic_path(x.args[0])) continue;
    const std::string p = util::strip_trailing_slash(c.m.resolve(x.args[0]));
    if (!roots.count(p)) continue;
    for (int ch : x.children) {
      const Directive& y = c.dir(ch);
      if (y.lname == "options" && options_have(y, {"FollowSymLinks", "All"}))
        c.report(ch, "FollowSymLinks on " + p + ": a symlink serves any file the run user can read",
                 std::nullopt, "Options SymLinksIfOwnerMatch, or no symlinks");
      if (y.lname == "allowoverride" && !y.args.empty() && iequals(y.args[0], "all"))
        c.report(ch,
                 "AllowOverride All on " + p + ": any .htaccess can change the server's behaviour",
                 std::nullopt, "AllowOverride None (or a short list)");
    }
  }
}

}  // namespace

void add_security_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety, H = Profile::hardening;
  const auto P = Phase::check_config;
  out.push_back({"SEC-001",
                 Severity::error,
                 S,
                 P,
                 "<Directory /> grants access",
                 "Require all denied",
                 {},
                 sec001});
  out.push_back({"SEC-002",
                 Severity::error,
                 S,
                 P,
                 "server-status/info without access restriction",
                 "Require local",
                 {},
                 sec002});
  out.push_back({"SEC-003",
                 Severity::error,
                 S,
                 P,
                 "ExecCGI on a directory the run user can write",
                 "chown root, chmod 755",
                 {},
                 sec003});
  out.push_back(
      {"SEC-004", Severity::info, H, P, "Options Indexes", "Options -Indexes", {}, sec004});
  out.push_back({"SEC-005",
                 Severity::info,
                 H,
                 P,
                 "ServerTokens not Prod; ServerSignature On",
                 "ServerTokens Prod; ServerSignature Off",
                 {},
                 sec005});
  out.push_back({"SEC-006", Severity::info, H, P, "TraceEnable on", "TraceEnable Off", {}, sec006});
  out.push_back({"SEC-007",
                 Severity::info,
                 H,
                 P,
                 "FollowSymLinks or AllowOverride All on / or a DocumentRoot",
                 "Options SymLinksIfOwnerMatch; AllowOverride None",
                 {},
                 sec007});
}

}  // namespace selfheal::cfg
