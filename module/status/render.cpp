// Status page, JSON and Prometheus rendering (see status/render.h). Not async-signal-safe.
#include "status/render.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "crash/asfmt.h"
#include "crash/names.h"

namespace selfheal {
namespace {

constexpr int64_t kUs = 1000000;

std::string fmt_u64(uint64_t v) {
  return std::to_string(v);
}

// "4m 12s", "2h 3m", "1d 2h" for a positive duration in µs.
std::string human_duration(int64_t us) {
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

std::string relative(int64_t t_us, int64_t now_us) {
  if (t_us == 0) return "";
  if (t_us <= now_us) return human_duration(now_us - t_us) + " ago";
  return "in " + human_duration(t_us - now_us);
}

int64_t now_of(const StatusInput& in) {
  if (in.snapshot && in.snapshot->taken_us) return in.snapshot->taken_us;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kUs + ts.tv_nsec / 1000;
}

// Prometheus sample values are floats; print integers exactly.
std::string prom_value(uint64_t v) {
  return std::to_string(v);
}

std::string request_text(const std::string& method, const std::string& vhost,
                         const std::string& path) {
  std::string s;
  for (const std::string* p : {&method, &vhost, &path}) {
    if (p->empty()) continue;
    if (!s.empty()) s += ' ';
    s += *p;
  }
  return s;
}

int severity_rank(const std::string& sev) {
  if (sev == "error" || sev == "critical" || sev == "fatal") return 0;
  if (sev == "warning" || sev == "warn") return 1;
  return 2;
}

std::vector<const StatusFinding*> sorted_findings(const StatusInput& in) {
  std::vector<const StatusFinding*> v;
  for (const auto& f : in.findings) v.push_back(&f);
  std::stable_sort(v.begin(), v.end(), [](const StatusFinding* a, const StatusFinding* b) {
    return severity_rank(a->severity) < severity_rank(b->severity);
  });
  return v;
}

size_t active_quarantines(const ShmSnapshot* s) {
  if (!s) return 0;
  return static_cast<size_t>(std::count_if(s->quarantine.begin(), s->quarantine.end(),
                                           [](const QuarantineRow& q) { return q.active; }));
}

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

nlohmann::json json_time(int64_t us) {
  if (us == 0) return nullptr;
  return status_time_utc(us);
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

// ---- helpers -----------------------------------------------------------------------------

std::string status_utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (ok) {  // reject overlongs, surrogates, > U+10FFFF
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
          (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        ok = false;
    }
    if (ok) {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

std::string status_html_escape(std::string_view in) {
  std::string s = status_utf8_sanitize(in);
  std::string o;
  o.reserve(s.size() + 16);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          o += "\xef\xbf\xbd";  // control characters: never raw in the page
        else
          o += ch;
    }
  }
  return o;
}

std::string status_prom_label_escape(std::string_view in) {
  std::string s = status_utf8_sanitize(in);
  std::string o;
  o.reserve(s.size() + 8);
  for (char c : s) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '"')
      o += "\\\"";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

std::string status_signal_name(int signo) {
  const char* name = crash::signal_name_or_null(signo);
  return name ? name : "SIG" + std::to_string(signo);
}

std::string status_time_utc(int64_t time_us) {
  if (time_us == 0) return "";
  char buf[32];
  return std::string(buf, crash::format_iso8601_utc(time_us, buf, /*usec=*/false));
}

std::string status_signature_hex(uint64_t signature) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, signature);
  return buf;
}

// ---- HTML --------------------------------------------------------------------------------

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
