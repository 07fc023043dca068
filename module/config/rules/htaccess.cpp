// MAP-004 (RewriteRule loops, simulated with PCRE2 as mod_rewrite matches) and HTA-001
// (.htaccess files using directives no loaded module provides).
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

std::vector<std::string> rewrite_flags(const Directive& d) {
  std::vector<std::string> out;
  if (d.args.size() < 3) return out;
  std::string f(d.args[2]);
  if (f.size() < 2 || f.front() != '[' || f.back() != ']') return out;
  f = f.substr(1, f.size() - 2);
  size_t start = 0;
  while (start <= f.size()) {
    size_t end = f.find(',', start);
    if (end == std::string::npos) end = f.size();
    std::string tok = to_lower(f.substr(start, end - start));
    if (const size_t eq = tok.find('='); eq != std::string::npos) tok.resize(eq);
    out.push_back(tok);
    start = end + 1;
  }
  return out;
}

// The simulation's bounds. A pattern is configuration text; so is a substitution that
// repeats $1 sixteen times. Neither may hang or exhaust `apache2 -t`: a match that needs more
// than kMatchLimit backtracking steps, or a rewritten URL longer than kMaxUrl bytes, ends
// the simulation for that rule without a finding (we cannot tell, so we do not guess).
constexpr uint32_t kMatchLimit = 100'000;
constexpr uint32_t kDepthLimit = 5'000;
constexpr uint32_t kHeapLimitKiB = 4'096;
constexpr size_t kMaxUrl = 8'192;

// A pattern compiled the way mod_rewrite compiles it: ap_regcomp's default options
// (RegexDefaultOptions DOTALL DOLLAR_ENDONLY, duplicate names allowed), plus caseless for [NC].
class Pattern {
 public:
  Pattern(std::string_view pattern, bool nocase) {
    int err = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_DUPNAMES;
    if (nocase) opts |= PCRE2_CASELESS;
    code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts,
                              &err, &off, nullptr));
    if (!code_) return;
    data_.reset(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    ctx_.reset(pcre2_match_context_create(nullptr));
    if (!data_ || !ctx_) {
      code_.reset();
      return;
    }
    pcre2_set_match_limit(ctx_.get(), kMatchLimit);
    pcre2_set_depth_limit(ctx_.get(), kDepthLimit);
    pcre2_set_heap_limit(ctx_.get(), kHeapLimitKiB);
  }
  bool ok() const { return code_ != nullptr; }

  enum class Result { match, no_match, unknown };
  Result search(const std::string& subject) {
    const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()),
                               subject.size(), 0, 0, data_.get(), ctx_.get());
    if (rc == PCRE2_ERROR_NOMATCH) return Result::no_match;
    if (rc < 0) return Result::unknown;  // match/depth/heap limit, or out of memory
    groups_ = rc;
    return Result::match;
  }
  // Group n of the last match ($n); empty when it did not take part.
  std::string_view group(const std::string& subject, int n) const {
    if (n >= groups_) return {};
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_.get());
    if (ov[2 * n] == PCRE2_UNSET || ov[2 * n + 1] < ov[2 * n]) return {};
    return std::string_view(subject).substr(ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
  }

 private:
  struct FreeCode {
    void operator()(pcre2_code* p) const { pcre2_code_free(p); }
  };
  struct FreeData {
    void operator()(pcre2_match_data* p) const { pcre2_match_data_free(p); }
  };
  struct FreeCtx {
    void operator()(pcre2_match_context* p) const { pcre2_match_context_free(p); }
  };
  std::unique_ptr<pcre2_code, FreeCode> code_;
  std::unique_ptr<pcre2_match_data, FreeData> data_;
  std::unique_ptr<pcre2_match_context, FreeCtx> ctx_;
  int groups_ = 0;
};

// Expands $N back-references; nullopt when the substitution depends on anything we cannot
// know (%{VAR}, ${map:...}, %N of a condition) or the result passes kMaxUrl.
std::optional<std::string> expand(const std::string& subst, const Pattern& re,
                                  const std::string& subject) {
  std::string out;
  for (size_t i = 0; i < subst.size(); ++i) {
    const char ch = subst[i];
    if (ch == '\\' && i + 1 < subst.size()) {
      out += subst[++i];
    } else if ((ch == '$' || ch == '%') && i + 1 < subst.size()) {
      const char nx = subst[i + 1];
      if (nx == '{') return std::nullopt;
      if (nx >= '0' && nx <= '9') {
        if (ch == '%') return std::nullopt;
        out += re.group(subject, nx - '0');
        ++i;
      } else {
        out += ch;
      }
    } else {
      out += ch;
    }
    if (out.size() > kMaxUrl) return std::nullopt;
  }
  return out;
}

void map004(Context& c) {
  for (int d : c.m.all("rewriterule")) {
    const Directive& x = c.dir(d);
    if (x.args.size() < 2) continue;
    if (x.args[0].empty() || x.args[0][0] == '!' || x.args[1] == "-" ||
        x.args[1].find("://") != std::string_view::npos)
      continue;
    const std::vector<std::string> flags = rewrite_flags(x);
    auto has = [&](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (std::find(flags.begin(), flags.end(), n) != flags.end()) return true;
      return false;
    };
    if (has({"end", "r", "redirect", "f", "forbidden", "g", "gone", "p", "proxy"})) continue;
    const bool per_dir = !c.m.server_level(d);
    if (!per_dir && !has({"n", "next"})) continue;  // server context: one pass
    // A preceding RewriteCond guards the rule. (Siblings are in index order.)
    const std::span<const int> sib =
        x.parent >= 0 ? c.dir(x.parent).children : std::span<const int>(c.m.roots);
    const auto pos = std::lower_bound(sib.begin(), sib.end(), d);
    if (pos != sib.begin() && c.dir(*(pos - 1)).lname == "rewritecond") continue;
    const std::string pattern(x.args[0]);
    const std::string subst(x.args[1]);
    Pattern re(pattern, has({"nc", "nocase"}));
    if (!re.ok()) continue;  // mod_rewrite refuses it at start-up with its own error
    bool loops = false;
    for (std::string s : {"foo", "foo/bar.html", "index.html", "a"}) {
      if (!per_dir) s = "/" + s;
      int changed = 0;
      for (int round = 0; round < 4; ++round) {
        if (re.search(s) != Pattern::Result::match) break;
        std::optional<std::string> out = expand(subst, re, s);
        if (!out) break;
        out = out->substr(0, out->find('?'));
        if (per_dir)
          while (!out->empty() && out->front() == '/') out->erase(0, 1);
        if (*out == s) break;  // mod_rewrite stops when nothing changes
        s = std::move(*out);
        ++changed;
      }
      if (changed >= 4) {
        loops = true;
        break;
      }
    }
    if (loops)
      c.report(d,
               "RewriteRule " + pattern + " " + subst +
                   " matches its own result again: the request loops until "
                   "LimitInternalRecursion and gets 500 (AH00124)",
               std::nullopt, "add a RewriteCond that excludes the result, or the [END] flag");
  }
}

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

void add_rewrite_hta_rules(std::vector<Rule>& out) {
  out.push_back({"MAP-004",
                 Severity::warning,
                 Profile::safety,
                 Phase::check_config,
                 "RewriteRule that matches its own substitution",
                 "add a RewriteCond or [END]",
                 {},
                 map004});
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
