// Small helpers shared by the rule families in config/rules/.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/engine.h"

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

// The exact test of dynamic_path() on p[from, to).
[[gnu::noinline]] inline bool dynamic_bytes(std::string_view p, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    const char ch = p[i];
    if (ch == '$' || ch == '*' || ch == '?' || ch == '[') return true;
    if (ch == '%' && i + 1 < p.size() && p[i + 1] == '{') return true;
  }
  return false;
}

// Is a path an "expression" we should not check on disk? (%{, $, *, ? or [)
[[gnu::always_inline]] inline bool dynamic_path(std::string_view p) {
  const size_t n = p.size();
  if (n < 8) return dynamic_bytes(p, 0, n);
  // Eight bytes at a time, flagging any byte in '$'..'*' (0x24-0x2a), '?' or '[' (a
  // superset: the flagged chunk is then checked exactly). The last chunk overlaps.
  constexpr uint64_t k01 = 0x0101010101010101ull, k7f = 0x7f7f7f7f7f7f7f7full,
                     k80 = 0x8080808080808080ull;
  for (size_t at = 0;; at += 8) {
    if (at + 8 > n) at = n - 8;
    uint64_t x;
    std::memcpy(&x, p.data() + at, 8);
    const uint64_t y = x & k7f;
    const uint64_t range = (y + 0x5c * k01) & ~(y + 0x55 * k01);  // 0x24 <= byte <= 0x2a
    const uint64_t q = x ^ (0x3f * k01), b = x ^ (0x5b * k01);
    const uint64_t eq = ((q - k01) & ~q) | ((b - k01) & ~b);  // '?' or '['
    if (((range | eq) & ~x & k80) && dynamic_bytes(p, at, at + 8)) return true;
    if (at + 8 == n) return false;
  }
}

// Document root for vhost v (its own or the main server's), resolved; "" if unset.
inline std::string document_root(const Model& m, int v, int* where = nullptr) {
  const int d = m.server_value("documentroot", v);
  if (where) *where = d;
  if (d < 0 || m.dirs[static_cast<size_t>(d)].args.empty()) return {};
  return m.resolve(m.dirs[static_cast<size_t>(d)].args[0]);
}

}  // namespace selfheal::cfg::util

// Shared by the DOC-* and MAP-* rules and the access queries.
namespace selfheal::cfg {

inline bool is_location(const Model& m, int d) {
  const int p = m.dirs[static_cast<size_t>(d)].parent;
  return p >= 0 && (m.dirs[static_cast<size_t>(p)].lname == "location" ||
                    m.dirs[static_cast<size_t>(p)].lname == "locationmatch");
}

// Alias/ScriptAlias target (index 1, or 0 in the one-argument <Location> form).
inline std::string_view alias_target(const Model& m, int d) {
  const auto& a = m.dirs[static_cast<size_t>(d)].args;
  if (a.size() >= 2) return a[1];
  if (a.size() == 1 && is_location(m, d)) return a[0];
  return {};
}

}  // namespace selfheal::cfg
