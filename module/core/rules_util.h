// Small helpers shared by the rules_*.cpp files (internal to module/core).
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/rule_engine.h"

namespace selfheal::cfg {

// The model hands out std::string_view (directive arguments, names); std::string has
// no operator+ for it before C++26. Found by ordinary lookup from the rules, which
// live in this namespace: lets messages read "DocumentRoot " + path + ...
inline std::string operator+(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + b.size());
  s.append(a);
  s.append(b);
  return s;
}

}  // namespace selfheal::cfg

namespace selfheal::cfg::util {

inline bool starts_with_i(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

inline std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

inline std::string strip_trailing_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Is directive d inside a section named one of `names` (any ancestor)?
inline int enclosing(const Model& m, int d, std::initializer_list<std::string_view> names) {
  for (int p = m.dirs[static_cast<size_t>(d)].parent; p >= 0;
       p = m.dirs[static_cast<size_t>(p)].parent) {
    for (std::string_view n : names)
      if (m.dirs[static_cast<size_t>(p)].lname == n) return p;
  }
  return -1;
}

// Server-level directives `lname` of vhost v only (not the main server's).
inline std::vector<int> own_server_level(const Model& m, std::string_view lname, int v) {
  return m.own_server_level(lname, v);
}

// Value of a numeric server-level directive for the main server (or default).
inline long main_number(const Model& m, std::string_view lname, long dflt, int* where = nullptr) {
  const int d = m.main_value(lname);
  if (where) *where = d;
  if (d < 0 || m.dirs[static_cast<size_t>(d)].args.empty()) return dflt;
  return std::strtol(std::string(m.dirs[static_cast<size_t>(d)].args[0]).c_str(), nullptr, 10);
}

// Is a path an "expression" we should not check on disk? (%{, $, *, ? or [; one pass)
inline bool dynamic_path(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    const char ch = p[i];
    if (ch > '?' && ch != '[') continue;  // fast path: letters, '/', digits are not special
    if (ch == '$' || ch == '*' || ch == '?' || ch == '[') return true;
    if (ch == '%' && i + 1 < p.size() && p[i + 1] == '{') return true;
  }
  return false;
}

// Document root for vhost v (its own or the main server's), resolved; "" if unset.
inline std::string document_root(const Model& m, int v, int* where = nullptr) {
  const int d = m.server_value("documentroot", v);
  if (where) *where = d;
  if (d < 0 || m.dirs[static_cast<size_t>(d)].args.empty()) return {};
  return m.resolve(m.dirs[static_cast<size_t>(d)].args[0]);
}

}  // namespace selfheal::cfg::util
