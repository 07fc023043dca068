// mod_selfheal: the module record and its hook registration (the directive table is in
// directives.cpp). Each part (crash capture, configuration checks, shared table and
// quarantine, status) hands over its hook functions; every hook is registered here, once.

#include "config_hooks.h"  // the configuration checks
#include "glue.h"
#include "shm_glue.h"  // shared memory, quarantine, status

#include "http_connection.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"
#include "mpm_common.h"

namespace selfheal::glue {
namespace {

// Where a phase has more than one part, one function runs the parts in a stated order.

// All pre_config hooks run before httpd reads the configuration, so resetting the settings
// that the directives fill may run last. Really last matters for the configuration checks:
// they start a thread, which must come after the MPM's pre_config (it forks to detach).
int pre_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp) noexcept {
  reset_crash_settings();
  shm_hooks().pre_config(pconf, plog, ptemp);
  return config_hooks().pre_config(pconf, plog, ptemp);
}

// The crash capture first: it asks the shared-memory part for its callbacks itself
// (shm_fill_crash_config), so the handlers are armed before anything else of this child runs.
void child_init(apr_pool_t* pchild, server_rec* s) noexcept {
  crash_hooks().child_init(pchild, s);
  shm_hooks().child_init(pchild, s);
}

// The request is put on the crash handler's slot before the quarantine looks at it, so a
// crash inside the quarantine check is recorded with its request.
int post_read_request(request_rec* r) noexcept {
  crash_hooks().post_read_request(r);
  return quarantine_hooks().post_read_request(r);
}

// Every hook of the module, registered once. Positions against other modules:
//  - REALLY_FIRST on the connection and request path: the request in flight must be known
//    to the crash handler before any other module's code runs on it, and a quarantined
//    request is refused before any module can crash on it again;
//  - child_init REALLY_FIRST arms the handlers before other modules' child_init (which can
//    crash), child_init_last REALLY_LAST re-checks them after every other module could
//    install its own;
//  - configuration checks REALLY_LAST: they read what every other module set up;
//  - the shared table in post_config at MIDDLE, before the checks (which store their findings
//    for the status page); open_logs at MIDDLE, after the core has opened the error log;
//  - the status handler at MIDDLE answers only its own handler name.
void register_hooks(apr_pool_t*) noexcept {
  const CrashHooks& crash = crash_hooks();
  const ShmHooks& shm = shm_hooks();
  const ConfigHooks& config = config_hooks();
  const StatusHooks& status = status_hooks();

  ap_hook_pre_config(pre_config, nullptr, nullptr, APR_HOOK_REALLY_LAST);
  ap_hook_check_config(config.check_config, nullptr, nullptr, APR_HOOK_REALLY_LAST);
  ap_hook_open_logs(crash.open_logs, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_post_config(shm.post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_post_config(config.post_config, nullptr, nullptr, APR_HOOK_REALLY_LAST);

  ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_child_init(crash.child_init_last, nullptr, nullptr, APR_HOOK_REALLY_LAST);

  ap_hook_pre_connection(crash.pre_connection, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_process_connection(crash.process_connection, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_suspend_connection(crash.suspend_connection, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_resume_connection(crash.resume_connection, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_post_read_request(post_read_request, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_handler(crash.handler_phase, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  ap_hook_handler(status.handler, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_log_transaction(crash.log_phase, nullptr, nullptr, APR_HOOK_REALLY_FIRST);

  APR_OPTIONAL_HOOK(ap, status_hook, status.status_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace
}  // namespace selfheal::glue

extern "C" {
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA selfheal_module = {
    // STANDARD20_MODULE_STUFF spelled out with a fixed name: the macro uses __FILE__, which
    // is the absolute source path on the build machine (a different string on every builder,
    // and not the "mod_<name>.c" that mod_info, LogLevel and httpd's own tools expect).
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    -1,
    "mod_selfheal.c",
    nullptr,
    nullptr,
    MODULE_MAGIC_COOKIE,
    nullptr,                               // rewrite args spot
    nullptr,                               // create per-directory config
    nullptr,                               // merge per-directory config
    selfheal::glue::create_server_config,  // per-server config (shm_glue.h)
    nullptr,                               // merge per-server config
    selfheal::glue::selfheal_cmds,         // directives.cpp
    selfheal::glue::register_hooks,
    AP_MODULE_FLAG_NONE,
};
}
