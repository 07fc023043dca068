// The HTML status page (SetHandler selfheal-status).
#include "status/render.h"

#include <string>

#include "status/common.h"

namespace selfheal {

using namespace status_detail;

namespace {

const char* kCss =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}"
    ".sub{color:#555}.banner{padding:.6em 1em;margin:1em 0;border-radius:4px;font-weight:600}"
    ".bad{background:#fde2e1;border:1px solid #e0493e}.ok{background:#e4f5e6;border:1px solid "
    "#3c9d4a}table{border-collapse:collapse;width:100%;margin:.3em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{font:13px ui-monospace,monospace;word-break:break-all}.sev-error{color:#b00020;"
    "font-weight:600}.sev-warning{color:#8a5a00;font-weight:600}.active{color:#b00020;"
    "font-weight:700}.muted{color:#777}form{display:inline;margin:0}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{color:#555}"
    "dd{margin:0;font-variant-numeric:tabular-nums}";

void html_quarantine(std::string& o, const StatusInput& in, int64_t now) {
  const ShmSnapshot& s = *in.snapshot;
  const QuarantinePolicy& p = s.policy;
  o += "<h2 id=\"quarantine\">Quarantine</h2>\n<p class=\"sub\">";
  if (p.enabled)
    o += "On: " + std::to_string(p.threshold) + " crashes within " + std::to_string(p.window_s) +
         " s quarantine a request key for " + std::to_string(p.duration_s) +
         " s, doubling on each repeat up to " + std::to_string(p.cap_s) + " s.";
  else
    o += "Off (<code>SelfHealQuarantine off</code>): crashes are counted, nothing is refused.";
  o += " Requests refused: " + fmt_u64(s.counters.quarantine_refused) + ".</p>\n";
  if (s.quarantine.empty()) {
    o += "<p class=\"muted\">No request key has crashed a worker.</p>\n";
    return;
  }
  o += "<table><tr><th>Key</th><th>State</th><th>Crashes</th><th>In window</th>"
       "<th>Last crash</th><th>Since</th><th>Expires</th><th>Strikes</th><th>Refused</th>";
  if (!in.lift_action.empty()) o += "<th></th>";
  o += "</tr>\n";
  for (const auto& q : s.quarantine) {
    o += "<tr><td><code>" + status_html_escape(q.key.empty() ? "(no key text)" : q.key) +
         "</code></td>";
    if (q.active)
      o += "<td class=\"active\">QUARANTINED</td>";
    else if (q.until_us > 0)
      o += "<td>expired</td>";
    else
      o += "<td class=\"muted\">watching</td>";
    o += "<td class=\"n\">" + fmt_u64(q.crashes) + "</td><td class=\"n\">" +
         std::to_string(q.crashes_in_window) + "</td>";
    o += "<td>" + status_time_utc(q.last_crash_us) + " <span class=\"muted\">" +
         relative(q.last_crash_us, now) + "</span></td>";
    o += "<td>" + status_time_utc(q.since_us) + "</td>";
    o += "<td>" + status_time_utc(q.until_us) + " <span class=\"muted\">" +
         relative(q.until_us, now) + "</span></td>";
    o += "<td class=\"n\">" + std::to_string(q.strikes) + "</td><td class=\"n\">" +
         fmt_u64(q.refused) + "</td>";
    if (!in.lift_action.empty()) {
      o += "<td>";
      if (q.active)
        o += "<form method=\"post\" action=\"" + status_html_escape(in.lift_action) +
             "\"><input type=\"hidden\" name=\"lift\" value=\"" + status_signature_hex(q.key_hash) +
             "\"><button>Lift</button></form>";
      o += "</td>";
    }
    o += "</tr>\n";
  }
  o += "</table>\n";
  if (!in.lift_action.empty() && active_quarantines(&s) > 0)
    o += "<form method=\"post\" action=\"" + status_html_escape(in.lift_action) +
         "\"><input type=\"hidden\" name=\"lift\" value=\"all\"><button>Lift all "
         "quarantines</button></form>\n";
}

void html_signatures(std::string& o, const ShmSnapshot& s, int64_t now) {
  o += "<h2 id=\"signatures\">Crashes by signature</h2>\n";
  if (s.signatures.empty()) {
    o += "<p class=\"muted\">No crash recorded.</p>\n";
    return;
  }
  o += "<table><tr><th>Signature</th><th>Count</th><th>Signal</th><th>First seen</th>"
       "<th>Last seen</th><th>Top frame</th><th>Last request</th></tr>\n";
  for (const auto& g : s.signatures) {
    o += "<tr><td><code>" + status_signature_hex(g.signature) + "</code></td><td class=\"n\">" +
         fmt_u64(g.count) + "</td><td>" + status_signal_name(g.signo) + "</td><td>" +
         status_time_utc(g.first_us) + "</td><td>" + status_time_utc(g.last_us) +
         " <span class=\"muted\">" + relative(g.last_us, now) + "</span></td><td><code>" +
         status_html_escape(g.top_frame) + "</code></td><td><code>" +
         status_html_escape(request_text("", g.last_vhost, g.last_path)) + "</code></td></tr>\n";
  }
  o += "</table>\n";
}

void html_recent(std::string& o, const ShmSnapshot& s, int64_t now) {
  o += "<h2 id=\"recent\">Last crashes</h2>\n";
  if (s.recent.empty()) {
    o += "<p class=\"muted\">None.</p>\n";
    return;
  }
  o += "<table><tr><th>Time</th><th>Record id</th><th>Signal</th><th>Signature</th>"
       "<th>Request</th><th>PID</th></tr>\n";
  for (const auto& r : s.recent) {
    std::string req = request_text(r.method, r.vhost, r.path);
    o += "<tr><td>" + status_time_utc(r.time_us) + " <span class=\"muted\">" +
         relative(r.time_us, now) + "</span></td><td><code>" + status_html_escape(r.id) +
         "</code></td><td>" + status_signal_name(r.signo) + "</td><td><code>" +
         status_signature_hex(r.signature) + "</code></td><td><code>" +
         (req.empty() ? std::string("<span class=\"muted\">(no request)</span>")
                      : status_html_escape(req)) +
         "</code></td><td class=\"n\">" + std::to_string(r.pid) + "</td></tr>\n";
  }
  o += "</table>\n";
}

void html_findings(std::string& o, const StatusInput& in) {
  o += "<h2 id=\"findings\">Configuration findings</h2>\n";
  if (in.findings.empty()) {
    o += "<p class=\"muted\">None.</p>\n";
    return;
  }
  o += "<table><tr><th>Severity</th><th>Rule</th><th>Where</th><th>Virtual host</th>"
       "<th>Finding</th></tr>\n";
  for (const StatusFinding* f : sorted_findings(in)) {
    std::string where = f->file;
    if (f->line > 0) where += ":" + std::to_string(f->line);
    std::string sev = status_html_escape(f->severity);
    o += "<tr><td class=\"sev-" + sev + "\">" + sev + "</td><td><code>" +
         status_html_escape(f->rule) + "</code></td><td><code>" + status_html_escape(where) +
         "</code></td><td>" + status_html_escape(f->vhost) + "</td><td>" +
         status_html_escape(f->message) + "</td></tr>\n";
  }
  o += "</table>\n";
}

}  // namespace

std::string status_render_html(const StatusInput& in) {
  const int64_t now = now_of(in);
  std::string o;
  o.reserve(16384);
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width\">"
       "<meta name=\"robots\" content=\"noindex\"><title>mod_selfheal status</title><style>";
  o += kCss;
  o += "</style></head><body>\n<h1>mod_selfheal status</h1>\n<p class=\"sub\">";
  if (!in.server_version.empty()) o += status_html_escape(in.server_version) + " &middot; ";
  o += "generated " + status_time_utc(now) +
       " &middot; <a href=\"?json\">JSON</a> &middot; <a href=\"?metrics\">metrics</a></p>\n";

  const ShmSnapshot* s = in.snapshot;
  if (!s) {
    o += "<div class=\"banner bad\">Shared memory is not available: crash counters and "
         "quarantine are off. See the error log (SELFHEAL messages).</div>\n";
  } else {
    size_t active = active_quarantines(s);
    if (active > 0)
      o += "<div class=\"banner bad\">" + std::to_string(active) +
           " request key(s) quarantined: matching requests get 503. See <a "
           "href=\"#quarantine\">Quarantine</a>.</div>\n";
    else if (s->counters.crashes_total > 0)
      o += "<div class=\"banner bad\">" + fmt_u64(s->counters.crashes_total) +
           " worker crash(es) recorded, no quarantine active.</div>\n";
    else
      o += "<div class=\"banner ok\">No worker crash recorded.</div>\n";
    const ShmCounters& c = s->counters;
    o += "<dl><dt>Crashes</dt><dd>" + fmt_u64(c.crashes_total) + "</dd>";
    o += "<dt>Distinct signatures</dt><dd>" + std::to_string(s->signatures.size()) + "</dd>";
    o += "<dt>Crash records written / dropped (log full) / folded</dt><dd>" +
         fmt_u64(c.records_written) + " / " + fmt_u64(c.records_dropped) + " / " +
         fmt_u64(c.records_folded) + "</dd>";
    o += "<dt>Children that died of a signal</dt><dd>" + fmt_u64(c.children_died) + "</dd>";
    o += "<dt>Quarantined keys / requests refused</dt><dd>" + std::to_string(active) + " / " +
         fmt_u64(c.quarantine_refused) + "</dd>";
    o += "<dt>Counting since</dt><dd>" + status_time_utc(c.created_us) + "</dd></dl>\n";
    html_quarantine(o, in, now);
    html_signatures(o, *s, now);
    html_recent(o, *s, now);
  }
  html_findings(o, in);
  o += "<p class=\"sub\">Details of a crash: <code>selfhealctl show ID</code>; groups: "
       "<code>selfhealctl crashes</code>.</p>\n</body></html>\n";
  return o;
}

// ---- JSON --------------------------------------------------------------------------------

}  // namespace selfheal
