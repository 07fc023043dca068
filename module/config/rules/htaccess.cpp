// HTA-* rules: .htaccess files using directives that no loaded module provides.
#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

// ---- HTA-001 -------------------------------------------------------------------

bool ifmodule_true(const Model& m, std::string arg) {
  bool neg = false;
  if (!arg.empty() && arg[0] == '!') {
    neg = true;
    arg.erase(0, 1);
  }
  bool has = false;
  if (arg.size() > 2 && arg.substr(arg.size() - 2) == ".c")
    has = std::find(m.modules.begin(), m.modules.end(), arg) != m.modules.end();
  else if (arg.size() > 7 && arg.substr(arg.size() - 7) == "_module")
    has = m.has_module(arg.substr(0, arg.size() - 7));
  else
    return true;  // unknown form: assume it applies
  return has != neg;
}

void scan_htaccess(Context& c, const std::string& file, const std::string& text, int v) {
  std::vector<bool> active{true};  // stack: is the current block in effect?
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    const int start = lineno;
    while (!line.empty() && line.back() == '\\' && pos < text.size()) {
      line.pop_back();
      eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      line += " " + text.substr(pos, eol - pos);
      pos = eol + 1;
      ++lineno;
    }
    std::vector<std::string> w = split_args(line);
    if (w.empty() || w[0][0] == '#') continue;
    std::string name = w[0];
    if (name.size() > 1 && name[0] == '<' && name[1] == '/') {
      if (active.size() > 1) active.pop_back();
      continue;
    }
    const bool section = name[0] == '<';
    if (section) {
      name.erase(0, 1);
      if (!name.empty() && name.back() == '>') name.pop_back();
    }
    const std::string lname = to_lower(name);
    if (!active.back()) {
      if (section) active.push_back(false);
      continue;
    }
    if (section && lname == "ifmodule") {
      std::string arg = w.size() > 1 ? w[1] : "";
      if (!arg.empty() && arg.back() == '>') arg.pop_back();
      active.push_back(ifmodule_true(c.m, arg));
      continue;
    }
    if (!c.m.known_directives.count(lname))
      c.report_at(file, start, v,
                  "'" + w[0] + "' is not provided by any loaded module: every request under " +
                      util::parent_dir(file) + " gets 500",
                  std::nullopt, "load the module, wrap the block in <IfModule>, or remove it");
    if (section) active.push_back(true);
  }
}

void hta001(Context& c) {
  const Model& m = c.m;
  if (m.known_directives.empty()) return;
  // Directory sections with an AllowOverride (non-regex paths only).
  struct Grant {
    int vhost;
    bool allowed;
  };
  std::unordered_map<std::string, std::vector<Grant>> grants;  // by directory path
  std::vector<std::pair<std::string, int>> granted;            // AllowOverride not None
  const int ao = m.name_id("allowoverride"), aol = m.name_id("allowoverridelist");
  for (int d : m.all("directory")) {
    const Directive& x = c.dir(d);
    if (ao < 0 && aol < 0) break;  // no AllowOverride anywhere
    int state = -1;
    for (int ch : x.children) {
      const Directive& y = c.dir(ch);
      if (y.section) continue;
      if (y.name_id == ao) state = !y.args.empty() && !iequals(y.args[0], "none");
      if (y.name_id == aol && !(y.args.size() == 1 && iequals(y.args[0], "none"))) state = 1;
    }
    if (state < 0) continue;
    if (x.args.empty() || util::dynamic_path(x.args[0]) || x.args[0] == "~") continue;
    const std::string path = util::strip_trailing_slash(m.resolve(x.args[0]));
    grants[path].push_back({x.vhost, state == 1});
    if (state == 1) granted.emplace_back(path, x.vhost);
  }
  if (granted.empty()) return;  // AllowOverride None everywhere: no .htaccess is read
  // The nearest <Directory> with an AllowOverride decides (vhost's own first).
  auto allowed = [&](std::string path, int v) {
    while (true) {
      auto it = grants.find(path);
      if (it != grants.end()) {
        std::optional<bool> main, own;
        for (const Grant& g : it->second) {
          if (g.vhost == v && v >= 0) own = g.allowed;
          if (g.vhost == -1) main = g.allowed;
        }
        if (own) return *own;
        if (main) return *main;
      }
      if (path == "/" || path.empty()) return false;
      path = util::parent_dir(path);
    }
  };
  std::set<std::string> scanned;
  size_t budget = static_cast<size_t>(c.threshold("max_dirs"));
  std::vector<std::pair<std::string, int>> roots;  // directory, vhost
  for (int v = -1; v < static_cast<int>(m.vhosts.size()); ++v) {
    std::string root = util::document_root(m, v);
    if (!root.empty()) roots.emplace_back(util::strip_trailing_slash(std::move(root)), v);
  }
  for (const auto& g : granted) roots.push_back(g);
  // Is some granted directory `dir` itself or below it? (sorted: a range lookup)
  std::vector<std::string_view> granted_sorted;
  for (const auto& g : granted) granted_sorted.push_back(g.first);
  std::sort(granted_sorted.begin(), granted_sorted.end());
  auto below_grant = [&](const std::string& dir) {
    if (dir == "/") return true;
    if (std::binary_search(granted_sorted.begin(), granted_sorted.end(), std::string_view(dir)))
      return true;
    const std::string prefix = dir + "/";
    auto it =
        std::lower_bound(granted_sorted.begin(), granted_sorted.end(), std::string_view(prefix));
    return it != granted_sorted.end() && it->substr(0, prefix.size()) == prefix;
  };
  for (const auto& [root, v] : roots) {
    if (!allowed(root, v) && !below_grant(root)) continue;
    const int afn = m.server_value("accessfilename", v);
    static const std::string_view kDefault[] = {".htaccess"};
    const std::span<const std::string_view> names =
        afn >= 0 ? c.dir(afn).args : std::span<const std::string_view>(kDefault);
    std::vector<std::pair<std::string, int>> todo{{root, 0}};
    while (!todo.empty() && budget > 0) {
      auto [dir, depth] = todo.back();
      todo.pop_back();
      if (!scanned.insert(dir).second) continue;
      --budget;
      if (allowed(dir, v)) {
        for (std::string_view n : names) {
          const std::string f = (dir == "/" ? std::string() : dir) + "/" + n;
          if (!c.env.stat(f).is_reg) continue;
          if (auto text = c.env.read_file(f)) scan_htaccess(c, f, *text, v);
        }
      }
      if (depth < 3)
        for (const std::string& sub : c.env.list_dir(dir))
          todo.emplace_back(dir + "/" + sub, depth + 1);
    }
  }
}

}  // namespace

void add_htaccess_rules(std::vector<Rule>& out) {
  out.push_back({"HTA-001",
                 Severity::error,
                 Profile::safety,
                 Phase::check_config,
                 ".htaccess uses a directive no loaded module provides",
                 "load the module or remove the directive",
                 {{"max_dirs", 2000, 0, 1000000}},
                 hta001});
}

}  // namespace selfheal::cfg
