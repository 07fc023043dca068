// Rendering of the status handler (SetHandler selfheal-status) and of mod_status' section.
//
// Input: a snapshot of the shared-memory table (shm_snapshot), the configuration findings of
// the running config and a little context. Output: strings the glue writes with ap_rputs.
// Every string from the table or the findings is treated as hostile: escaped for HTML, for
// Prometheus label values and JSON, invalid UTF-8 replaced by U+FFFD.
//
// None of these functions is async-signal-safe (they allocate); all are noexcept-safe to call
// from a request handler (they throw only std::bad_alloc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shm/table.h"

namespace selfheal {

// A configuration finding as the status page shows it (the glue converts the rule engine's
// richer Finding into this).
struct StatusFinding {
  std::string rule;      // e.g. "SH0012"
  std::string severity;  // "error", "warning", "info"
  std::string file;
  int line = 0;
  std::string vhost;  // may be empty
  std::string message;
};

struct StatusInput {
  const ShmSnapshot* snapshot = nullptr;  // null: no shared memory (shown as such)
  std::vector<StatusFinding> findings;
  std::string server_version;  // e.g. "Apache/2.4.71 (Debian) mod_selfheal/0.1.0"; optional
  std::string lift_action;     // non-empty: the HTML page shows POST forms to this URL with a
                               // field "lift" = key hash in 16 hex digits, or "all"
};

inline constexpr const char* kStatusHtmlType = "text/html; charset=utf-8";
inline constexpr const char* kStatusJsonType = "application/json";
inline constexpr const char* kStatusMetricsType = "text/plain; version=0.0.4; charset=utf-8";

// The full page (?), self-contained (inline CSS, no scripts).
std::string status_render_html(const StatusInput& in);
// ?json: {"schema":1,"available","generated","counters","policy","signatures",
// "recent_crashes","quarantine","findings"}; always valid JSON, one line.
std::string status_render_json(const StatusInput& in);
// ?metrics: Prometheus text exposition format 0.0.4 (passes promtool check metrics).
std::string status_render_metrics(const StatusInput& in);
// mod_status ?auto: "SelfHealKey: value" lines.
std::string status_render_auto(const StatusInput& in);
// mod_status HTML: a section for /server-status (an <h2> and two small tables).
std::string status_render_fragment(const StatusInput& in);

// Helpers, exposed for tests and the glue.
std::string status_utf8_sanitize(std::string_view s);      // invalid sequences -> U+FFFD
std::string status_html_escape(std::string_view s);        // & < > " ' and control chars
std::string status_prom_label_escape(std::string_view s);  // \ " newline, after sanitizing
std::string status_signal_name(int signo);                 // "SIGSEGV", or "SIG<n>"
std::string status_time_utc(int64_t time_us);              // "2026-11-24T07:01:02Z"; "" for 0
std::string status_signature_hex(uint64_t signature);      // 16 lowercase hex digits

}  // namespace selfheal
