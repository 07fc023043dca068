// The quarantine on the request path, and the directives of the shared-memory table.
//
// post_read_request (REALLY_FIRST): when nothing is quarantined - the table's latest
// "quarantined until" lies before the request's start time - the hook is one load and one
// compare: no hashing, no system call. Only while some quarantine is active does it hash the
// request's key (SelfHealQuarantineKey) and look it up (lock-free, at most 8 slots); a
// quarantined key is answered 503 with Retry-After before any other module sees the request,
// counted, and logged once per key and quarantine period (SELFHEAL0501).
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shm/table_layout.h"
#include "shm_glue.h"

#include "apr_strings.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

APLOG_USE_MODULE(selfheal);

namespace selfheal::glue {
namespace {

constexpr uint32_t kMaxWindowS = 86400;
constexpr uint32_t kMaxCapS = 7 * 86400;
constexpr uint32_t kMinSlots = 16, kMaxSlots = 1u << 20;
constexpr uint32_t kMaxFold = 100000;

// ---- directives ---------------------------------------------------------------------------

// A whole decimal number in [lo, hi], or false.
bool parse_uint(const char* arg, uint32_t lo, uint32_t hi, uint32_t* out) {
  if (!arg || *arg < '0' || *arg > '9') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = strtoull(arg, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// The arguments of a RAW_ARGS directive, at most `max` (one more is read to see extras).
int split_args(cmd_parms* cmd, const char* raw, const char** argv, int max) {
  int n = 0;
  while (*raw && n <= max) {
    const char* w = ap_getword_conf(cmd->temp_pool, &raw);
    if (!*w) break;
    argv[n++] = w;
  }
  return n;
}

}  // namespace

// Directive handlers (the table is in directives.cpp).
// SelfHealQuarantine N T | off
const char* set_quarantine(cmd_parms* cmd, void*, const char* raw) {
  if (const char* err = global_only(cmd)) return err;
  const char* a[3] = {};
  const int n = split_args(cmd, raw, a, 2);
  const char* usage = apr_psprintf(
      cmd->pool,
      "%s: use 'off', or N T: quarantine a request key after N crashes (1..%u) within T "
      "seconds (1..%u); default 3 60",
      cmd->cmd->name, kQuarantineRing, kMaxWindowS);
  QuarantinePolicy& p = shm_settings().policy;
  if (n == 1 && !strcasecmp(a[0], "off")) {
    p.enabled = false;
    return nullptr;
  }
  if (n != 2) return apr_psprintf(cmd->pool, "%s (got %d argument%s)", usage, n, n == 1 ? "" : "s");
  uint32_t threshold = 0, window = 0;
  if (!parse_uint(a[0], 1, kQuarantineRing, &threshold))
    return apr_psprintf(cmd->pool, "%s: N '%s' is not allowed", usage, a[0]);
  if (!parse_uint(a[1], 1, kMaxWindowS, &window))
    return apr_psprintf(cmd->pool, "%s: T '%s' is not allowed", usage, a[1]);
  p.enabled = true;
  p.threshold = threshold;
  p.window_s = window;
  return nullptr;
}

// SelfHealQuarantineDuration D [CAP]
const char* set_duration(cmd_parms* cmd, void*, const char* raw) {
  if (const char* err = global_only(cmd)) return err;
  const char* a[3] = {};
  const int n = split_args(cmd, raw, a, 2);
  const char* usage = apr_psprintf(
      cmd->pool,
      "%s: use D [CAP]: the first quarantine lasts D seconds (1..%u, default 300), each repeat "
      "doubles it up to CAP seconds (D..%u, default 86400)",
      cmd->cmd->name, kMaxCapS, kMaxCapS);
  if (n < 1 || n > 2) return apr_psprintf(cmd->pool, "%s (got %d arguments)", usage, n);
  uint32_t d = 0, cap = 86400;
  if (!parse_uint(a[0], 1, kMaxCapS, &d))
    return apr_psprintf(cmd->pool, "%s: D '%s' is not allowed", usage, a[0]);
  if (n == 2 && !parse_uint(a[1], d, kMaxCapS, &cap))
    return apr_psprintf(cmd->pool, "%s: CAP '%s' is not allowed (it must be at least D)", usage,
                        a[1]);
  if (n == 1 && cap < d) cap = d;
  QuarantinePolicy& p = shm_settings().policy;
  p.duration_s = d;
  p.cap_s = cap;
  return nullptr;
}

// SelfHealQuarantineKey PART... (method vhost path query client)
const char* set_key(cmd_parms* cmd, void*, const char* raw) {
  if (const char* err = global_only(cmd)) return err;
  static const struct {
    const char* name;
    uint32_t bit;
  } kParts[] = {{"method", kKeyMethod},
                {"vhost", kKeyVhost},
                {"path", kKeyPath},
                {"query", kKeyQuery},
                {"client", kKeyClient}};
  const char* usage =
      apr_psprintf(cmd->pool,
                   "%s: use one or more of method, vhost, path, query, client, each once (default: "
                   "method vhost path)",
                   cmd->cmd->name);
  const char* a[8] = {};
  const int n = split_args(cmd, raw, a, 5);
  if (n < 1 || n > 5) return apr_psprintf(cmd->pool, "%s (got %d arguments)", usage, n);
  uint32_t mask = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t bit = 0;
    for (const auto& part : kParts)
      if (!strcasecmp(a[i], part.name)) bit = part.bit;
    if (!bit) return apr_psprintf(cmd->pool, "%s: '%s' is not allowed", usage, a[i]);
    if (mask & bit) return apr_psprintf(cmd->pool, "%s: '%s' is given twice", usage, a[i]);
    mask |= bit;
  }
  shm_settings().key_parts = mask;
  return nullptr;
}

// SelfHealQuarantineSlots N
const char* set_slots(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = global_only(cmd)) return err;
  uint32_t v = 0;
  if (!parse_uint(arg, kMinSlots, kMaxSlots, &v))
    return apr_psprintf(cmd->pool,
                        "%s: '%s' is not allowed; use a number of request keys from %u to %u "
                        "(default 256)",
                        cmd->cmd->name, arg, kMinSlots, kMaxSlots);
  shm_settings().quarantine_slots = v;
  return nullptr;
}

// SelfHealCrashLogFold N T | off
const char* set_fold(cmd_parms* cmd, void*, const char* raw) {
  if (const char* err = global_only(cmd)) return err;
  const char* a[3] = {};
  const int n = split_args(cmd, raw, a, 2);
  const char* usage = apr_psprintf(
      cmd->pool,
      "%s: use 'off', or N T: write at most N records (1..%u) of one crash signature per T "
      "seconds (1..%u), counting the rest in the next record's \"folded\"; default 20 60",
      cmd->cmd->name, kMaxFold, kMaxWindowS);
  ShmSettings& st = shm_settings();
  if (n == 1 && !strcasecmp(a[0], "off")) {
    st.fold_after = 0;
    return nullptr;
  }
  if (n != 2) return apr_psprintf(cmd->pool, "%s (got %d argument%s)", usage, n, n == 1 ? "" : "s");
  uint32_t after = 0, window = 0;
  if (!parse_uint(a[0], 1, kMaxFold, &after))
    return apr_psprintf(cmd->pool, "%s: N '%s' is not allowed", usage, a[0]);
  if (!parse_uint(a[1], 1, kMaxWindowS, &window))
    return apr_psprintf(cmd->pool, "%s: T '%s' is not allowed", usage, a[1]);
  st.fold_after = after;
  st.fold_window_s = window;
  return nullptr;
}

namespace {

// ---- the request path ------------------------------------------------------------------

// Only while some quarantine is active. Not inlined into the hook: the hook stays small.
__attribute__((noinline)) int check_slow(request_rec* r, ShmTable* t) noexcept {
  const uint32_t mask = shm_settings().key_parts;
  const ServerConfig* sc = server_config(r->server);
  QuarantineKeyParts k;
  k.method = r->method;
  k.vhost = sc ? sc->vhost_key : nullptr;
  k.path = r->parsed_uri.path;
  k.query = r->args;
  k.client = r->useragent_ip;
  const uint64_t key = quarantine_key_hash_parts(mask, k);
  const QuarantineVerdict v = quarantine_check(t, key, r->request_time);
  if (!v.quarantined) return DECLINED;
  apr_table_setn(r->err_headers_out, "Retry-After",
                 apr_psprintf(r->pool, "%lu", static_cast<unsigned long>(v.retry_after_s)));
  apr_table_setn(r->notes, "selfheal-quarantined", "1");
  if (v.log_now) {
    if (k.query && *k.query && crash_settings().redact) k.query = "[redacted]";
    char text[kShmKeyChars];
    quarantine_key_format(mask, k, text, sizeof text);
    char until[APR_RFC822_DATE_LEN];
    apr_rfc822_date(until, v.until_us);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "SELFHEAL0501: quarantined: '%s' crashed workers %lu time(s); answering it "
                  "503 until %s (quarantine #%u of this key, key %016" APR_UINT64_T_HEX_FMT
                  "); lift it with "
                  "selfhealctl quarantine lift or a graceful restart",
                  text, static_cast<unsigned long>(v.crashes), until, v.strikes + 1, key);
  }
  return HTTP_SERVICE_UNAVAILABLE;
}

int post_read_request(request_rec* r) noexcept {
  ShmTable* t = shm_table();
  // The fast "no": one load, one compare.
  if (!t || r->request_time >= t->q_max_until.load(std::memory_order_relaxed)) return DECLINED;
  return check_slow(r, t);
}

}  // namespace

const QuarantineHooks& quarantine_hooks() noexcept {
  static const QuarantineHooks hooks = {post_read_request};
  return hooks;
}

}  // namespace selfheal::glue
