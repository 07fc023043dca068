// The shared-memory crash table, the quarantine and the status handler: the httpd side.
// Includes httpd headers: module/httpd only.
//
//  - shm_glue.cpp: the segment (created by the parent in post_config, kept in the process
//    pool across restarts), the module's per-server config (the vhost key), the crash and
//    fold callbacks the crash core calls in the signal handler, the crash-loop diagnosis.
//  - quarantine_glue.cpp: the SelfHealQuarantine* / SelfHealCrashLogFold directives and the
//    request-path check (post_read_request).
//  - status_glue.cpp: SetHandler selfheal-status, mod_status' section, the findings store.
// Messages: SELFHEAL0500-0599.
#pragma once

#include <cstdint>
#include <vector>

#include "glue.h"
#include "selfheal/crash.h"
#include "shm/quarantine.h"
#include "shm/table.h"

namespace selfheal::cfg {
struct Finding;
}

namespace selfheal::glue {

// Settings of the directives (server-wide), reset in pre_config. Trivially destructible.
struct ShmSettings {
  QuarantinePolicy policy;           // SelfHealQuarantine, SelfHealQuarantineDuration
  uint32_t key_parts = kKeyDefault;  // SelfHealQuarantineKey
  uint32_t quarantine_slots = 256;   // SelfHealQuarantineSlots
  uint32_t fold_after = 20;          // SelfHealCrashLogFold N T (0: off)
  uint32_t fold_window_s = 60;
};
ShmSettings& shm_settings() noexcept;

// This process's table (the parent's after post_config, inherited by children), or null.
// Inline: the request path's fast check loads it on every request.
namespace detail {
extern ShmTable* g_shm_table;
}
inline ShmTable* shm_table() noexcept {
  return detail::g_shm_table;
}

// The module's per-server config: what the request path needs per server_rec, computed once.
struct ServerConfig {
  const char* vhost_key = nullptr;  // "server_hostname:port" (":port" left out for port 0)
};
void* create_server_config(apr_pool_t* p, server_rec* s) noexcept;
inline const ServerConfig* server_config(const server_rec* s) noexcept {
  return static_cast<const ServerConfig*>(ap_get_module_config(s->module_config, &selfheal_module));
}

// crash_glue.cpp's child_init calls this before crash::install(): sets the crash callback
// (counters, quarantine accounting, crash-loop diagnosis), the cross-process fold limiter and
// the quarantine key parts. NOT async-signal-safe (runs in child_init).
void shm_fill_crash_config(crash::Config& cfg) noexcept;

// The configuration findings of the running configuration for the status page and the
// crash-loop diagnosis (status_glue.cpp). Kept in a sub-pool of the process pool, so they
// survive the module's unload/reload between the first start's two reads of the config.
// config_hooks.cpp calls status_note_findings after each check (reset: the first list of a
// new check; false: add the post_config findings).
struct StoredFinding {
  const char* rule;
  const char* severity;  // "error", "warning", "info"
  const char* file;
  int line;
  const char* vhost;
  const char* message;
};
void status_note_findings(server_rec* s, const std::vector<cfg::Finding>& findings,
                          bool reset) noexcept;
// The stored findings (valid until the next status_note_findings), count in *n.
const StoredFinding* status_findings(server_rec* s, size_t* n) noexcept;

}  // namespace selfheal::glue
