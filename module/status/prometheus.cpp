// The Prometheus text exposition (?metrics), checked with promtool by the tests.
#include "status/render.h"

#include <map>
#include <string>
#include <tuple>

#include "status/common.h"

namespace selfheal {

using namespace status_detail;

namespace {

// Prometheus sample values are floats; print integers exactly.
std::string prom_value(uint64_t v) {
  return std::to_string(v);
}

// Prometheus family header.
void prom_family(std::string& o, const char* name, const char* type, const char* help) {
  o += "# HELP ";
  o += name;
  o += ' ';
  o += help;  // constant text without backslashes or newlines
  o += "\n# TYPE ";
  o += name;
  o += ' ';
  o += type;
  o += '\n';
}

void prom_sample(std::string& o, const char* name, uint64_t value) {
  o += name;
  o += ' ';
  o += prom_value(value);
  o += '\n';
}

}  // namespace

std::string status_render_metrics(const StatusInput& in) {
  std::string o;
  o.reserve(4096);
  const ShmSnapshot* s = in.snapshot;

  prom_family(o, "selfheal_up", "gauge",
              "1 when the shared-memory crash table is available, 0 when it is not.");
  prom_sample(o, "selfheal_up", s ? 1 : 0);

  // Findings by (severity, rule).
  prom_family(o, "selfheal_config_findings", "gauge",
              "Configuration findings of the running configuration, by severity and rule.");
  std::map<std::pair<std::string, std::string>, uint64_t> by_rule;
  for (const auto& f : in.findings) ++by_rule[{f.severity, f.rule}];
  for (const auto& [k, n] : by_rule)
    o += "selfheal_config_findings{severity=\"" + status_prom_label_escape(k.first) + "\",rule=\"" +
         status_prom_label_escape(k.second) + "\"} " + prom_value(n) + "\n";

  if (!s) return o;
  const ShmCounters& c = s->counters;

  prom_family(o, "selfheal_crashes_total", "counter",
              "Worker crashes by signal and crash signature (signatures evicted from the "
              "table are no longer listed).");
  for (const auto& g : s->signatures)
    o += "selfheal_crashes_total{signal=\"" + status_signal_name(g.signo) + "\",signature=\"" +
         status_signature_hex(g.signature) + "\"} " + prom_value(g.count) + "\n";

  prom_family(o, "selfheal_crash_signals_total", "counter",
              "Worker crashes recorded by the crash handler, by signal.");
  for (int i = 0; i <= kShmMaxSignal; ++i)
    if (c.crashes_by_signal[i])
      o += "selfheal_crash_signals_total{signal=\"" + status_signal_name(i) + "\"} " +
           prom_value(c.crashes_by_signal[i]) + "\n";

  prom_family(o, "selfheal_crash_records_written_total", "counter",
              "Crash records written to the crash log.");
  prom_sample(o, "selfheal_crash_records_written_total", c.records_written);
  prom_family(o, "selfheal_crash_records_dropped_total", "counter",
              "Crash records not written because the crash log reached its size cap.");
  prom_sample(o, "selfheal_crash_records_dropped_total", c.records_dropped);
  prom_family(o, "selfheal_crash_records_folded_total", "counter",
              "Identical crash records folded by the rate limiter.");
  prom_sample(o, "selfheal_crash_records_folded_total", c.records_folded);
  prom_family(o, "selfheal_children_crashed_total", "counter",
              "Child processes the parent saw die of a signal.");
  prom_sample(o, "selfheal_children_crashed_total", c.children_died);

  prom_family(o, "selfheal_quarantine_enabled", "gauge",
              "1 when quarantine is on (SelfHealQuarantine), else 0.");
  prom_sample(o, "selfheal_quarantine_enabled", s->policy.enabled ? 1 : 0);
  prom_family(o, "selfheal_quarantine_active", "gauge",
              "Request keys quarantined now (answered 503).");
  prom_sample(o, "selfheal_quarantine_active", active_quarantines(s));
  prom_family(o, "selfheal_quarantine_refused_total", "counter",
              "Requests refused with 503 because their key was quarantined.");
  prom_sample(o, "selfheal_quarantine_refused_total", c.quarantine_refused);
  prom_family(o, "selfheal_quarantine_started_total", "counter", "Quarantine periods started.");
  prom_sample(o, "selfheal_quarantine_started_total", c.quarantines_started);
  prom_family(o, "selfheal_quarantine_entries", "gauge",
              "Active quarantine entries by key; the value is the expiry time in seconds "
              "since the epoch.");
  std::map<std::string, int64_t> entries;  // merged by key text: one series per label set
  for (const auto& q : s->quarantine)
    if (q.active) {
      std::string key = status_prom_label_escape(q.key);
      entries[key] = std::max(entries[key], q.until_us);
    }
  for (const auto& [key, until] : entries)
    o += "selfheal_quarantine_entries{key=\"" + key + "\"} " + std::to_string(until / kUs) + "\n";
  return o;
}

// ---- mod_status --------------------------------------------------------------------------

}  // namespace selfheal
