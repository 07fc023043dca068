// Config validation: directives and the check_config/post_config hooks.
//
//  - httpd -t (apachectl configtest, and so apachectl graceful / systemctl reload on
//    Debian): every rule runs; findings go to stderr; an error-severity finding fails
//    the test (exit 1).
//  - live first start: SelfHealValidate warn (log) | enforce (refuse to start) | off.
//  - live restart: findings are logged, never fatal (a failed restart kills the server).
//  - post_config (not the first-start dry run): the rules that need open logs/listeners.
// Messages: SELFHEAL0300-0399.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/directive_args.h"
#include "config/engine.h"
#include "config/model.h"
#include "config_hooks.h"
#include "glue.h"
#include "shm_glue.h"  // selfheal-status: status_note_findings

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"

extern "C" {
extern module AP_MODULE_DECLARE_DATA selfheal_module;
}
APLOG_USE_MODULE(selfheal);

namespace selfheal::glue {
namespace {

using selfheal::cfg::Finding;
using selfheal::cfg::Severity;

// ---- directives ------------------------------------------------------------------

// The parsing is in module/config/directive_args (httpd-free, fuzzed); httpd adds file and line.
const char* to_httpd(cmd_parms* cmd, const std::string& msg) {
  return msg.empty() ? nullptr : apr_pstrdup(cmd->pool, msg.c_str());
}

// Where the directive is allowed, after httpd's context message (see directive_args.h).
const char* in_context(cmd_parms* cmd, unsigned forbidden, const char* allowed) {
  const char* err = ap_check_cmd_context(cmd, forbidden);
  return err ? apr_pstrcat(cmd->pool, err, "; ", allowed, nullptr) : nullptr;
}

const char* one_of(cmd_parms* cmd, const char* arg, std::initializer_list<const char*> allowed) {
  try {
    return to_httpd(cmd, selfheal::dargs::one_of(cmd->cmd->name, arg, allowed));
  } catch (...) {
    return "out of memory";
  }
}

}  // namespace

// Directive handlers (the table is in directives.cpp).
const char* set_validate(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  return one_of(cmd, arg, {"warn", "enforce", "off"});
}

const char* set_profile(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  return one_of(cmd, arg, {"safety", "hardening"});
}

const char* add_skip(cmd_parms* cmd, void*, const char* arg) noexcept {
  try {
    if (const char* err =
            in_context(cmd, NOT_IN_DIR_CONTEXT, selfheal::dargs::kServerOrVirtualHost))
      return err;
    return to_httpd(cmd, selfheal::dargs::skip_rule(cmd->cmd->name, arg));
  } catch (...) {
    return "SelfHealSkip: out of memory";
  }
}

const char* set_threshold(cmd_parms* cmd, void*, const char* rule, const char* name,
                          const char* value) noexcept {
  try {
    if (const char* err = global_only(cmd)) return err;
    double v = 0;
    return to_httpd(cmd, selfheal::dargs::rule_threshold(cmd->cmd->name, rule, name, value, &v));
  } catch (...) {
    return "SelfHealRuleThreshold: out of memory";
  }
}

namespace {

// ---- hooks --------------------------------------------------------------------------

int level_of(Severity s) {
  switch (s) {
    case Severity::error:
      return APLOG_ERR;
    case Severity::warning:
      return APLOG_WARNING;
    case Severity::info:
      return APLOG_NOTICE;
  }
  return APLOG_NOTICE;
}

const char* id_of(Severity s) {
  switch (s) {
    case Severity::error:
      return "SELFHEAL0301";
    case Severity::warning:
      return "SELFHEAL0302";
    case Severity::info:
      return "SELFHEAL0303";
  }
  return "SELFHEAL0303";
}

// At startup (-t, first start) APLOG_STARTUP prints the bare line on stderr whatever
// the LogLevel; at a restart the lines go to the error log with their level.
void log_findings(const std::vector<Finding>& fs, server_rec* s, bool startup) {
  for (const Finding& f : fs) {
    const std::string text = selfheal::cfg::finding_text(f);
    ap_log_error(APLOG_MARK, (startup ? APLOG_STARTUP : 0) | level_of(f.severity), 0, s, "%s: %s",
                 id_of(f.severity), text.c_str());
  }
}

size_t count(const std::vector<Finding>& fs, Severity sev) {
  size_t n = 0;
  for (const Finding& f : fs) n += f.severity == sev;
  return n;
}

// selfhealctl lint: SELFHEAL_LINT_OUTPUT names a file that receives one JSON object
// per finding and a final {"selfheal_lint":"done",...} line.
void write_lint_output(const std::vector<Finding>& fs, const char* profile, server_rec* s) {
  const char* path = std::getenv("SELFHEAL_LINT_OUTPUT");
  if (!path || !*path) return;
  std::string out;
  for (const Finding& f : fs) out += selfheal::cfg::finding_json(f) + "\n";
  out += std::string("{\"selfheal_lint\":\"done\",\"profile\":\"") + profile +
         "\",\"rules\":" + std::to_string(selfheal::cfg::all_rules().size()) + "}\n";
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < out.size();) {
    const ssize_t w = ::write(fd, out.data() + off, out.size() - off);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    off += ok ? static_cast<size_t>(w) : 0;
  }
  if (fd >= 0) ::close(fd);
  if (!ok)
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, errno, s,
                 "SELFHEAL0312: cannot write the lint output %s", path);
}

enum class Mode { warn, enforce, off };

Mode validate_mode(const selfheal::cfg::Model& m) {
  const int d = m.main_value("selfhealvalidate");
  if (d < 0 || m.dirs[static_cast<size_t>(d)].args.empty()) return Mode::warn;
  const std::string_view v = m.dirs[static_cast<size_t>(d)].args[0];
  if (selfheal::cfg::iequals(v, "enforce")) return Mode::enforce;
  if (selfheal::cfg::iequals(v, "off")) return Mode::off;
  return Mode::warn;
}

// "-k stop" / "-k graceful-stop" also read the configuration: never stand in their way.
// (The MPM strips -k from process->argv, so read the original command line.)
bool stopping() {
  const int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  bool after_k = false;
  for (const char* a = buf; a < buf + n; a += std::strlen(a) + 1) {
    if (after_k) return !std::strcmp(a, "stop") || !std::strcmp(a, "graceful-stop");
    after_k = !std::strcmp(a, "-k");
  }
  return false;
}

// Does this run of httpd check its configuration? Not -S, -M, -k stop.
bool checks_wanted() {
  const int run_mode = ap_state_query(AP_SQ_RUN_MODE);
  if (run_mode != AP_SQ_RM_NORMAL && run_mode != AP_SQ_RM_CONFIG_TEST) return false;
  return !stopping();
}

int do_check_config(apr_pool_t* pconf, apr_pool_t* ptemp, server_rec* s) {
  if (!checks_wanted()) return OK;
  const int run_mode = ap_state_query(AP_SQ_RUN_MODE);
  const bool test = run_mode == AP_SQ_RM_CONFIG_TEST;
  const bool first_start = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
  // The first start reads the configuration twice (generation 0, then 1); the second
  // read is the same files, already checked, with stderr already detached.
  if (!test && !first_start && ap_state_query(AP_SQ_CONFIG_GEN) <= 1) return OK;

  const auto t0 = std::chrono::steady_clock::now();
  const selfheal::cfg::Model& m = config_model(pconf, ptemp);
  if (std::getenv("SELFHEAL_RULE_TIMING"))  // the wait for the pre_config thread, mostly
    std::fprintf(
        stderr, "selfheal model (%zu directives) ready after %8.2f ms\n", m.dirs.size(),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  const Mode mode = validate_mode(m);
  if (!test && mode == Mode::off) {
    status_note_findings(s, {}, true);  // selfheal-status: none for the running config
    return OK;
  }

  selfheal::cfg::RunOptions opt;
  opt.config_test = test;
  opt.phase = selfheal::cfg::Phase::check_config;
  if (const char* p = std::getenv("SELFHEAL_LINT_PROFILE"); test && p && *p)
    opt.profile = strcasecmp(p, "hardening") == 0 ? selfheal::cfg::Profile::hardening
                                                  : selfheal::cfg::Profile::safety;
  selfheal::cfg::SystemEnvironment& env = config_env(m);
  const std::vector<Finding> fs = selfheal::cfg::run_rules(m, env, opt);
  const size_t errors = count(fs, Severity::error);
  const bool startup = test || first_start;
  log_findings(fs, s, startup);
  if (!test) status_note_findings(s, fs, true);  // selfheal-status: the running config's
  if (!fs.empty())
    ap_log_error(APLOG_MARK, (startup ? APLOG_STARTUP : 0) | APLOG_NOTICE, 0, s,
                 "SELFHEAL0300: configuration check: %lu error(s), %lu warning(s), %lu info",
                 static_cast<unsigned long>(errors),
                 static_cast<unsigned long>(count(fs, Severity::warning)),
                 static_cast<unsigned long>(count(fs, Severity::info)));
  if (test) {
    const bool hard = opt.profile ? *opt.profile == selfheal::cfg::Profile::hardening
                                  : selfheal::cfg::settings_from_model(m).profile ==
                                        selfheal::cfg::Profile::hardening;
    write_lint_output(fs, hard ? "hardening" : "safety", s);
    if (errors) {
      ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                   "SELFHEAL0305: configuration test failed: %lu error finding(s) above would "
                   "break the server (silence a rule with SelfHealSkip RULE-ID)",
                   static_cast<unsigned long>(errors));
      return !OK;
    }
    return OK;
  }
  if (first_start && mode == Mode::enforce && errors) {
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                 "SELFHEAL0311: refusing to start: %lu error finding(s) and SelfHealValidate "
                 "enforce",
                 static_cast<unsigned long>(errors));
    return !OK;
  }
  if (!first_start && errors)
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "SELFHEAL0313: restart continues despite %lu error finding(s): failing a "
                 "restart would stop the running server",
                 static_cast<unsigned long>(errors));
  return OK;
}

long open_descriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the DIR's own descriptor
}

int do_post_config(apr_pool_t* pconf, apr_pool_t* ptemp, server_rec* s) {
  if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) return OK;
  if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;  // dry run
  // check_config's model when it ran (same generation), else built now.
  selfheal::cfg::Model& m = config_model(pconf, ptemp);
  if (validate_mode(m) == Mode::off) return OK;
  m.open_fds = open_descriptors();
  selfheal::cfg::RunOptions opt;
  opt.phase = selfheal::cfg::Phase::post_config;
  selfheal::cfg::SystemEnvironment env(m.run_user, m.run_uid, m.run_gid);
  const std::vector<Finding> post = selfheal::cfg::run_rules(m, env, opt);
  log_findings(post, s, false);
  status_note_findings(s, post, false);  // selfheal-status: added to check_config's
  return OK;                             // never fatal: logs and listeners are already open
}

// Starts building the model beside httpd's processing of the tree (config_prebuild.cpp).
// Hooked really last: after the MPM's pre_config, which forks to detach.
int pre_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) noexcept {
  try {
    if (checks_wanted()) start_model_build(pconf);
  } catch (...) {
    // check_config builds the model itself
  }
  return OK;
}

int check_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) noexcept {
  finish_model_build();  // before anything returns: modules fork from open_logs on
  try {
    return do_check_config(pconf, ptemp, s);
  } catch (const std::exception& e) {
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                 "SELFHEAL0310: configuration check skipped after an internal error: %s", e.what());
  } catch (...) {
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                 "SELFHEAL0310: configuration check skipped after an internal error");
  }
  return OK;
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) noexcept {
  int rc = OK;
  try {
    rc = do_post_config(pconf, ptemp, s);
  } catch (...) {
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 "SELFHEAL0310: post-config check skipped after an internal error");
  }
  release_model();  // not kept for the generation (nor copied into every child)
  return rc;
}

}  // namespace

const ConfigHooks& config_hooks() noexcept {
  static const ConfigHooks hooks = {pre_config, check_config, post_config};
  return hooks;
}

}  // namespace selfheal::glue
