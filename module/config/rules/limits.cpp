// MPM-*, RES-* and LIM-* rules: MPM sizing, process resources and protocol limits. Values
// come from the tree (ap_mpm_query would return them already clamped).
#include <cmath>
#include <set>
#include <string_view>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

struct MpmSizing {
  bool threaded = false;
  long server_limit, thread_limit, threads_per_child, max_workers;
  int sl_d = -1, tl_d = -1, tpc_d = -1, mrw_d = -1;
};

MpmSizing sizing(const Model& m) {
  MpmSizing s;
  s.threaded = m.threaded_mpm();
  s.server_limit = util::main_number(m, "serverlimit", s.threaded ? 16 : 256, &s.sl_d);
  s.thread_limit = s.threaded ? util::main_number(m, "threadlimit", 64, &s.tl_d) : 1;
  s.threads_per_child = s.threaded ? util::main_number(m, "threadsperchild", 25, &s.tpc_d) : 1;
  const long dflt = s.threaded ? 16 * 25 : 256;
  s.max_workers = util::main_number(m, "maxrequestworkers", -1, &s.mrw_d);
  if (s.mrw_d < 0) s.max_workers = util::main_number(m, "maxclients", dflt, &s.mrw_d);
  // As httpd clamps them (ThreadsPerChild 0 becomes 1): no division by zero, and products of
  // strtol's LONG_MAX stay far from overflow (found by tests/fuzz/fuzz_config_rules).
  auto clamp = [](long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; };
  s.server_limit = clamp(s.server_limit, 1, 1'000'000);
  s.thread_limit = clamp(s.thread_limit, 1, 1'000'000);
  s.threads_per_child = clamp(s.threads_per_child, 1, 1'000'000);
  s.max_workers = clamp(s.max_workers, -1, 1'000'000'000'000);
  return s;
}

void mpm001(Context& c) {
  if (c.m.effective_mpm().empty()) return;
  const MpmSizing s = sizing(c.m);
  if (s.mrw_d < 0) return;
  const long tpc = std::min(s.threads_per_child, s.thread_limit);
  const long cap = s.server_limit * tpc;
  if (s.max_workers > cap)
    c.report(s.mrw_d,
             "MaxRequestWorkers " + std::to_string(s.max_workers) + " exceeds ServerLimit " +
                 std::to_string(s.server_limit) +
                 (s.threaded ? " x ThreadsPerChild " + std::to_string(tpc) : "") + " = " +
                 std::to_string(cap) + ": httpd silently clamps it (AH00515)",
             std::nullopt,
             "raise ServerLimit to " + std::to_string((s.max_workers + tpc - 1) / tpc) +
                 " or lower MaxRequestWorkers");
}

void mpm002(Context& c) {
  if (!c.m.threaded_mpm()) return;
  const MpmSizing s = sizing(c.m);
  if (s.tpc_d >= 0 && s.threads_per_child > s.thread_limit)
    c.report(s.tpc_d,
             "ThreadsPerChild " + std::to_string(s.threads_per_child) + " exceeds ThreadLimit " +
                 std::to_string(s.thread_limit) + ": it is lowered to " +
                 std::to_string(s.thread_limit),
             std::nullopt, "raise ThreadLimit or lower ThreadsPerChild");
  const long tpc = std::min(s.threads_per_child, s.thread_limit);
  if (s.mrw_d >= 0 && tpc > 0 && s.max_workers % tpc != 0)
    c.report(s.mrw_d,
             "MaxRequestWorkers " + std::to_string(s.max_workers) +
                 " is not a multiple of ThreadsPerChild " + std::to_string(tpc) +
                 ": it is rounded down to " + std::to_string(s.max_workers / tpc * tpc),
             std::nullopt, "use a multiple of ThreadsPerChild");
}

void res001(Context& c) {
  const long limit = c.env.open_file_limit();
  if (limit <= 0) return;
  long base = c.m.open_fds;
  if (base < 0) {                                      // estimate: listeners + distinct log files
    std::vector<char> seen(c.distinct_log_targets());  // ForensicLog is opened elsewhere
    size_t logs = 0;
    for (const Context::LogTarget& lt : c.log_targets())
      if (!lt.forensic && !seen[static_cast<size_t>(lt.id)]) {
        seen[static_cast<size_t>(lt.id)] = 1;
        ++logs;
      }
    std::set<std::pair<std::string_view, int>> ls;
    for (const Listen& l : c.m.listens) ls.insert({l.host, l.port});
    base = static_cast<long>(logs + ls.size());
  }
  const MpmSizing s = sizing(c.m);
  long conns = std::min(s.threads_per_child, s.thread_limit);
  if (c.m.effective_mpm() == "event") {
    const int d = c.m.main_value("asyncrequestworkerfactor");
    const double f = d >= 0 ? std::strtod(std::string(c.arg(d, 0)).c_str(), nullptr) : 2.0;
    conns = static_cast<long>(std::ceil(static_cast<double>(conns) * (1.0 + f)));
  }
  const long need = base + conns * static_cast<long>(c.threshold("fds_per_connection")) +
                    static_cast<long>(c.threshold("reserve"));
  if (need > limit)
    c.report(-1,
             "each child needs about " + std::to_string(need) + " descriptors (" +
                 std::to_string(base) + " listeners/logs + " + std::to_string(conns) +
                 " connections) but the open-file limit is " + std::to_string(limit) +
                 ": accept() and open() fail under load",
             std::nullopt,
             "raise the limit (systemd LimitNOFILE=, APACHE_ULIMIT_MAX_FILES) or share log files");
}

void res002(Context& c) {
  const long long mem = c.env.memory_bytes();
  if (mem <= 0 || c.m.effective_mpm().empty()) return;
  const MpmSizing s = sizing(c.m);
  const long tpc = std::max(1L, std::min(s.threads_per_child, s.thread_limit));
  const long workers = std::min(s.max_workers, s.server_limit * tpc);
  const long procs = (workers + tpc - 1) / tpc;
  const double mb = static_cast<double>(procs) * c.threshold("process_mb") +
                    (s.threaded ? static_cast<double>(workers) * c.threshold("thread_mb") : 0.0);
  const double have = static_cast<double>(mem) / (1024.0 * 1024.0);
  if (mb > have)
    c.report(
        s.mrw_d,
        "MaxRequestWorkers " + std::to_string(workers) + " needs about " +
            std::to_string(static_cast<long>(mb)) + " MB at full load but the machine has " +
            std::to_string(static_cast<long>(have)) + " MB: it swaps or the OOM killer strikes",
        std::nullopt, "lower MaxRequestWorkers (or tune SelfHealRuleThreshold RES-002 process_mb)");
}

double seconds(std::string_view v) {
  const double x = std::strtod(std::string(v).c_str(), nullptr);
  return v.size() > 2 && iequals(v.substr(v.size() - 2), "ms") ? x / 1000.0 : x;
}

void lim001(Context& c) {
  for (int d : c.m.all("timeout")) {
    if (!c.m.server_level(d)) continue;
    const double t = seconds(c.arg(d, 0));
    if (t > c.threshold("max") || t < c.threshold("min"))
      c.report(d,
               "Timeout " + c.arg(d, 0) + " is outside " +
                   std::to_string(static_cast<long>(c.threshold("min"))) + ".." +
                   std::to_string(static_cast<long>(c.threshold("max"))) +
                   " s: slow clients pin workers, or slow backends are cut off",
               std::nullopt, "Timeout 60");
  }
}

void lim002(Context& c) {
  for (int d : c.m.all("keepalivetimeout"))
    if (c.m.server_level(d) && seconds(c.arg(d, 0)) > c.threshold("max"))
      c.report(d,
               "KeepAliveTimeout " + c.arg(d, 0) + " above " +
                   std::to_string(static_cast<long>(c.threshold("max"))) +
                   " s: idle connections hold workers",
               std::nullopt, "KeepAliveTimeout 5");
  for (int d : c.m.all("maxkeepaliverequests"))
    if (c.m.server_level(d) && c.arg(d, 0) == "0")
      c.report(d, "MaxKeepAliveRequests 0 lets one client keep a connection forever", std::nullopt,
               "MaxKeepAliveRequests 100");
}

void lim003(Context& c) {
  if (!c.m.has_module("reqtimeout"))
    c.report(-1, "mod_reqtimeout is not loaded: slow clients can exhaust every worker",
             std::nullopt, "a2enmod reqtimeout");
}

void lim004(Context& c) {
  for (int d : c.m.all("limitrequestfieldsize"))
    if (std::strtol(std::string(c.arg(d, 0)).c_str(), nullptr, 10) < c.threshold("field_size_min"))
      c.report(d,
               "LimitRequestFieldSize " + c.arg(d, 0) +
                   " rejects ordinary large headers (cookies, tokens) with 400",
               std::nullopt, "LimitRequestFieldSize 8190");
  for (int d : c.m.all("limitrequestfields"))
    if (std::strtol(std::string(c.arg(d, 0)).c_str(), nullptr, 10) < c.threshold("fields_min"))
      c.report(d, "LimitRequestFields " + c.arg(d, 0) + " rejects ordinary requests with 400",
               std::nullopt, "LimitRequestFields 100");
}

}  // namespace

void add_limits_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"MPM-001",
                 Severity::warning,
                 S,
                 P,
                 "MaxRequestWorkers above ServerLimit x ThreadsPerChild",
                 "raise ServerLimit",
                 {},
                 mpm001});
  out.push_back({"MPM-002",
                 Severity::warning,
                 S,
                 P,
                 "ThreadsPerChild above ThreadLimit; MaxRequestWorkers not a multiple",
                 "align the MPM numbers",
                 {},
                 mpm002});
  out.push_back({"RES-001",
                 Severity::warning,
                 S,
                 Phase::post_config,
                 "open-file limit below what a child needs",
                 "raise the open-file limit",
                 {{"fds_per_connection", 2, 1, 16}, {"reserve", 32, 0, 100000}},
                 res001});
  out.push_back({"RES-002",
                 Severity::warning,
                 S,
                 P,
                 "MaxRequestWorkers x child memory above RAM",
                 "lower MaxRequestWorkers",
                 {{"process_mb", 25, 1, 1048576}, {"thread_mb", 1, 0, 1048576}},
                 res002});
  out.push_back({"LIM-001",
                 Severity::warning,
                 S,
                 P,
                 "Timeout above 300 s or below 5 s",
                 "Timeout 60",
                 {{"max", 300, 1, 86400}, {"min", 5, 0, 86400}},
                 lim001});
  out.push_back({"LIM-002",
                 Severity::warning,
                 S,
                 P,
                 "KeepAliveTimeout above 15 s or MaxKeepAliveRequests 0",
                 "KeepAliveTimeout 5",
                 {{"max", 15, 0, 86400}},
                 lim002});
  out.push_back({"LIM-003",
                 Severity::warning,
                 Profile::hardening,
                 P,
                 "mod_reqtimeout not loaded",
                 "a2enmod reqtimeout",
                 {},
                 lim003});
  out.push_back({"LIM-004",
                 Severity::warning,
                 S,
                 P,
                 "LimitRequestFieldSize below 8190 or LimitRequestFields below 50",
                 "use the defaults",
                 {{"field_size_min", 8190, 0, 1048576}, {"fields_min", 50, 0, 100000}},
                 lim004});
}

}  // namespace selfheal::cfg
