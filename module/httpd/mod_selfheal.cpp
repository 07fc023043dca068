// mod_selfheal: the module record, its single directive table and its hook registration.
// Each part (crash capture, config validation, quarantine and status) registers its own
// hooks; this file only joins them.
#include <cstddef>

#include "config_hooks.h"  // the configuration checks
#include "glue.h"
#include "shm_glue.h"  // shared memory, quarantine, status

#include "http_log.h"

namespace selfheal::glue {
namespace {

// Joins the {NULL}-terminated directive tables of the parts. Runs while the module is being
// loaded (a dynamic initializer), before httpd reads the table.
constexpr size_t kMaxCmds = 64;
command_rec g_cmds[kMaxCmds + 1];

bool join_cmds() noexcept {
  const command_rec* parts[] = {crash_cmds(), config_cmds() /* selfheal-config */,
                                quarantine_cmds() /* shm/quarantine/status */};
  size_t n = 0;
  for (const command_rec* part : parts)
    for (; part && part->name; ++part)
      if (n < kMaxCmds) g_cmds[n++] = *part;
  g_cmds[n] = command_rec{};
  return true;
}
const bool g_cmds_joined = join_cmds();

int pre_config(apr_pool_t*, apr_pool_t*, apr_pool_t*) noexcept {
  reset_crash_settings();
  return OK;
}

void register_hooks(apr_pool_t* p) noexcept {
  (void)g_cmds_joined;
  ap_hook_pre_config(pre_config, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
  register_crash_hooks(p);
  register_config_hooks(p);  // the configuration checks
  register_status_hooks(p);  // shared memory, quarantine, status
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
    selfheal::glue::g_cmds,
    selfheal::glue::register_hooks,
    AP_MODULE_FLAG_NONE,
};
}
