// MAP-* rules: URL mapping. Alias/ScriptAlias targets, proxy schemes and their provider
// modules, ProxyPass trailing slashes, RewriteRule loops (MAP-004, simulated with PCRE2 as
// mod_rewrite matches), the recursion limit and local ErrorDocuments.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <span>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

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

}  // namespace

void add_mapping_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
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
  out.push_back({"MAP-004",
                 Severity::warning,
                 Profile::safety,
                 Phase::check_config,
                 "RewriteRule that matches its own substitution",
                 "add a RewriteCond or [END]",
                 {},
                 map004});
}

}  // namespace selfheal::cfg
