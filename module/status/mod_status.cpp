// The mod_status sections: the ?auto lines and the HTML fragment of /server-status.
#include "status/render.h"

#include <string>

#include "status/common.h"

namespace selfheal {

using namespace status_detail;

std::string status_render_auto(const StatusInput& in) {
  std::string o;
  const ShmSnapshot* s = in.snapshot;
  o += "SelfHealAvailable: " + std::string(s ? "1" : "0") + "\n";
  size_t errors = 0;
  for (const auto& f : in.findings) errors += severity_rank(f.severity) == 0;
  o += "SelfHealConfigFindings: " + std::to_string(in.findings.size()) + "\n";
  o += "SelfHealConfigErrors: " + std::to_string(errors) + "\n";
  if (!s) return o;
  const ShmCounters& c = s->counters;
  o += "SelfHealCrashes: " + fmt_u64(c.crashes_total) + "\n";
  o += "SelfHealSignatures: " + std::to_string(s->signatures.size()) + "\n";
  o += "SelfHealRecordsWritten: " + fmt_u64(c.records_written) + "\n";
  o += "SelfHealRecordsDropped: " + fmt_u64(c.records_dropped) + "\n";
  o += "SelfHealRecordsFolded: " + fmt_u64(c.records_folded) + "\n";
  o += "SelfHealChildrenCrashed: " + fmt_u64(c.children_died) + "\n";
  o += "SelfHealQuarantineEnabled: " + std::string(s->policy.enabled ? "1" : "0") + "\n";
  o += "SelfHealQuarantineActive: " + std::to_string(active_quarantines(s)) + "\n";
  o += "SelfHealQuarantineRefused: " + fmt_u64(c.quarantine_refused) + "\n";
  return o;
}

std::string status_render_fragment(const StatusInput& in) {
  const int64_t now = now_of(in);
  std::string o = "<hr />\n<h2>SelfHeal</h2>\n";
  const ShmSnapshot* s = in.snapshot;
  if (!s) {
    o += "<p>Shared memory not available: crash counters and quarantine are off.</p>\n";
    return o;
  }
  const ShmCounters& c = s->counters;
  size_t errors = 0;
  for (const auto& f : in.findings) errors += severity_rank(f.severity) == 0;
  o += "<dl><dt>Crashes: " + fmt_u64(c.crashes_total) + " (" +
       std::to_string(s->signatures.size()) + " signatures)</dt>";
  o += "<dt>Quarantined keys: " + std::to_string(active_quarantines(s)) +
       ", requests refused: " + fmt_u64(c.quarantine_refused) + "</dt>";
  o += "<dt>Configuration findings: " + std::to_string(in.findings.size()) + " (" +
       std::to_string(errors) + " errors)</dt></dl>\n";
  if (!s->signatures.empty()) {
    o += "<table border=\"0\"><tr><th>Signature</th><th>Count</th><th>Signal</th>"
         "<th>Last seen</th><th>Last request</th></tr>\n";
    size_t shown = 0;
    for (const auto& g : s->signatures) {
      if (++shown > 5) break;
      o += "<tr><td>" + status_signature_hex(g.signature) + "</td><td>" + fmt_u64(g.count) +
           "</td><td>" + status_signal_name(g.signo) + "</td><td>" + relative(g.last_us, now) +
           "</td><td>" + status_html_escape(request_text("", g.last_vhost, g.last_path)) +
           "</td></tr>\n";
    }
    o += "</table>\n";
  }
  bool header = false;
  for (const auto& q : s->quarantine) {
    if (!q.active) continue;
    if (!header) {
      o += "<table border=\"0\"><tr><th>Quarantined key</th><th>Crashes</th>"
           "<th>Expires</th><th>Refused</th></tr>\n";
      header = true;
    }
    o += "<tr><td>" + status_html_escape(q.key) + "</td><td>" + fmt_u64(q.crashes) + "</td><td>" +
         relative(q.until_us, now) + "</td><td>" + fmt_u64(q.refused) + "</td></tr>\n";
  }
  if (header) o += "</table>\n";
  return o;
}

}  // namespace selfheal
