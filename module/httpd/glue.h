// Shared between the httpd glue files. Includes httpd headers: module/httpd only.
#pragma once

#include <cstdint>

#include "httpd.h"  // first: the other httpd headers need its types
#include "http_config.h"

extern "C" {
extern module AP_MODULE_DECLARE_DATA selfheal_module;
}

namespace selfheal::glue {

// In C++ httpd's cmd_func is `const char* (*)()`, and AP_INIT_* do not cast: use
// AP_INIT_TAKE1("Name", as_cmd(handler), ...).
template <class F>
inline cmd_func as_cmd(F f) noexcept {
  return reinterpret_cast<cmd_func>(f);
}

// Global (main-server) settings of the crash capture. Reset in pre_config, filled by the
// directives of the configuration being read. Trivially destructible on purpose.
struct CrashSettings {
  const char* crash_log = nullptr;  // absolute; default ServerRoot/logs/selfheal_crash.log
  uint64_t max_log_bytes = 64ull << 20;
  bool redact = true;
  bool capture = true;
  // Where the settings were made (for messages).
  const char* crash_log_file = nullptr;
  int crash_log_line = 0;
};
CrashSettings& crash_settings() noexcept;
void reset_crash_settings() noexcept;

// Each part hands its hook functions to mod_selfheal.cpp, whose register_hooks() registers
// every hook of the module in one place, with its position against other modules stated.
struct CrashHooks {  // crash_glue.cpp
  int (*open_logs)(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec*);
  void (*child_init)(apr_pool_t*, server_rec*);
  void (*child_init_last)(apr_pool_t*, server_rec*);
  int (*pre_connection)(conn_rec*, void*);
  int (*process_connection)(conn_rec*);
  void (*suspend_connection)(conn_rec*, request_rec*);
  void (*resume_connection)(conn_rec*, request_rec*);
  int (*post_read_request)(request_rec*);  // always DECLINED
  int (*handler_phase)(request_rec*);      // always DECLINED
  int (*log_phase)(request_rec*);          // always DECLINED
};
const CrashHooks& crash_hooks() noexcept;

struct ShmHooks {  // shm_glue.cpp
  int (*pre_config)(apr_pool_t*, apr_pool_t*, apr_pool_t*);
  int (*post_config)(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec*);
  void (*child_init)(apr_pool_t*, server_rec*);
};
const ShmHooks& shm_hooks() noexcept;

struct QuarantineHooks {                   // quarantine_glue.cpp
  int (*post_read_request)(request_rec*);  // DECLINED or 503
};
const QuarantineHooks& quarantine_hooks() noexcept;

struct StatusHooks {  // status_glue.cpp
  int (*handler)(request_rec*);
  int (*status_hook)(request_rec*, int);  // mod_status' optional hook
};
const StatusHooks& status_hooks() noexcept;

struct ConfigHooks {  // config_hooks.cpp
  int (*pre_config)(apr_pool_t*, apr_pool_t*, apr_pool_t*);
  int (*check_config)(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec*);
  int (*post_config)(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec*);
};
const ConfigHooks& config_hooks() noexcept;

// For a directive of the main server config only (register it RSRC_CONF|ACCESS_CONF so httpd
// hands <Directory>/<Location> uses to us): httpd's context error, plus where it is allowed.
const char* global_only(cmd_parms* cmd) noexcept;

// The module's directive table, {NULL}-terminated (directives.cpp), and the handlers it
// names, each defined beside the settings it fills.
extern const command_rec selfheal_cmds[];
// crash capture (directives.cpp)
const char* set_crash_log(cmd_parms* cmd, void*, const char* arg);
const char* set_max_size(cmd_parms* cmd, void*, const char* arg);
const char* set_redact(cmd_parms* cmd, void*, const char* arg);
const char* set_capture(cmd_parms* cmd, void*, const char* arg);
// configuration checks (config_hooks.cpp)
const char* set_validate(cmd_parms* cmd, void*, const char* arg);
const char* set_profile(cmd_parms* cmd, void*, const char* arg);
const char* add_skip(cmd_parms* cmd, void*, const char* arg) noexcept;
const char* set_threshold(cmd_parms* cmd, void*, const char* rule, const char* name,
                          const char* value) noexcept;
// quarantine and the crash-log fold (quarantine_glue.cpp)
const char* set_quarantine(cmd_parms* cmd, void*, const char* raw);
const char* set_duration(cmd_parms* cmd, void*, const char* raw);
const char* set_key(cmd_parms* cmd, void*, const char* raw);
const char* set_slots(cmd_parms* cmd, void*, const char* arg);
const char* set_fold(cmd_parms* cmd, void*, const char* raw);

}  // namespace selfheal::glue
