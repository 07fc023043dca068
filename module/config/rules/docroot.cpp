// DOC-* and MAP-* rules (except MAP-004, in rules_rewrite_hta.cpp): document
// roots, aliases, proxy mappings, recursion limit, error documents.
#include <unistd.h>

#include <map>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

bool is_location(const Model& m, int d) {
  const int p = m.dirs[static_cast<size_t>(d)].parent;
  return p >= 0 && (m.dirs[static_cast<size_t>(p)].lname == "location" ||
                    m.dirs[static_cast<size_t>(p)].lname == "locationmatch");
}

// Alias/ScriptAlias target (index 1, or 0 in the one-argument <Location> form).
std::string_view alias_target(const Model& m, int d) {
  const auto& a = m.dirs[static_cast<size_t>(d)].args;
  if (a.size() >= 2) return a[1];
  if (a.size() == 1 && is_location(m, d)) return a[0];
  return {};
}

void doc001(Context& c) {
  std::string buf;
  for (int d : c.m.all("documentroot")) {
    const std::string_view raw = c.arg(d, 0);
    if (raw.empty() || util::dynamic_path(raw)) continue;
    const std::string_view path = c.m.resolved(raw, buf);
    const FileInfo fi = c.env.stat(path);
    if (!fi.exists)
      c.report(d, "DocumentRoot " + path + " does not exist: every request gets 404", std::nullopt,
               "create the directory or fix the path");
    else if (!fi.is_dir)
      c.report(d, "DocumentRoot " + path + " is not a directory", std::nullopt,
               "point DocumentRoot at a directory");
  }
}

void doc002(Context& c) {
  if (c.m.run_uid == 0) return;  // running as root reads everything
  auto check = [&](int d, std::string_view path, const char* what) {
    const FileInfo fi = c.env.stat(path);
    if (!fi.exists) return;
    const int mode = fi.is_dir ? (R_OK | X_OK) : R_OK;
    const std::optional<bool> ok = c.env.user_access(path, mode);
    if (ok && !*ok)
      c.report(d,
               std::string(what) + " " + path + " is not readable by the run user " +
                   (c.m.run_user.empty() ? std::to_string(c.m.run_uid) : c.m.run_user) +
                   ": every request gets 403",
               std::nullopt,
               "give the run user read (and search) permission on the path and its parents");
  };
  std::string buf;
  for (int d : c.m.all("documentroot")) {
    const std::string_view raw = c.arg(d, 0);
    if (!raw.empty() && !util::dynamic_path(raw)) check(d, c.m.resolved(raw, buf), "DocumentRoot");
  }
  for (const char* n : {"alias", "scriptalias"})
    for (int d : c.m.all(n)) {
      const std::string_view t = alias_target(c.m, d);
      if (!t.empty() && !util::dynamic_path(t)) check(d, c.m.resolve(t), "Alias target");
    }
}

void map001(Context& c) {
  for (const char* n : {"alias", "scriptalias"})
    for (int d : c.m.all(n)) {
      const std::string_view t = alias_target(c.m, d);
      if (t.empty() || util::dynamic_path(t)) continue;
      const std::string path = c.m.resolve(t);
      if (!c.env.stat(path).exists)
        c.report(d, c.dir(d).name + " target " + path + " does not exist: requests get 403/404",
                 std::nullopt, "create the target or remove the " + c.dir(d).name);
    }
}

// The backend URL of a proxy directive and the module its scheme needs.
std::string_view proxy_url(const Model& m, int d) {
  const Directive& x = m.dirs[static_cast<size_t>(d)];
  for (size_t i = 0; i < x.args.size(); ++i) {
    const std::string_view a = x.args[i];
    const size_t eq = a.find('='), sep = a.find("://");
    if (util::starts_with_i(a, "unix:")) return a;
    if (sep != std::string_view::npos && (eq == std::string_view::npos || eq > sep)) return a;
  }
  return {};
}

std::string scheme_of(std::string_view url) {
  if (util::starts_with_i(url, "unix:")) {
    const size_t bar = url.find('|');
    if (bar == std::string::npos) return {};
    url = url.substr(bar + 1);
  }
  const size_t sep = url.find("://");
  return sep == std::string::npos ? std::string() : to_lower(url.substr(0, sep));
}

bool rewrite_proxy_flag(const Directive& d) {
  if (d.args.size() < 3) return false;
  std::string f = to_lower(d.args[2]);
  if (f.size() < 2 || f.front() != '[') return false;
  f = f.substr(1, f.size() - 2);
  size_t start = 0;
  while (start <= f.size()) {
    size_t end = f.find(',', start);
    if (end == std::string::npos) end = f.size();
    const std::string tok = f.substr(start, end - start);
    if (tok == "p" || tok == "proxy") return true;
    start = end + 1;
  }
  return false;
}

void map002(Context& c) {
  static const std::map<std::string, std::vector<std::string>> kNeeds = {
      {"http", {"proxy_http"}},
      {"https", {"proxy_http"}},
      {"ws", {"proxy_wstunnel", "proxy_http"}},
      {"wss", {"proxy_wstunnel", "proxy_http"}},
      {"ajp", {"proxy_ajp"}},
      {"fcgi", {"proxy_fcgi"}},
      {"scgi", {"proxy_scgi"}},
      {"uwsgi", {"proxy_uwsgi"}},
      {"balancer", {"proxy_balancer"}},
      {"ftp", {"proxy_ftp"}},
      {"h2", {"proxy_http2"}},
      {"h2c", {"proxy_http2"}}};
  bool ssl_proxy = false;
  for (int d : c.m.all("sslproxyengine")) ssl_proxy = ssl_proxy || iequals(c.arg(d, 0), "on");
  auto check = [&](int d, std::string_view url) {
    const std::string scheme = scheme_of(url);
    auto it = kNeeds.find(scheme);
    if (it == kNeeds.end()) return;
    bool ok = false;
    for (const std::string& mod : it->second) ok = ok || c.m.has_module(mod);
    if (!ok) {
      c.report(d,
               c.dir(d).name + " to " + url + " needs mod_" + it->second.front() +
                   ", which is not loaded: every request gets 500 (AH01144)",
               std::nullopt,
               "a2enmod " + it->second.front() + " (LoadModule " + it->second.front() + "_module)");
    } else if ((scheme == "https" || scheme == "wss") && (!c.m.has_module("ssl") || !ssl_proxy)) {
      c.report(d,
               c.dir(d).name + " to " + url +
                   " needs mod_ssl and SSLProxyEngine on: every request gets 500 (AH00961)",
               std::nullopt, "load mod_ssl and add SSLProxyEngine on");
    }
  };
  for (const char* n : {"proxypass", "proxypassmatch", "balancermember"})
    for (int d : c.m.all(n)) {
      const std::string_view url = proxy_url(c.m, d);
      if (!url.empty()) check(d, url);
    }
  for (int d : c.m.all("rewriterule"))
    if (rewrite_proxy_flag(c.dir(d)) && c.dir(d).args.size() >= 2) check(d, c.dir(d).args[1]);
}

void map003(Context& c) {
  for (int d : c.m.all("proxypass")) {
    const Directive& x = c.dir(d);
    std::string_view path, url;
    if (is_location(c.m, d) && !x.args.empty()) {
      const Directive& loc = c.dir(x.parent);
      if (loc.lname != "location" || loc.args.empty()) continue;
      path = loc.args[0];
      url = x.args[0];
    } else if (x.args.size() >= 2) {
      path = x.args[0];
      url = x.args[1];
    }
    if (path.empty() || url == "!" || url.find("://") == std::string_view::npos ||
        util::starts_with_i(url, "unix:"))
      continue;
    const bool ps = path.back() == '/';
    const bool us = url.back() == '/';
    if (ps != us)
      c.report(d,
               "ProxyPass " + path + " " + url +
                   ": one side ends in '/' and the other does not, so backend paths get a "
                   "doubled or missing slash",
               std::nullopt, "end both the path and the URL with '/', or neither");
  }
}

void map005(Context& c) {
  for (int d : c.m.all("limitinternalrecursion")) {
    const auto& a = c.dir(d).args;
    if ((!a.empty() && a[0] != "10") || (a.size() > 1 && a[1] != "10"))
      c.report(d,
               "LimitInternalRecursion " + c.dir(d).raw_args +
                   " (default 10): it hides a rewrite/ErrorDocument loop instead of stopping it",
               std::nullopt, "fix the loop and remove LimitInternalRecursion");
  }
}

void map006(Context& c) {
  const std::vector<int>& docs = c.m.all("errordocument");
  if (docs.empty()) return;
  // Server-level aliases by vhost (+1; 0 = main server), numbered in the order the
  // longest-prefix search below visits them: every Alias, then every ScriptAlias.
  struct Cand {
    std::string_view prefix, target;
    size_t pos;
  };
  std::vector<std::vector<Cand>> by_vhost(c.m.vhosts.size() + 1);
  size_t pos = 0;
  for (const char* n : {"alias", "scriptalias"})
    for (int al : c.m.all(n)) {
      const Directive& x = c.dir(al);
      ++pos;
      if (x.args.size() < 2 || !c.m.server_level(al)) continue;
      by_vhost[static_cast<size_t>(x.vhost + 1)].push_back({x.args[0], x.args[1], pos});
    }
  for (int d : docs) {
    const auto& a = c.dir(d).args;
    if (a.size() < 2 || a[1].empty() || a[1][0] != '/' || util::dynamic_path(a[1])) continue;
    const std::string_view url = a[1].substr(0, a[1].find('?'));
    const int v = c.dir(d).vhost;
    // Longest Alias prefix of the vhost or the main server wins (the first on a tie).
    const Cand* best = nullptr;
    auto consider = [&](const std::vector<Cand>& list) {
      for (const Cand& k : list) {
        if (k.prefix.empty() || url.substr(0, k.prefix.size()) != k.prefix) continue;
        if (!best || k.prefix.size() > best->prefix.size() ||
            (k.prefix.size() == best->prefix.size() && k.pos < best->pos))
          best = &k;
      }
    };
    consider(by_vhost[0]);
    if (v >= 0) consider(by_vhost[static_cast<size_t>(v + 1)]);
    std::string path;
    if (best) {
      if (util::dynamic_path(best->target)) continue;
      path = c.m.resolve(best->target);
      path += url.substr(best->prefix.size());
    } else {
      const std::string root = util::document_root(c.m, v);
      if (root.empty()) continue;
      path = util::strip_trailing_slash(root);
      path += url;
    }
    if (!c.env.stat(path).exists)
      c.report(d,
               "ErrorDocument " + a[0] + " " + a[1] + " maps to " + path +
                   ", which does not exist: clients get a second error instead",
               std::nullopt, "create the page or fix the path");
  }
}

}  // namespace

Environment::AccessQueries user_access_queries(const Model& m, Arena& store) {
  Environment::AccessQueries q;
  if (m.run_uid == 0) return q;
  std::string buf;
  auto path = [&](std::string_view p) -> std::string_view {
    if (!p.empty() && p.front() == '/') return p;  // the model's own memory
    return store.copy(m.resolve_into(p, buf));
  };
  const std::vector<int>& docs = m.all("documentroot");
  q.reserve(docs.size());
  for (int d : docs) {
    const auto& a = m.dirs[static_cast<size_t>(d)].args;
    if (!a.empty() && !util::dynamic_path(a[0])) q.emplace_back(path(a[0]), R_OK | X_OK);
  }
  for (const char* n : {"alias", "scriptalias"})
    for (int d : m.all(n)) {
      const std::string_view t = alias_target(m, d);
      if (!t.empty() && !util::dynamic_path(t)) {
        const std::string_view p = path(t);
        q.emplace_back(p, R_OK | X_OK);
        q.emplace_back(p, R_OK);
      }
    }
  const int options_id = m.name_id("options");
  for (int d : m.all("directory")) {  // SEC-003: only where CGI may run
    const auto& a = m.dirs[static_cast<size_t>(d)].args;
    if (options_id < 0) break;
    if (a.empty()) continue;
    for (int ch : m.dirs[static_cast<size_t>(d)].children) {
      const Directive& o = m.dirs[static_cast<size_t>(ch)];
      if (o.name_id != options_id || o.section) continue;
      const std::string opts = to_lower(o.raw_args);
      if ((opts.find("execcgi") != std::string::npos || opts.find("all") != std::string::npos) &&
          !util::dynamic_path(a[0]))
        q.emplace_back(path(a[0]), W_OK);
    }
  }
  for (int d : m.all("scriptalias")) {
    const std::string_view t = alias_target(m, d);
    if (!t.empty() && !util::dynamic_path(t)) q.emplace_back(path(t), W_OK);
  }
  const std::string core = m.effective_coredump_dir();
  if (!core.empty()) q.emplace_back(store.copy(core), W_OK | X_OK);
  return q;
}

void add_doc_map_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"DOC-001",
                 Severity::error,
                 S,
                 P,
                 "DocumentRoot missing",
                 "create the directory or fix DocumentRoot",
                 {},
                 doc001});
  out.push_back({"DOC-002",
                 Severity::error,
                 S,
                 P,
                 "DocumentRoot or Alias target not readable by the run user",
                 "chmod/chown so the run user can read it",
                 {},
                 doc002});
  out.push_back({"MAP-001",
                 Severity::warning,
                 S,
                 P,
                 "Alias/ScriptAlias target missing",
                 "create the target or remove the alias",
                 {},
                 map001});
  out.push_back({"MAP-002",
                 Severity::error,
                 S,
                 P,
                 "proxy scheme without its provider module",
                 "load the proxy provider module",
                 {},
                 map002});
  out.push_back({"MAP-003",
                 Severity::warning,
                 S,
                 P,
                 "ProxyPass trailing-slash mismatch",
                 "make the trailing slashes agree",
                 {},
                 map003});
  out.push_back({"MAP-005",
                 Severity::warning,
                 S,
                 P,
                 "LimitInternalRecursion changed",
                 "remove LimitInternalRecursion",
                 {},
                 map005});
  out.push_back({"MAP-006",
                 Severity::info,
                 S,
                 P,
                 "ErrorDocument local file missing",
                 "create the error page",
                 {},
                 map006});
}

}  // namespace selfheal::cfg
