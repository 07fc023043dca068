// Crash capture glue: opens the crash log in the parent, installs the crash core in each
// child, and keeps each worker thread's request slot current. The per-request hooks make no
// system call and no I/O: they store a few pointers.
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "glue.h"
#include "selfheal/crash.h"
#include "shm_glue.h"  // shm_fill_crash_config: counters, fold limiter, quarantine

#include "ap_mpm.h"
#include "apr_strings.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mpm_common.h"

APLOG_USE_MODULE(selfheal);

namespace selfheal::glue {
namespace {

// The crash log descriptor: opened by the parent (root) in open_logs, inherited by children.
int g_crash_fd = -1;
// The connection count of this child, to check at exponentially spaced connections whether
// another module replaced our signal handlers (a sigaction call, never on every request).
uint64_t g_conn_count = 0;
bool g_replaced_logged = false;
// True in a child whose crash handlers are installed: the per-request hooks do nothing else.
bool g_active = false;

// httpd's hook runners and the phase each stands for. The innermost one on the crashing
// thread's stack names the phase, so no per-phase hook runs on every request.
struct RunnerPhase {
  const char* symbol;
  Phase phase;
};
constexpr RunnerPhase kRunners[] = {
    {"ap_run_pre_connection", Phase::kConnection},
    {"ap_run_process_connection", Phase::kConnection},
    {"ap_read_request", Phase::kReadRequest},
    {"ap_run_post_read_request", Phase::kReadRequest},
    {"ap_run_translate_name", Phase::kTranslate},
    {"ap_run_map_to_storage", Phase::kMapToStorage},
    {"ap_run_header_parser", Phase::kHeaderParser},
    {"ap_run_access_checker", Phase::kAccess},
    {"ap_run_access_checker_ex", Phase::kAccess},
    {"ap_run_check_user_id", Phase::kAuthn},
    {"ap_run_auth_checker", Phase::kAuthz},
    {"ap_run_type_checker", Phase::kTypeChecker},
    {"ap_run_fixups", Phase::kFixups},
    {"ap_run_insert_filter", Phase::kInsertFilter},
    {"ap_run_quick_handler", Phase::kHandler},
    {"ap_run_handler", Phase::kHandler},
    {"ap_finalize_request_protocol", Phase::kHandler},
    {"ap_process_request_after_handler", Phase::kHandler},
    {"ap_invoke_handler", Phase::kHandler},
    // Outermost: what runs in them but in none of the runners above is the response going
    // out through the output filters after the handler.
    {"ap_process_async_request", Phase::kHandler},
    {"ap_process_request", Phase::kHandler},
    {"ap_run_log_transaction", Phase::kLog},
};
crash::PhaseRange g_ranges[std::size(kRunners)];

// Resolves the runners' address ranges (dlsym + the symbol's size). NOT for a signal handler.
size_t resolve_phase_ranges() noexcept {
  size_t n = 0;
  for (const RunnerPhase& rp : kRunners) {
    void* addr = dlsym(RTLD_DEFAULT, rp.symbol);
    Dl_info info{};
    void* symp = nullptr;
    if (!addr || !dladdr1(addr, &info, &symp, RTLD_DL_SYMENT) || !symp) continue;
    const auto* sym = static_cast<const ElfW(Sym)*>(symp);
    if (sym->st_size == 0) continue;
    auto start = reinterpret_cast<uintptr_t>(addr);
    g_ranges[n++] = crash::PhaseRange{start, start + sym->st_size, rp.phase};
  }
  return n;
}

static_assert(sizeof(ArrayHeaderView) == sizeof(apr_array_header_t));
static_assert(offsetof(ArrayHeaderView, nelts) == offsetof(apr_array_header_t, nelts));
static_assert(offsetof(ArrayHeaderView, elts) == offsetof(apr_array_header_t, elts));
static_assert(sizeof(TableEntryView) == sizeof(apr_table_entry_t));
static_assert(offsetof(TableEntryView, val) == offsetof(apr_table_entry_t, val));

apr_status_t close_crash_fd(void*) noexcept {
  if (g_crash_fd >= 0) close(g_crash_fd);
  g_crash_fd = -1;
  return APR_SUCCESS;
}

// Opens (creating 0640) the crash log without following a symlink in its last component.
int open_crash_log(const char* path, apr_pool_t* plog, server_rec* s) noexcept {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
  if (fd < 0) {
    int err = errno;
    ap_log_error(APLOG_MARK, APLOG_EMERG, err, s,
                 "SELFHEAL0001: cannot open the crash log %s (SelfHealCrashLog%s%s)%s", path,
                 crash_settings().crash_log_file ? " at " : "",
                 crash_settings().crash_log_file
                     ? apr_psprintf(plog, "%s:%d", crash_settings().crash_log_file,
                                    crash_settings().crash_log_line)
                     : "",
                 err == ELOOP ? ": it is a symbolic link, which mod_selfheal never follows" : "");
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                   "SELFHEAL0002: the crash log %s is not a regular file", path);
      close(fd);
      return -1;
    }
    if (st.st_size == 0 && st.st_uid == geteuid()) fchmod(fd, 0640);  // exact, whatever umask
    if (st.st_mode & S_IWOTH)
      ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                   "SELFHEAL0003: the crash log %s is world-writable; chmod 0640 it", path);
  }
  return fd;
}

// ServerRoot/logs/selfheal_crash.log; where ServerRoot has no logs/ (Debian: /etc/apache2),
// beside the main error log when that is a file.
const char* default_crash_log(apr_pool_t* p, server_rec* s) noexcept {
  const char* dflt = ap_server_root_relative(p, "logs/selfheal_crash.log");
  struct stat st;
  if (stat(ap_server_root_relative(p, "logs"), &st) == 0 && S_ISDIR(st.st_mode)) return dflt;
  const char* err = s->error_fname;
  if (!err || *err == '|' || !strncmp(err, "syslog", 6)) return dflt;
  const char* path = ap_server_root_relative(p, err);
  const char* slash = path ? strrchr(path, '/') : nullptr;
  if (!slash) return dflt;
  return apr_pstrcat(p, apr_pstrmemdup(p, path, static_cast<apr_size_t>(slash - path)),
                     "/selfheal_crash.log", nullptr);
}

int open_logs(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t*, server_rec* s) noexcept {
  CrashSettings& cs = crash_settings();
  if (!cs.capture) return OK;
  if (!cs.crash_log) cs.crash_log = default_crash_log(pconf, s);
  close_crash_fd(nullptr);
  g_crash_fd = open_crash_log(cs.crash_log, plog, s);
  if (g_crash_fd < 0) return HTTP_INTERNAL_SERVER_ERROR;  // start-up fails, pointed message
  apr_pool_cleanup_register(pconf, nullptr, close_crash_fd, apr_pool_cleanup_null);
  return OK;
}

void check_handlers(server_rec* s) noexcept {
  if (g_replaced_logged) return;
  if (int sig = crash::replaced_handler()) {
    g_replaced_logged = true;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "SELFHEAL0004: another module replaced the handler of signal %d (%s) after "
                 "mod_selfheal installed its own; crashes by that signal are no longer recorded",
                 sig, strsignal(sig));
  }
}

void child_init(apr_pool_t* pchild, server_rec* s) noexcept {
  CrashSettings& cs = crash_settings();
  if (!cs.capture || g_crash_fd < 0) return;
  int generation = 0;
  ap_mpm_query(AP_MPMQ_GENERATION, &generation);
  crash::Config cfg;
  cfg.crash_fd = g_crash_fd;
  cfg.errlog_fd = STDERR_FILENO;
  cfg.max_log_bytes = cs.max_log_bytes;
  cfg.redact = cs.redact;
  cfg.httpd_version = ap_get_server_description();
  cfg.mpm = ap_show_mpm();
  cfg.generation = generation;
  cfg.child_start_us = apr_time_now();
  cfg.crash_log_path = cs.crash_log;
  cfg.coredump_dir = ap_coredumpdir_configured ? ap_coredump_dir : nullptr;
  cfg.phase_ranges = g_ranges;
  cfg.n_phase_ranges = resolve_phase_ranges();
  shm_fill_crash_config(cfg);  // shared-memory counters, quarantine, fold limiter
  if (int err = crash::install(cfg)) {
    ap_log_error(APLOG_MARK, APLOG_ERR, err, s,
                 "SELFHEAL0005: cannot install the crash handlers; crashes of this child will "
                 "not be recorded");
    return;
  }
  g_active = true;
  (void)pchild;
}

// After every other module's child_init: did one of them replace our handlers?
void child_init_last(apr_pool_t*, server_rec* s) noexcept {
  if (crash_settings().capture && g_crash_fd >= 0) check_handlers(s);
}

// ---- per-connection / per-request: pointer stores only ----------------------------------

apr_status_t conn_slot_gone(void* data) noexcept {
  auto* slot = static_cast<ConnSlot*>(data);
  slot->request.store(nullptr, std::memory_order_release);
  slot->phase.store(static_cast<uint8_t>(Phase::kNone), std::memory_order_relaxed);
  if (crash::ThreadEntry* te = crash::thread_entry()) {
    ConnSlot* expected = slot;
    te->conn.compare_exchange_strong(expected, nullptr, std::memory_order_release);
  }
  return APR_SUCCESS;
}

ConnSlot* conn_slot(conn_rec* c) noexcept {
  auto* slot = static_cast<ConnSlot*>(ap_get_module_config(c->conn_config, &selfheal_module));
  if (slot) return slot;
  slot = new (apr_pcalloc(c->pool, sizeof(ConnSlot))) ConnSlot();
  slot->client_ip = &c->client_ip;
  slot->local_ip = &c->local_ip;
  slot->keepalives = &c->keepalives;
  slot->conn_id = c->id;
  ap_set_module_config(c->conn_config, &selfheal_module, slot);
  apr_pool_cleanup_register(c->pool, slot, conn_slot_gone, apr_pool_cleanup_null);
  return slot;
}

inline void set_phase(conn_rec* c, Phase p) noexcept {
  if (auto* slot = static_cast<ConnSlot*>(ap_get_module_config(c->conn_config, &selfheal_module)))
    slot->phase.store(static_cast<uint8_t>(p), std::memory_order_relaxed);
}

// This thread now works on c.
inline void adopt(conn_rec* c, ConnSlot* slot) noexcept {
  (void)c;
  if (crash::ThreadEntry* te = crash::thread_entry())
    te->conn.store(slot, std::memory_order_release);
}

int pre_connection(conn_rec* c, void*) noexcept {
  if (!g_active) return DECLINED;
  ConnSlot* slot = conn_slot(c);
  slot->phase.store(static_cast<uint8_t>(Phase::kConnection), std::memory_order_relaxed);
  adopt(c, slot);
  // Exponentially spaced: connections 1, 16, 256, 4096, ... of this child.
  uint64_t n = ++g_conn_count;
  if ((n & (n - 1)) == 0 && (__builtin_ctzll(n) % 4) == 0) check_handlers(c->base_server);
  return DECLINED;
}

// Runs each time a worker picks the connection up (event MPM: every keep-alive request may be
// on another thread).
int process_connection(conn_rec* c) noexcept {
  if (!g_active) return DECLINED;
  if (auto* slot = static_cast<ConnSlot*>(ap_get_module_config(c->conn_config, &selfheal_module)))
    adopt(c, slot);
  return DECLINED;
}

void suspend_connection(conn_rec* c, request_rec*) noexcept {
  if (!g_active) return;
  if (crash::ThreadEntry* te = crash::thread_entry()) {
    ConnSlot* expected =
        static_cast<ConnSlot*>(ap_get_module_config(c->conn_config, &selfheal_module));
    te->conn.compare_exchange_strong(expected, nullptr, std::memory_order_release);
  }
}

void resume_connection(conn_rec* c, request_rec*) noexcept {
  (void)process_connection(c);
}

apr_status_t request_gone(void* data) noexcept {
  auto* slot = static_cast<ConnSlot*>(data);
  slot->request.store(nullptr, std::memory_order_release);
  slot->phase.store(static_cast<uint8_t>(Phase::kConnection), std::memory_order_relaxed);
  return APR_SUCCESS;
}

int post_read_request(request_rec* r) noexcept {
  if (!g_active || r->main) return DECLINED;
  conn_rec* c = r->connection;
  const bool redirect = r->prev != nullptr;  // internal redirect: same pool, same request
  ConnSlot* slot = conn_slot(c);
  RequestRefs& q = slot->refs;
  q.method = &r->method;
  q.path = &r->parsed_uri.path;
  q.query = &r->args;
  q.protocol = &r->protocol;
  q.host = &r->hostname;
  q.vhost = &r->server->server_hostname;
  q.vhost_port = &r->server->port;
  q.handler = &r->handler;
  q.filename = &r->filename;
  q.client_ip = &r->useragent_ip;
  q.headers_in = reinterpret_cast<const ArrayHeaderView* const*>(&r->headers_in);
  slot->request.store(&q, std::memory_order_release);
  slot->phase.store(static_cast<uint8_t>(Phase::kReadRequest), std::memory_order_relaxed);
  if (redirect) return DECLINED;
  q.start_us = r->request_time;
  if (crash::ThreadEntry* te = crash::thread_entry()) {
    te->conn.store(slot, std::memory_order_release);
    te->requests.fetch_add(1, std::memory_order_relaxed);
  }
  apr_pool_cleanup_register(r->pool, slot, request_gone, apr_pool_cleanup_null);
  return DECLINED;
}

// Only two coarse phases are stored per request, for the *other* requests in flight (the
// crashing thread's phase comes from its backtrace).
template <Phase P>
int phase_hook(request_rec* r) noexcept {
  if (g_active) set_phase(r->connection, P);
  return DECLINED;
}

}  // namespace

const CrashHooks& crash_hooks() noexcept {
  static const CrashHooks hooks = {open_logs,
                                   child_init,
                                   child_init_last,
                                   pre_connection,
                                   process_connection,
                                   suspend_connection,
                                   resume_connection,
                                   post_read_request,
                                   phase_hook<Phase::kHandler>,
                                   phase_hook<Phase::kLog>};
  return hooks;
}

}  // namespace selfheal::glue
