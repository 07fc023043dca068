// Helpers shared by the status renderers (html.cpp, json.cpp, prometheus.cpp, mod_status.cpp).
// Private to module/status.
#pragma once

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "status/render.h"

namespace selfheal::status_detail {

inline constexpr int64_t kUs = 1000000;

inline std::string fmt_u64(uint64_t v) {
  return std::to_string(v);
}

// "4m 12s", "2h 3m", "1d 2h" for a positive duration in µs.
inline std::string human_duration(int64_t us) {
  if (us < 0) us = -us;
  int64_t s = us / kUs;
  char buf[48];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%" PRId64 "s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%" PRId64 "m %" PRId64 "s", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%" PRId64 "h %" PRId64 "m", s / 3600, (s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%" PRId64 "d %" PRId64 "h", s / 86400, (s % 86400) / 3600);
  return buf;
}

inline std::string relative(int64_t t_us, int64_t now_us) {
  if (t_us == 0) return "";
  if (t_us <= now_us) return human_duration(now_us - t_us) + " ago";
  return "in " + human_duration(t_us - now_us);
}

inline int64_t now_of(const StatusInput& in) {
  if (in.snapshot && in.snapshot->taken_us) return in.snapshot->taken_us;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kUs + ts.tv_nsec / 1000;
}

inline int severity_rank(const std::string& sev) {
  if (sev == "error" || sev == "critical" || sev == "fatal") return 0;
  if (sev == "warning" || sev == "warn") return 1;
  return 2;
}

inline std::vector<const StatusFinding*> sorted_findings(const StatusInput& in) {
  std::vector<const StatusFinding*> v;
  for (const auto& f : in.findings) v.push_back(&f);
  std::stable_sort(v.begin(), v.end(), [](const StatusFinding* a, const StatusFinding* b) {
    return severity_rank(a->severity) < severity_rank(b->severity);
  });
  return v;
}

inline size_t active_quarantines(const ShmSnapshot* s) {
  if (!s) return 0;
  return static_cast<size_t>(std::count_if(s->quarantine.begin(), s->quarantine.end(),
                                           [](const QuarantineRow& q) { return q.active; }));
}

// "METHOD vhost path", empty parts left out (as the quarantine key reads).
inline std::string request_text(const std::string& method, const std::string& vhost,
                                const std::string& path) {
  std::string s;
  for (const std::string* p : {&method, &vhost, &path}) {
    if (p->empty()) continue;
    if (!s.empty()) s += ' ';
    s += *p;
  }
  return s;
}

}  // namespace selfheal::status_detail
