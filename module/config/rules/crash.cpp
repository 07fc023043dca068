// CRASH-* rules: settings that decide whether a crashing worker leaves a core and a record.
#include <unistd.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

void crash001(Context& c) {
  const std::string dir = c.m.effective_coredump_dir();
  if (dir.empty()) return;
  const int d = c.m.main_value("coredumpdirectory");
  if (!c.env.stat(dir).is_dir) {
    c.report(d, "CoreDumpDirectory " + dir + " does not exist: crashing children leave no core");
    return;
  }
  if (c.m.run_uid == 0) return;
  const std::optional<bool> w = c.env.user_access(dir, W_OK | X_OK);
  if (w && !*w)
    c.report(d, "CoreDumpDirectory " + dir +
                    " is not writable by the run user: crashing "
                    "children leave no core");
}

void crash002(Context& c) {
  if (c.m.effective_coredump_dir().empty())
    c.report(-1,
             "CoreDumpDirectory is not set: children that changed user are not dumpable, "
             "so a crash leaves no core",
             std::nullopt, "CoreDumpDirectory /var/cache/apache2/core (writable by the run user)");
}

}  // namespace

void add_crash_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety, H = Profile::hardening;
  const auto P = Phase::check_config;
  out.push_back({"CRASH-001",
                 Severity::info,
                 S,
                 P,
                 "CoreDumpDirectory missing or not writable by the run user",
                 "chown the directory to the run user",
                 {},
                 crash001});
  out.push_back({"CRASH-002",
                 Severity::info,
                 H,
                 P,
                 "CoreDumpDirectory not set",
                 "set CoreDumpDirectory",
                 {},
                 crash002});
}

}  // namespace selfheal::cfg
