// Directive argument parsers (see directive_args.h).
#include "config/directive_args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "config/engine.h"
#include "config/model.h"

namespace selfheal::dargs {
namespace {

// httpd hands C strings: what follows a NUL does not exist for it.
std::string_view c_str_view(std::string_view s) {
  const size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

std::string quoted_msg(std::string_view directive, std::string_view arg, std::string_view rest) {
  std::string m;
  m.reserve(directive.size() + arg.size() + rest.size() + 24);
  m.append(directive).append(": '").append(arg).append("' is not allowed; ").append(rest);
  return m;
}

std::string fmt_g(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string rule_list(bool with_thresholds) {
  std::string s;
  for (const auto& r : selfheal::cfg::all_rules()) {
    if (with_thresholds && r.thresholds.empty()) continue;
    s += s.empty() ? "" : ", ";
    s += r.id;
    if (with_thresholds) {
      s += " (";
      for (size_t i = 0; i < r.thresholds.size(); ++i)
        s += std::string(i ? " " : "") + r.thresholds[i].name;
      s += ")";
    }
  }
  return s;
}

}  // namespace

std::string on_off(std::string_view directive, std::string_view arg, bool* out) {
  arg = c_str_view(arg);
  if (cfg::iequals(arg, "on")) {
    *out = true;
    return {};
  }
  if (cfg::iequals(arg, "off")) {
    *out = false;
    return {};
  }
  return quoted_msg(directive, arg, "use On or Off");
}

std::string crash_log_path(std::string_view directive, std::string_view arg) {
  arg = c_str_view(arg);
  if (arg.empty()) return std::string(directive) + ": needs a file path";
  if (arg.front() == '|')
    return std::string(directive) + ": '" + std::string(arg) +
           "' is a piped log; the crash log must be a file (the crash handler writes it "
           "directly, no process can run in a dying worker)";
  return {};
}

std::string log_size(std::string_view directive, std::string_view arg, uint64_t* bytes) {
  arg = c_str_view(arg);
  if (cfg::iequals(arg, "unlimited")) {
    *bytes = 0;
    return {};
  }
  const std::string bad = quoted_msg(
      directive, arg,
      "use a size from 64K to 1T (a number with an optional K, M or G suffix) or 'unlimited'");
  size_t i = 0;
  uint64_t n = 0;
  while (i < arg.size() && arg[i] >= '0' && arg[i] <= '9') {
    const uint64_t d = static_cast<uint64_t>(arg[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return bad;  // overflow
    n = n * 10 + d;
    ++i;
  }
  if (i == 0) return bad;
  uint64_t mult = 1;
  if (i < arg.size()) {
    switch (arg[i]) {
      case 'k':
      case 'K':
        mult = 1ull << 10;
        break;
      case 'm':
      case 'M':
        mult = 1ull << 20;
        break;
      case 'g':
      case 'G':
        mult = 1ull << 30;
        break;
      default:
        return bad;
    }
    ++i;
    if (i < arg.size() && (arg[i] == 'B' || arg[i] == 'b')) ++i;
    if (i != arg.size()) return bad;
  }
  if (n > kMaxLogBytes / mult) return bad;
  n *= mult;
  if (n < kMinLogBytes || n > kMaxLogBytes) return bad;
  *bytes = n;
  return {};
}

std::string one_of(std::string_view directive, std::string_view arg,
                   std::initializer_list<const char*> allowed, size_t* index) {
  arg = c_str_view(arg);
  std::string list;
  size_t i = 0;
  for (const char* a : allowed) {
    if (cfg::iequals(arg, a)) {
      if (index) *index = i;
      return {};
    }
    list += list.empty() ? "" : ", ";
    list += a;
    ++i;
  }
  return quoted_msg(directive, arg, "use one of: " + list);
}

std::string skip_rule(std::string_view directive, std::string_view arg) {
  arg = c_str_view(arg);
  if (cfg::find_rule(arg)) return {};
  if (arg.size() > 2 && arg.substr(arg.size() - 2) == "-*" &&
      cfg::is_rule_family(arg.substr(0, arg.size() - 2)))
    return {};
  return std::string(directive) + ": unknown rule '" + std::string(arg) + "'; use rule ids (" +
         rule_list(false) + ") or a family such as TLS-*";
}

std::string rule_threshold(std::string_view directive, std::string_view rule, std::string_view name,
                           std::string_view value, double* out) {
  rule = c_str_view(rule);
  name = c_str_view(name);
  value = c_str_view(value);
  const auto* r = cfg::find_rule(rule);
  if (!r || r->thresholds.empty())
    return std::string(directive) + ": '" + std::string(rule) +
           "' is not a rule with thresholds; use one of: " + rule_list(true);
  for (const auto& t : r->thresholds) {
    if (!cfg::iequals(t.name, name)) continue;
    const std::string v(value);
    errno = 0;
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    // std::isfinite: strtod takes "nan" and "inf", which no range check would stop.
    if (errno || end == v.c_str() || *end || !std::isfinite(d) || d < t.min || d > t.max)
      return std::string(directive) + ": " + r->id + " " + t.name + " '" + v +
             "' is not allowed; use a number from " + fmt_g(t.min) + " to " + fmt_g(t.max);
    *out = d;
    return {};
  }
  std::string names;
  for (const auto& t : r->thresholds) names += std::string(names.empty() ? "" : ", ") + t.name;
  return std::string(directive) + ": " + r->id + " has no threshold '" + std::string(name) +
         "'; use one of: " + names;
}

}  // namespace selfheal::dargs
