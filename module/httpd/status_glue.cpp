// The status handler (SetHandler selfheal-status), mod_status' SelfHeal section, and the store
// of the running configuration's findings.
//
//   GET/HEAD  /selfheal-status            HTML
//   GET/HEAD  /selfheal-status?json       application/json
//   GET/HEAD  /selfheal-status?metrics    Prometheus text format 0.0.4
//   POST      /selfheal-status[?json]     lift=<16 hex digits>|<key text>|all (form-encoded, at
//                                         most 4 KiB): lifts a quarantine
// Any other method is 405 (Allow: GET, HEAD, POST). Access is the configuration's business:
// the sample config says Require local.
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/engine.h"
#include "shm_glue.h"
#include "status/render.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"

APLOG_USE_MODULE(selfheal);

namespace selfheal::glue {
namespace {

constexpr const char* kHandler = "selfheal-status";
constexpr const char* kFindingsKey = "selfheal-findings";
constexpr apr_off_t kMaxPostBytes = 4096;

// ---- findings store (plain C data in a sub-pool of the process pool) ---------------------

struct FindingsStore {
  apr_pool_t* pool;
  StoredFinding* items;
  size_t n, cap;
};

FindingsStore* findings_store(server_rec* s, bool create) noexcept {
  if (!s || !s->process) return nullptr;
  apr_pool_t* pp = s->process->pool;
  void* data = nullptr;
  apr_pool_userdata_get(&data, kFindingsKey, pp);
  if (data || !create) return static_cast<FindingsStore*>(data);
  auto* st = static_cast<FindingsStore*>(apr_pcalloc(pp, sizeof(FindingsStore)));
  if (apr_pool_create(&st->pool, pp) != APR_SUCCESS) return nullptr;
  apr_pool_userdata_set(st, kFindingsKey, apr_pool_cleanup_null, pp);
  return st;
}

// ---- rendering input ------------------------------------------------------------------

StatusInput make_input(request_rec* r, const ShmSnapshot* snap, bool with_lift) {
  StatusInput in;
  in.snapshot = snap;
  size_t n = 0;
  const StoredFinding* fs = status_findings(r->server, &n);
  in.findings.reserve(n);
  for (size_t i = 0; i < n; ++i)
    in.findings.push_back(StatusFinding{fs[i].rule, fs[i].severity, fs[i].file, fs[i].line,
                                        fs[i].vhost, fs[i].message});
  in.server_version = std::string(ap_get_server_description()) + " mod_selfheal/" SELFHEAL_VERSION;
  if (with_lift) in.lift_action = r->uri;
  return in;
}

// Whether the query string has the word `name` (alone or as name=...).
bool has_arg(const char* args, const char* name) noexcept {
  if (!args) return false;
  const size_t len = strlen(name);
  for (const char* p = args; *p;) {
    const char* end = strchr(p, '&');
    const size_t n = end ? static_cast<size_t>(end - p) : strlen(p);
    if (n >= len && !strncmp(p, name, len) && (n == len || p[len] == '=')) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

void put(request_rec* r, const std::string& s) {
  ap_rwrite(s.data(), static_cast<int>(s.size()), r);
}

// ---- POST: lift ------------------------------------------------------------------------

// Reads a small form body into *out. Returns OK or an HTTP status.
int read_form(request_rec* r, std::string* out) {
  const char* ct = apr_table_get(r->headers_in, "Content-Type");
  if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
    return HTTP_UNSUPPORTED_MEDIA_TYPE;
  if (int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) return rc;
  if (!ap_should_client_block(r)) return OK;
  char buf[1024];
  long got;
  while ((got = ap_get_client_block(r, buf, sizeof buf)) > 0) {
    if (static_cast<apr_off_t>(out->size()) + got > kMaxPostBytes)
      return HTTP_REQUEST_ENTITY_TOO_LARGE;
    out->append(buf, static_cast<size_t>(got));
  }
  return got < 0 ? HTTP_BAD_REQUEST : OK;
}

// The value of `lift` in a form body (URL-decoded), or null.
const char* form_lift(request_rec* r, const std::string& body) {
  char* copy = apr_pstrmemdup(r->pool, body.data(), body.size());
  char* last = nullptr;
  for (char* pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(nullptr, "&", &last)) {
    char* eq = strchr(pair, '=');
    if (!eq) continue;
    *eq = '\0';
    if (strcmp(pair, "lift") != 0) continue;
    char* v = eq + 1;
    if (ap_unescape_urlencoded(v) != OK) return nullptr;  // '+' and %XX, %2F included
    return v;
  }
  return nullptr;
}

bool is_hex16(const char* v) noexcept {
  if (strlen(v) != 16) return false;
  for (const char* p = v; *p; ++p)
    if (!apr_isxdigit(*p)) return false;
  return true;
}

int handle_lift(request_rec* r, bool json) {
  std::string body;
  if (int rc = read_form(r, &body); rc != OK) return rc;
  const char* what = form_lift(r, body);
  if (!what || !*what) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SELFHEAL0503: status POST without lift=<key hash>|<key text>|all");
    return HTTP_BAD_REQUEST;
  }
  ShmTable* t = shm_table();
  if (!t) return HTTP_SERVICE_UNAVAILABLE;
  size_t lifted = 0;
  bool all = !strcmp(what, "all");
  uint64_t key = 0;
  if (all) {
    lifted = quarantine_lift_all(t);
  } else {
    key = is_hex16(what) ? strtoull(what, nullptr, 16) : quarantine_key_hash_text(what);
    lifted = quarantine_lift(t, key);
  }
  ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                "SELFHEAL0502: quarantine lift of %s by %s: %lu entr%s lifted",
                all ? "every key" : apr_psprintf(r->pool, "key %016" APR_UINT64_T_HEX_FMT, key),
                r->useragent_ip, static_cast<unsigned long>(lifted), lifted == 1 ? "y" : "ies");
  const int status = (!all && lifted == 0) ? HTTP_NOT_FOUND : HTTP_OK;
  if (!json) {  // a browser's form: back to the page
    if (status == HTTP_NOT_FOUND) return HTTP_NOT_FOUND;
    apr_table_setn(r->headers_out, "Location", r->uri);
    return HTTP_SEE_OTHER;
  }
  r->status = status;
  ap_set_content_type(r, kStatusJsonType);
  apr_table_setn(r->headers_out, "Cache-Control", "no-store");
  put(r, std::string("{\"lifted\":") + std::to_string(lifted) +
             ",\"all\":" + (all ? "true" : "false") + ",\"key_hash\":" +
             (all ? std::string("null") : "\"" + status_signature_hex(key) + "\"") + "}\n");
  return OK;
}

// ---- GET / HEAD --------------------------------------------------------------------------

int handle(request_rec* r) {
  r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
  ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", "POST", nullptr);  // the 405's Allow
  const bool json = has_arg(r->args, "json");
  const bool metrics = !json && has_arg(r->args, "metrics");
  if (r->method_number == M_POST) return handle_lift(r, json);
  if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;  // HEAD is M_GET
  if (int rc = ap_discard_request_body(r)) return rc;

  ShmTable* t = shm_table();
  ShmSnapshot snap;
  if (t) snap = shm_snapshot(t, apr_time_now());
  const StatusInput in = make_input(r, t ? &snap : nullptr, !json && !metrics);
  apr_table_setn(r->headers_out, "Cache-Control", "no-store");
  if (json)
    ap_set_content_type(r, kStatusJsonType);
  else if (metrics)
    ap_set_content_type(r, kStatusMetricsType);
  else
    ap_set_content_type(r, kStatusHtmlType);
  if (r->header_only) return OK;
  put(r, json      ? status_render_json(in)
         : metrics ? status_render_metrics(in)
                   : status_render_html(in));
  return OK;
}

int handler(request_rec* r) noexcept {
  if (!r->handler || strcmp(r->handler, kHandler) != 0) return DECLINED;
  try {
    return handle(r);
  } catch (const std::exception& e) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SELFHEAL0530: status page failed: %s", e.what());
  } catch (...) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SELFHEAL0530: status page failed");
  }
  return HTTP_INTERNAL_SERVER_ERROR;
}

// mod_status: a SelfHeal section in /server-status, "SelfHeal...: value" lines in ?auto.
int status_hook(request_rec* r, int flags) noexcept {
  try {
    ShmTable* t = shm_table();
    ShmSnapshot snap;
    if (t) snap = shm_snapshot(t, apr_time_now());
    const StatusInput in = make_input(r, t ? &snap : nullptr, false);
    put(r, (flags & AP_STATUS_SHORT) ? status_render_auto(in) : status_render_fragment(in));
  } catch (...) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "SELFHEAL0530: SelfHeal section of server-status failed");
  }
  return OK;
}

}  // namespace

void status_note_findings(server_rec* s, const std::vector<cfg::Finding>& fs, bool reset) noexcept {
  FindingsStore* st = findings_store(s, true);
  if (!st) return;
  if (reset) {
    apr_pool_clear(st->pool);
    st->items = nullptr;
    st->n = st->cap = 0;
  }
  if (st->n + fs.size() > st->cap) {
    size_t cap = st->cap ? st->cap : 16;
    while (cap < st->n + fs.size()) cap *= 2;
    auto* items = static_cast<StoredFinding*>(apr_pcalloc(st->pool, cap * sizeof(StoredFinding)));
    if (st->n) memcpy(items, st->items, st->n * sizeof(StoredFinding));
    st->items = items;
    st->cap = cap;
  }
  for (const cfg::Finding& f : fs) {
    StoredFinding& d = st->items[st->n++];
    d.rule = apr_pstrdup(st->pool, f.rule.c_str());
    d.severity = apr_pstrdup(st->pool, cfg::severity_name(f.severity));  // no pointer into the DSO
    d.file = apr_pstrdup(st->pool, f.file.c_str());
    d.line = f.line;
    d.vhost = apr_pstrdup(st->pool, f.vhost.c_str());
    d.message = apr_pstrdup(st->pool, f.message.c_str());
  }
}

const StoredFinding* status_findings(server_rec* s, size_t* n) noexcept {
  FindingsStore* st = findings_store(s, false);
  *n = st ? st->n : 0;
  return st ? st->items : nullptr;
}

const StatusHooks& status_hooks() noexcept {
  static const StatusHooks hooks = {handler, status_hook};
  return hooks;
}

}  // namespace selfheal::glue
