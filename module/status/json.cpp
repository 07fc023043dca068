// The JSON status (?json): stable field names, see README.
#include "status/render.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "status/common.h"

namespace selfheal {

using namespace status_detail;

namespace {

nlohmann::json json_time(int64_t us) {
  if (us == 0) return nullptr;
  return status_time_utc(us);
}

}  // namespace

std::string status_render_json(const StatusInput& in) {
  using nlohmann::json;
  const int64_t now = now_of(in);
  json j;
  j["schema"] = 1;
  j["generated"] = status_time_utc(now);
  j["generated_us"] = now;
  if (!in.server_version.empty()) j["server"] = status_utf8_sanitize(in.server_version);
  const ShmSnapshot* s = in.snapshot;
  j["available"] = s != nullptr;
  json findings = json::array();
  for (const StatusFinding* f : sorted_findings(in))
    findings.push_back({{"rule", status_utf8_sanitize(f->rule)},
                        {"severity", status_utf8_sanitize(f->severity)},
                        {"file", status_utf8_sanitize(f->file)},
                        {"line", f->line},
                        {"vhost", status_utf8_sanitize(f->vhost)},
                        {"message", status_utf8_sanitize(f->message)}});
  if (s) {
    const ShmCounters& c = s->counters;
    json by_signal = json::object();
    for (int i = 0; i <= kShmMaxSignal; ++i)
      if (c.crashes_by_signal[i]) by_signal[status_signal_name(i)] = c.crashes_by_signal[i];
    j["counters"] = {{"crashes_total", c.crashes_total},
                     {"crashes_by_signal", by_signal},
                     {"records_written", c.records_written},
                     {"records_dropped", c.records_dropped},
                     {"records_folded", c.records_folded},
                     {"children_died", c.children_died},
                     {"quarantine_refused", c.quarantine_refused},
                     {"quarantines_started", c.quarantines_started},
                     {"quarantine_active", active_quarantines(s)},
                     {"signature_evictions", c.signature_evictions},
                     {"quarantine_evictions", c.quarantine_evictions},
                     {"generation", c.generation},
                     {"generation_crashes", c.generation_crashes},
                     {"since", json_time(c.created_us)}};
    j["policy"] = {{"enabled", s->policy.enabled},
                   {"threshold", s->policy.threshold},
                   {"window_s", s->policy.window_s},
                   {"duration_s", s->policy.duration_s},
                   {"cap_s", s->policy.cap_s}};
    json sigs = json::array();
    for (const auto& g : s->signatures)
      sigs.push_back({{"signature", status_signature_hex(g.signature)},
                      {"count", g.count},
                      {"signal", status_signal_name(g.signo)},
                      {"signal_number", g.signo},
                      {"first_seen", json_time(g.first_us)},
                      {"first_seen_us", g.first_us},
                      {"last_seen", json_time(g.last_us)},
                      {"last_seen_us", g.last_us},
                      {"top_frame", status_utf8_sanitize(g.top_frame)},
                      {"last_path", status_utf8_sanitize(g.last_path)},
                      {"last_vhost", status_utf8_sanitize(g.last_vhost)}});
    j["signatures"] = std::move(sigs);
    json recent = json::array();
    for (const auto& r : s->recent)
      recent.push_back({{"id", status_utf8_sanitize(r.id)},
                        {"time", json_time(r.time_us)},
                        {"time_us", r.time_us},
                        {"signal", status_signal_name(r.signo)},
                        {"signature", status_signature_hex(r.signature)},
                        {"pid", r.pid},
                        {"method", status_utf8_sanitize(r.method)},
                        {"path", status_utf8_sanitize(r.path)},
                        {"vhost", status_utf8_sanitize(r.vhost)}});
    j["recent_crashes"] = std::move(recent);
    json q = json::array();
    for (const auto& e : s->quarantine) {
      int64_t retry = e.active ? (e.until_us - now + kUs - 1) / kUs : 0;
      q.push_back({{"key", status_utf8_sanitize(e.key)},
                   {"key_hash", status_signature_hex(e.key_hash)},
                   {"active", e.active},
                   {"crashes", e.crashes},
                   {"crashes_in_window", e.crashes_in_window},
                   {"first_crash", json_time(e.first_crash_us)},
                   {"last_crash", json_time(e.last_crash_us)},
                   {"since", json_time(e.since_us)},
                   {"since_us", e.since_us},
                   {"expires", json_time(e.until_us)},
                   {"expires_us", e.until_us},
                   {"retry_after_s", retry},
                   {"strikes", e.strikes},
                   {"refused", e.refused}});
    }
    j["quarantine"] = std::move(q);
  } else {
    j["counters"] = nullptr;
    j["policy"] = nullptr;
    j["signatures"] = json::array();
    j["recent_crashes"] = json::array();
    j["quarantine"] = json::array();
  }
  j["findings"] = std::move(findings);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- Prometheus --------------------------------------------------------------------------

}  // namespace selfheal
