// DOC-* rules: document roots that are missing or unreadable by the run user, and the
// access queries the environment answers for every rule in one pass.
#include <unistd.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

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

void add_docroot_rules(std::vector<Rule>& out) {
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
}

}  // namespace selfheal::cfg
