// Directives of the crash capture. Each rejects a bad argument with a message saying what is
// allowed; httpd adds the file and line.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/directive_args.h"
#include "glue.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "http_config.h"

namespace selfheal::glue {
namespace {

CrashSettings g_crash;

// Hands a directive_args message (empty: accepted) to httpd, which adds the file and line.
const char* to_httpd(cmd_parms* cmd, const std::string& msg) {
  return msg.empty() ? nullptr : apr_pstrdup(cmd->pool, msg.c_str());
}

// "on"/"off" only (AP_INIT_FLAG would also do, but its message does not name the directive).
const char* parse_on_off(cmd_parms* cmd, const char* arg, bool* out) noexcept {
  try {
    return to_httpd(cmd, dargs::on_off(cmd->cmd->name, arg, out));
  } catch (...) {
    return "out of memory";
  }
}

}  // namespace

const char* set_crash_log(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  try {
    if (const char* err = to_httpd(cmd, dargs::crash_log_path(cmd->cmd->name, arg))) return err;
  } catch (...) {
    return "out of memory";
  }
  const char* path = ap_server_root_relative(cmd->pool, arg);
  if (!path) return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
  g_crash.crash_log = path;
  g_crash.crash_log_file = cmd->directive ? cmd->directive->filename : nullptr;
  g_crash.crash_log_line = cmd->directive ? cmd->directive->line_num : 0;
  return nullptr;
}

// SIZE: a number of bytes with an optional K, M or G suffix, 64K..1T; or "unlimited".
const char* set_max_size(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  try {
    uint64_t n = 0;
    if (const char* err = to_httpd(cmd, dargs::log_size(cmd->cmd->name, arg, &n))) return err;
    g_crash.max_log_bytes = n;
    return nullptr;
  } catch (...) {
    return "out of memory";
  }
}

const char* set_redact(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  return parse_on_off(cmd, arg, &g_crash.redact);
}

const char* set_capture(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  return parse_on_off(cmd, arg, &g_crash.capture);
}

const char* global_only(cmd_parms* cmd) noexcept {
  const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
  return err ? apr_pstrcat(cmd->pool, err, "; ", dargs::kMainServerOnly, nullptr) : nullptr;
}

CrashSettings& crash_settings() noexcept {
  return g_crash;
}
void reset_crash_settings() noexcept {
  g_crash = CrashSettings{};
}

// Every directive of the module, in one constant-initialized table (the module record points
// at it). Arguments are parsed by config/directive_args where the parse is httpd-free (fuzzed).
extern const command_rec selfheal_cmds[] = {
    // crash capture
    AP_INIT_TAKE1("SelfHealCrashLog", reinterpret_cast<cmd_func>(set_crash_log), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "the crash log file, relative to ServerRoot (default "
                  "logs/selfheal_crash.log); opened by the parent as root"),
    AP_INIT_TAKE1("SelfHealCrashLogMaxSize", reinterpret_cast<cmd_func>(set_max_size), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "the size at which the crash log stops growing: 64K..1T or unlimited "
                  "(default 64M); dropped records are counted"),
    AP_INIT_TAKE1("SelfHealRedact", reinterpret_cast<cmd_func>(set_redact), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "On (default): never write query strings, Authorization, Proxy-Authorization, "
                  "Cookie or Set-Cookie values to the crash log; Off: write them"),
    AP_INIT_TAKE1("SelfHealCrashCapture", reinterpret_cast<cmd_func>(set_capture), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "On (default): record fatal signals in workers; Off: install no handler"),
    // configuration checks
    AP_INIT_TAKE1("SelfHealValidate", reinterpret_cast<cmd_func>(set_validate), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "warn (default: log findings at start), enforce (refuse to start on an error "
                  "finding) or off (no checks at start/restart; httpd -t still checks)"),
    AP_INIT_TAKE1("SelfHealProfile", reinterpret_cast<cmd_func>(set_profile), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "safety (default) or hardening (adds the CIS-style rules)"),
    AP_INIT_ITERATE("SelfHealSkip", reinterpret_cast<cmd_func>(add_skip), nullptr,
                    RSRC_CONF | ACCESS_CONF,
                    "one or more rule ids (TLS-001) or families (TLS-*) not to report, for the "
                    "server or this virtual host"),
    AP_INIT_TAKE3("SelfHealRuleThreshold", reinterpret_cast<cmd_func>(set_threshold), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "RULE-ID NAME VALUE, e.g. SelfHealRuleThreshold TLS-003 days 14"),
    // quarantine and the crash-log fold
    AP_INIT_RAW_ARGS("SelfHealQuarantine", reinterpret_cast<cmd_func>(set_quarantine), nullptr,
                     RSRC_CONF | ACCESS_CONF,
                     "N T: quarantine a request key after N crashes within T seconds "
                     "(default 3 60); off: never"),
    AP_INIT_RAW_ARGS("SelfHealQuarantineDuration", reinterpret_cast<cmd_func>(set_duration),
                     nullptr, RSRC_CONF | ACCESS_CONF,
                     "D [CAP]: a quarantine lasts D seconds (default 300), doubling on each "
                     "repeat up to CAP (default 86400)"),
    AP_INIT_RAW_ARGS("SelfHealQuarantineKey", reinterpret_cast<cmd_func>(set_key), nullptr,
                     RSRC_CONF | ACCESS_CONF,
                     "the parts of a request that make its quarantine key: method vhost path "
                     "query client (default: method vhost path)"),
    AP_INIT_TAKE1("SelfHealQuarantineSlots", reinterpret_cast<cmd_func>(set_slots), nullptr,
                  RSRC_CONF | ACCESS_CONF,
                  "request keys the shared-memory table tracks (default 256)"),
    AP_INIT_RAW_ARGS("SelfHealCrashLogFold", reinterpret_cast<cmd_func>(set_fold), nullptr,
                     RSRC_CONF | ACCESS_CONF,
                     "N T: at most N crash records per signature per T seconds across all "
                     "children (default 20 60); off: write every record"),
    {nullptr, nullptr, nullptr, 0, RAW_ARGS, nullptr}};  // no braces: clang -Wbraced-scalar-init

}  // namespace selfheal::glue
