// The node exporter textfile that `selfhealctl lint --textfile PATH` leaves for Prometheus
// (Debian's prometheus-node-exporter reads /var/lib/prometheus/node-exporter/*.prom), so a
// routine audit that finds something becomes an alert rather than a report nobody reads.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "config/engine.h"

namespace selfhealctl {

// The metrics of one audit. `findings` is null when the audit could not judge the
// configuration (httpd did not parse it): selfheal_audit_success 0 and no counts, so an
// alert on the counts cannot read an unparsable configuration as a clean one.
std::string audit_textfile(const std::vector<selfheal::cfg::Finding>* findings, std::time_t now);

// Writes `text` to `path` the way the textfile collector needs: a temporary file in the same
// directory, then rename(2), so the collector never reads half a file. Creates the directory
// (0755) when it is missing. On failure returns false and says why in `err`.
bool write_textfile(const std::string& path, const std::string& text, std::string& err);

}  // namespace selfhealctl
