// Rule engine: registry, settings, suppression, reporting.
#include "config/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace selfheal::cfg {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "info";
  }
  return "info";
}

std::optional<Severity> parse_severity(std::string_view s) {
  if (iequals(s, "error")) return Severity::error;
  if (iequals(s, "warning") || iequals(s, "warn")) return Severity::warning;
  if (iequals(s, "info")) return Severity::info;
  return std::nullopt;
}

std::string finding_json(const Finding& f) {
  nlohmann::json j = {{"rule", f.rule},   {"severity", severity_name(f.severity)},
                      {"file", f.file},   {"line", f.line},
                      {"vhost", f.vhost}, {"message", f.message},
                      {"hint", f.hint}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string finding_text(const Finding& f) {
  std::string s =
      f.file + ":" + std::to_string(f.line) + ": " + severity_name(f.severity) + " " + f.rule;
  if (!f.vhost.empty()) s += " [" + f.vhost + "]";
  s += " " + f.message;
  if (!f.hint.empty()) s += " (fix: " + f.hint + ")";
  return s;
}

const std::vector<Rule>& all_rules() {
  static const std::vector<Rule>* rules = [] {
    auto* v = new std::vector<Rule>;  // never destroyed: no exit-time destructor
    // One file per family in config/rules/, named by what it checks.
    add_tls_rules(*v);
    add_logging_rules(*v);
    add_network_rules(*v);
    add_docroot_rules(*v);
    add_mapping_rules(*v);
    add_htaccess_rules(*v);
    add_modules_rules(*v);
    add_limits_rules(*v);
    add_syntax_rules(*v);
    add_security_rules(*v);
    add_crash_rules(*v);
    return v;
  }();
  return *rules;
}

const Rule* find_rule(std::string_view id) {
  for (const Rule& r : all_rules())
    if (iequals(r.id, id)) return &r;
  return nullptr;
}

bool is_rule_family(std::string_view prefix) {
  for (const Rule& r : all_rules()) {
    std::string_view id = r.id;
    if (id.size() > prefix.size() && id[prefix.size()] == '-' &&
        iequals(id.substr(0, prefix.size()), prefix))
      return true;
  }
  return false;
}

bool skip_matches(const std::unordered_set<std::string>& skip, std::string_view rule_id) {
  if (skip.empty()) return false;
  if (skip.count(std::string(rule_id))) return true;
  const size_t dash = rule_id.find('-');
  if (dash != std::string_view::npos && skip.count(std::string(rule_id.substr(0, dash)) + "-*"))
    return true;
  return skip.count("*") > 0;
}

Settings settings_from_model(const Model& m) {
  Settings s;
  for (int d : m.all("selfhealprofile")) {
    const Directive& x = m.dirs[static_cast<size_t>(d)];
    if (x.vhost < 0 && !x.args.empty())
      s.profile = iequals(x.args[0], "hardening") ? Profile::hardening : Profile::safety;
  }
  for (int d : m.all("selfhealskip")) {
    const Directive& x = m.dirs[static_cast<size_t>(d)];
    auto& set = x.vhost < 0 ? s.skip : s.vhost_skip[x.vhost];
    for (std::string_view a : x.args) {
      std::string id(a);
      for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      set.insert(id);
    }
  }
  for (int d : m.all("selfhealrulethreshold")) {
    const Directive& x = m.dirs[static_cast<size_t>(d)];
    if (x.vhost >= 0 || x.args.size() != 3) continue;
    const Rule* r = find_rule(x.args[0]);
    if (!r) continue;
    s.thresholds[std::string(r->id) + ":" + to_lower(x.args[1])] =
        std::strtod(std::string(x.args[2]).c_str(), nullptr);
  }
  return s;
}

Context::Context(const Model& model, Environment& e, const Settings& s, const RunOptions& o)
    : m(model), env(e), settings(s), opt(o) {}

double Context::threshold(std::string_view name) const {
  auto it = settings.thresholds.find(std::string(rule->id) + ":" + std::string(name));
  if (it != settings.thresholds.end()) return it->second;
  for (const Threshold& t : rule->thresholds)
    if (name == t.name) return t.value;
  return 0;
}

std::string_view Context::arg(int d, size_t i) const {
  const auto& a = m.dirs[static_cast<size_t>(d)].args;
  return i < a.size() ? a[i] : std::string_view{};
}

bool Context::suppressed(int vhost) const {
  if (skip_matches(settings.skip, rule->id)) return true;
  if (vhost >= 0) {
    auto it = settings.vhost_skip.find(vhost);
    if (it != settings.vhost_skip.end() && skip_matches(it->second, rule->id)) return true;
  }
  return false;
}

void Context::report(int d, std::string message, std::optional<Severity> sev, std::string hint) {
  const int v = d >= 0 ? m.dirs[static_cast<size_t>(d)].vhost : -1;
  report_vhost(v, d, std::move(message), sev, std::move(hint));
}

void Context::report_at(const std::string& file, int line, int v, std::string message,
                        std::optional<Severity> sev, std::string hint) {
  emit(v, -1, &file, line, std::move(message), sev, std::move(hint));
}

void Context::report_vhost(int v, int d, std::string message, std::optional<Severity> sev,
                           std::string hint) {
  emit(v, d, nullptr, 0, std::move(message), sev, std::move(hint));
}

void Context::emit(int v, int d, const std::string* file, int line, std::string message,
                   std::optional<Severity> sev, std::string hint) {
  if (suppressed(v)) return;
  Finding f;
  f.rule = rule->id;
  f.severity = sev.value_or(rule->severity);
  if (file) {
    f.file = *file;
    f.line = line;
  } else if (d >= 0) {
    f.file = m.file_of(d);
    f.line = m.dirs[static_cast<size_t>(d)].line;
  } else if (!m.roots.empty()) {  // server-wide finding without a directive
    f.file = m.file_of(m.roots.front());
    f.line = 1;
  }
  f.vhost = m.vhost_label(v);
  f.message = std::move(message);
  f.hint = hint.empty() ? rule->hint : std::move(hint);
  std::string key =
      f.rule + '\0' + f.file + '\0' + std::to_string(f.line) + '\0' + f.vhost + '\0' + f.message;
  if (!seen.insert(std::move(key)).second) return;
  findings.push_back(std::move(f));
}

const std::vector<Context::LogTarget>& Context::log_targets() {
  if (log_targets_done_) return log_targets_;
  log_targets_done_ = true;
  size_t n = 0;
  const char* const names[] = {"errorlog", "customlog", "transferlog", "globallog", "forensiclog"};
  for (const char* name : names) n += m.all(name).size();
  log_targets_.reserve(n);
  PathMap<int> ids;  // views into the model: borrowed
  ids.reserve(n);
  for (const char* name : names) {
    const bool forensic = name == names[4];
    for (int d : m.all(name)) {
      const std::string_view t = arg(d, 0);
      auto [id, fresh] = ids.try_emplace(t, true);
      if (fresh) *id = static_cast<int>(distinct_log_targets_++);
      log_targets_.push_back({d, t, *id, forensic});
    }
  }
  return log_targets_;
}

size_t Context::distinct_log_targets() {
  log_targets();
  return distinct_log_targets_;
}

std::vector<Finding> run_rules(const Model& m, Environment& env, const RunOptions& opt) {
  Settings s = settings_from_model(m);
  if (opt.profile) s.profile = *opt.profile;
  Context ctx(m, env, s, opt);
  bool prefetched = false;
  const bool timing = std::getenv("SELFHEAL_RULE_TIMING") != nullptr;  // bench/debug aid
  for (const Rule& r : all_rules()) {
    if (r.profile == Profile::hardening && s.profile != Profile::hardening) continue;
    if (r.config_test_only && !opt.config_test) continue;
    if (!opt.config_test && r.phase != opt.phase) continue;
    if (skip_matches(s.skip, r.id)) continue;
    if (!prefetched && (r.phase == Phase::check_config || opt.config_test)) {
      const auto t0 = std::chrono::steady_clock::now();
      Arena store;
      env.prefetch_user_access(user_access_queries(m, store));
      prefetched = true;
      if (timing)
        std::fprintf(
            stderr, "selfheal run-user checks %8.2f ms\n",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    ctx.rule = &r;
    const auto t0 = std::chrono::steady_clock::now();
    r.fn(ctx);
    if (timing)
      std::fprintf(
          stderr, "selfheal rule %-9s %8.2f ms\n", r.id,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<Finding> out = std::move(ctx.findings);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.file != b.file) return a.file < b.file;
    if (a.line != b.line) return a.line < b.line;
    return a.rule < b.rule;
  });
  return out;
}

}  // namespace selfheal::cfg
