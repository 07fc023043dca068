// Config validation glue (issue 3): directives and hooks that run the httpd-free
// rule engine (module/core/rule_engine.h) on the parsed configuration.
// Includes httpd headers: module/httpd only.
#pragma once

#include "httpd.h"  // first: the other httpd headers need its types
#include "http_config.h"

namespace selfheal::cfg {
class Model;
}

// The validation directives, {NULL}-terminated: SelfHealValidate, SelfHealProfile,
// SelfHealSkip, SelfHealRuleThreshold. Constant-initialized (no dynamic initializer),
// so it may be copied by another translation unit's initializer.
extern const command_rec selfheal_config_cmds[];

// Registers check_config (APR_HOOK_REALLY_LAST) and post_config (APR_HOOK_REALLY_LAST).
void selfheal_config_register_hooks(apr_pool_t* p);

namespace selfheal::glue {

// Same as above, in the style of crash_cmds()/register_crash_hooks() (glue.h).
const command_rec* config_cmds() noexcept;
inline void register_config_hooks(apr_pool_t* p) noexcept { selfheal_config_register_hooks(p); }

// config_walk.cpp: fills `m` from ap_conftree, ap_loaded_modules, the MPM, the run
// User/Group (unixd), ServerRoot, PidFile, CoreDumpDirectory and every loaded module's
// directive names, then finalizes it. Throws only std::bad_alloc.
void build_config_model(selfheal::cfg::Model& m, apr_pool_t* p);

}  // namespace selfheal::glue
