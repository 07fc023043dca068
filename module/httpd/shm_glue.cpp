// The shared-memory crash table on httpd: created by the parent in post_config, attached by
// each child in child_init, written by the crash handler through the callbacks below.
//
// Graceful (and plain) restart: the segment lives in the process pool, so crash counters,
// signatures and recent crashes continue across restarts; every quarantine is lifted at a
// restart (shm_table_reset_quarantine: "lifted by a graceful restart"), and the new policy is
// stored. A restart that changes SelfHealQuarantineSlots creates a new, empty segment (the old
// generation's children keep their mapping of the old one until they exit).
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "crash/asfmt.h"
#include "crash/names.h"
#include "crash/signature.h"
#include "shm/table_layout.h"
#include "shm_glue.h"

#include "ap_mpm.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"

APLOG_USE_MODULE(selfheal);

namespace selfheal::glue {
namespace {

constexpr const char* kHolderKey = "selfheal-shm-holder";
constexpr uint32_t kSignatureSlots = 128;
constexpr uint32_t kRecentCrashes = 32;
// Crash-loop diagnosis: kLoopCrashes crashes of children younger than kEarlyUs within
// kLoopWindowUs, once per generation.
constexpr uint64_t kLoopCrashes = 3;
constexpr int64_t kEarlyUs = 10 * 1000000;
constexpr int64_t kLoopWindowUs = 60 * 1000000;

// Kept in the process pool (plain C data: no destructor, no pointer into this DSO, which is
// unloaded and reloaded at every restart).
struct ShmHolder {
  apr_shm_t* shm;
  ShmLayout layout;
  const char* file;  // null for anonymous shared memory
};

ShmSettings g_settings;
ShmTable*& g_table = detail::g_shm_table;  // set by the parent, inherited by the children
apr_shm_t* g_shm = nullptr;
uint32_t g_generation = 0;
long g_gmtoff = 0;           // for the diagnosis line's stamp (child_init)
char g_diag_findings[3072];  // the findings part of the diagnosis, formatted in child_init
char g_diag_line[4096];

// ---- the crash handler's callbacks (async-signal-safe) -----------------------------------

// One error-log line in httpd's format, one write(2). Async-signal-safe.
void write_diagnosis(const crash::CrashSummary& s, uint64_t early) noexcept {
  crash::TextBuf b(g_diag_line, sizeof g_diag_line - 1);
  b.ch('[');
  crash::format_errlog_stamp(b, s.time_us, g_gmtoff);
  b.str("] [selfheal:error] [pid ");
  b.dec(s.pid ? s.pid : static_cast<int64_t>(getpid()));
  b.str("] SELFHEAL0510: crash loop: ");
  b.udec(early);
  b.str(" children of generation ");
  b.udec(g_generation);
  b.str(" died within ");
  b.udec(kEarlyUs / 1000000);
  b.str(" s of starting, in the last ");
  b.udec(kLoopWindowUs / 1000000);
  b.str(" s; the latest by ");
  b.str(crash::signal_name(s.signo));
  if (s.method || s.path) {
    b.str(" in ");
    b.str(s.method && *s.method ? s.method : "-");
    b.ch(' ');
    b.str(s.path && *s.path ? s.path : "-");
  } else {
    b.str(" before serving a request (child start-up)");
  }
  char sig[17];
  signature_hex(s.signature, sig);
  b.str(", signature ");
  b.str(sig);
  b.str(", top frame ");
  b.str(s.top_frame && *s.top_frame ? s.top_frame : "unknown");
  b.str("; ");
  b.str(g_diag_findings);
  b.str(" (said once per generation; selfhealctl show ");
  b.str(sig);
  b.str(" has the backtrace)");
  g_diag_line[b.len++] = '\n';
  ssize_t r = write(STDERR_FILENO, g_diag_line, b.len);
  (void)r;
}

void on_crash(const crash::CrashSummary& s) noexcept {
  ShmTable* t = g_table;
  if (!t) return;
  ShmCrashInfo info;
  info.key_text = s.key_text;
  info.method = s.method;
  info.vhost = s.vhost;
  info.top_frame = s.top_frame;
  info.record_id = s.record_id;
  info.pid = s.pid;
  shm_record_crash_ex(t, s, info);
  const int64_t now = s.time_us ? s.time_us : shm_now_us();
  const uint64_t early = shm_note_early_crash(t, s.uptime_us, kEarlyUs, now, kLoopWindowUs);
  if (early >= kLoopCrashes && shm_claim_generation_diagnosis(t, g_generation))
    write_diagnosis(s, early);
}

bool on_fold(uint64_t signature, int64_t time_us, uint64_t* carried) noexcept {
  return shm_fold_check(g_table, signature, time_us, g_settings.fold_after,
                        g_settings.fold_window_s, carried);
}

// ---- the segment --------------------------------------------------------------------------

bool same_layout(const ShmLayout& a, const ShmLayout& b) noexcept {
  return a.signature_slots == b.signature_slots && a.quarantine_slots == b.quarantine_slots &&
         a.recent_crashes == b.recent_crashes;
}

apr_status_t create_segment(apr_pool_t* pp, server_rec* s, size_t bytes, ShmHolder* h) noexcept {
  h->file = nullptr;
  apr_status_t rv = apr_shm_create(&h->shm, bytes, nullptr, pp);
  if (rv == APR_ENOTIMPL) {  // no anonymous shared memory: a file in DefaultRuntimeDir
    h->file = ap_runtime_dir_relative(
        pp, apr_psprintf(pp, "selfheal-shm.%ld", static_cast<long>(getpid())));
    if (!h->file) return APR_EBADPATH;
    apr_shm_remove(h->file, pp);
    rv = apr_shm_create(&h->shm, bytes, h->file, pp);
  }
  if (rv != APR_SUCCESS)
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                 "SELFHEAL0520: cannot create the shared memory of the crash table (%lu bytes%s%s);"
                 " crash counters, the status page and the quarantine are off",
                 static_cast<unsigned long>(bytes), h->file ? " in " : "", h->file ? h->file : "");
  return rv;
}

void set_vhost_keys(apr_pool_t* p, server_rec* main) noexcept {
  for (server_rec* v = main; v; v = v->next) {
    auto* sc = static_cast<ServerConfig*>(ap_get_module_config(v->module_config, &selfheal_module));
    if (!sc) continue;
    const char* name = v->server_hostname ? v->server_hostname : "";
    sc->vhost_key = v->port ? apr_psprintf(p, "%s:%u", name, static_cast<unsigned>(v->port))
                            : apr_pstrdup(p, name);
  }
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) noexcept {
  if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) return OK;
  if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;  // dry run
  set_vhost_keys(pconf, s);
  int gen = 0;
  ap_mpm_query(AP_MPMQ_GENERATION, &gen);
  g_generation = static_cast<uint32_t>(gen);

  apr_pool_t* pp = s->process->pool;
  const ShmLayout layout{kSignatureSlots, g_settings.quarantine_slots, kRecentCrashes};
  void* data = nullptr;
  apr_pool_userdata_get(&data, kHolderKey, pp);
  auto* h = static_cast<ShmHolder*>(data);
  const bool restart = h && h->shm;
  g_table = nullptr;
  g_shm = nullptr;
  if (restart && same_layout(h->layout, layout)) {
    g_table = shm_table_attach(apr_shm_baseaddr_get(h->shm));
  }
  if (!g_table) {
    if (!h) {
      h = static_cast<ShmHolder*>(apr_pcalloc(pp, sizeof(ShmHolder)));
      apr_pool_userdata_set(h, kHolderKey, apr_pool_cleanup_null, pp);
    }
    if (h->shm) {
      ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                   "SELFHEAL0521: SelfHealQuarantineSlots changed from %u to %u: the crash "
                   "table starts empty",
                   h->layout.quarantine_slots, layout.quarantine_slots);
      apr_shm_destroy(h->shm);
      h->shm = nullptr;
    }
    const size_t bytes = shm_table_bytes(layout);
    if (create_segment(pp, s, bytes, h) != APR_SUCCESS) {
      h->shm = nullptr;
      return OK;  // never fail a start or restart for the status page
    }
    h->layout = layout;
    g_table = shm_table_init(apr_shm_baseaddr_get(h->shm), apr_shm_size_get(h->shm), layout);
    if (!g_table) return OK;
  } else {
    shm_table_reset_quarantine(g_table);  // a restart lifts every quarantine
  }
  g_shm = h->shm;
  quarantine_set_policy(g_table, g_settings.policy);
  shm_table_begin_generation(g_table, g_generation);
  return OK;
}

int pre_config(apr_pool_t*, apr_pool_t*, apr_pool_t*) noexcept {
  g_settings = ShmSettings{};
  return OK;
}

// Formats the findings part of the crash-loop diagnosis (NOT async-signal-safe: child_init).
void format_diag_findings(server_rec* s) noexcept {
  crash::TextBuf b(g_diag_findings, sizeof g_diag_findings - 1);
  size_t n = 0;
  const StoredFinding* fs = status_findings(s, &n);
  size_t shown = 0;
  bool more = false;
  // Errors first, then warnings; info findings do not explain crashes.
  for (const char* sev : {"error", "warning"}) {
    for (size_t i = 0; i < n && !more; ++i) {
      if (strcmp(fs[i].severity, sev) != 0) continue;
      b.str(shown ? "; " : "configuration findings that may explain it: ");
      if (shown == 6) {
        b.str("more on the status page");
        more = true;
        break;
      }
      b.str(fs[i].rule);
      b.str(" (");
      b.str(fs[i].severity);
      b.str(") ");
      if (fs[i].file && *fs[i].file) {
        b.str(fs[i].file);
        b.ch(':');
        b.dec(fs[i].line);
        b.str(": ");
      }
      b.str(fs[i].message);
      ++shown;
    }
  }
  if (shown == 0) b.str("no configuration finding explains it (httpd -t is clean)");
  if (b.overflow && b.len > 3) {
    b.len -= 3;
    b.overflow = false;
    b.str("...");
  }
  g_diag_findings[b.len] = '\0';
}

bool g_child_ready = false;

// Runs once per child, from whichever comes first: crash_glue's child_init (through
// shm_fill_crash_config) or ours.
void child_init(apr_pool_t*, server_rec* s) noexcept {
  if (g_child_ready) return;
  g_child_ready = true;
  if (!g_shm) {
    g_table = nullptr;
    return;
  }
  g_table = shm_table_attach(apr_shm_baseaddr_get(g_shm));  // inherited mapping, re-validated
  time_t now = time(nullptr);
  struct tm tm {};
  if (localtime_r(&now, &tm)) g_gmtoff = tm.tm_gmtoff;
  format_diag_findings(s);
}

}  // namespace

ShmTable* detail::g_shm_table = nullptr;
ShmSettings& shm_settings() noexcept {
  return g_settings;
}

void* create_server_config(apr_pool_t* p, server_rec*) noexcept {
  return apr_pcalloc(p, sizeof(ServerConfig));
}

void shm_fill_crash_config(crash::Config& cfg) noexcept {
  child_init(nullptr, ap_server_conf);  // crash_glue's child_init may run before ours
  cfg.on_crash = on_crash;
  cfg.fold = g_settings.fold_after ? on_fold : nullptr;
  cfg.key_parts = g_settings.key_parts;
}

const ShmHooks& shm_hooks() noexcept {
  static const ShmHooks hooks = {pre_config, post_config, child_init};
  return hooks;
}

}  // namespace selfheal::glue
