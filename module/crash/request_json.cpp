// Request and connection objects of the crash record (see request_json.h). Every read of the
// glue's memory goes through safe_read: the slot, the refs, each pointer and each string.
#include "crash/request_json.h"

#include <cstddef>

#include "crash/asfmt.h"
#include "crash/safe_read.h"

namespace selfheal::crash {
namespace {

// Strings are read up to max + 4 bytes (and a NUL): a UTF-8 sequence that starts before the cap
// is read whole, so the cut does not split it into \u00XX bytes (found by fuzz_record_writer).
constexpr size_t kReadPast = 4;
char g_scratch[kMaxPathBytes + kReadPast + 1];  // one string at a time; one writer at a time

// Reads the string at p (foreign memory) and writes it cut to max bytes, or null when p is
// unreadable. Reads past max so the writer sees that the string went on and marks the cut.
void write_string_at(JsonWriter& w, const char* p, size_t max) noexcept {
  size_t cap = max + kReadPast + 1 <= sizeof g_scratch ? max + kReadPast + 1 : sizeof g_scratch;
  bool cut = false;
  long n = safe_strcpy(g_scratch, cap, p, &cut);
  if (n < 0)
    w.null();
  else
    w.str(g_scratch, static_cast<size_t>(n), max);
}

// Reads *field (a char* stored in foreign memory) and then the string it points to; writes a
// JSON string cut to max bytes, or null when the pointer or the string is unreadable.
void write_indirect(JsonWriter& w, const char* const* field, size_t max) noexcept {
  const char* p = nullptr;
  if (!field || !safe_get(field, &p) || !p) {
    w.null();
    return;
  }
  write_string_at(w, p, max);
}

struct SlotCopy {
  const RequestRefs* request;
  uint8_t phase;
  const char* const* client_ip;
  const char* const* local_ip;
  const int* keepalives;
  long conn_id;
};

bool copy_slot(const ConnSlot* slot, SlotCopy* s) noexcept {
  if (!slot) return false;
  // ConnSlot holds atomics, so copy field by field through their addresses.
  return safe_get(&slot->request, &s->request) && safe_get(&slot->phase, &s->phase) &&
         safe_get(&slot->client_ip, &s->client_ip) && safe_get(&slot->local_ip, &s->local_ip) &&
         safe_get(&slot->keepalives, &s->keepalives) && safe_get(&slot->conn_id, &s->conn_id);
}

void write_keepalives(JsonWriter& w, const int* p) noexcept {
  int v = 0;
  if (p && safe_get(p, &v))
    w.i64(v);
  else
    w.null();
}

void write_headers(JsonWriter& w, const ArrayHeaderView* const* field, bool* truncated) noexcept {
  const ArrayHeaderView* arr = nullptr;
  ArrayHeaderView h{};
  if (!field || !safe_get(field, &arr) || !arr || !safe_get(arr, &h) ||
      h.elt_size != static_cast<int>(sizeof(TableEntryView)) || h.nelts < 0 || !h.elts) {
    w.null();
    return;
  }
  static char key[kMaxHeaderKeyBytes + kReadPast + 1];
  w.begin_object();
  int n = h.nelts < kMaxHeaders ? h.nelts : kMaxHeaders;
  for (int i = 0; i < n; ++i) {
    TableEntryView e{};
    if (!safe_get(h.elts + static_cast<size_t>(i) * sizeof(TableEntryView), &e)) break;
    bool kcut = false;
    long kn = safe_strcpy(key, sizeof key, e.key, &kcut);
    if (kn <= 0) continue;  // unreadable or empty key
    auto m = w.mark();
    w.key(key, static_cast<size_t>(kn), kMaxHeaderKeyBytes);
    if (header_is_secret(key, static_cast<size_t>(kn)))
      w.str("[redacted]");
    else if (!e.val)
      w.null();
    else
      write_string_at(w, e.val, kMaxFieldBytes);
    if (w.failed()) {
      w.rollback(m);
      *truncated = true;
      break;
    }
  }
  if (h.nelts > kMaxHeaders) *truncated = true;
  w.end_object();
}

}  // namespace

bool header_is_secret(const char* key, size_t n) noexcept {
  return ascii_iequal(key, n, "authorization") || ascii_iequal(key, n, "proxy-authorization") ||
         ascii_iequal(key, n, "cookie") || ascii_iequal(key, n, "set-cookie");
}

bool slot_has_request(const ConnSlot* slot) noexcept {
  SlotCopy s{};
  return copy_slot(slot, &s) && s.request != nullptr;
}

void write_request(JsonWriter& w, const ConnSlot* slot, bool redact, int64_t now_us, long tid,
                   bool* truncated, Phase phase) noexcept {
  SlotCopy s{};
  RequestRefs r{};
  if (!copy_slot(slot, &s) || !s.request || !safe_get(s.request, &r)) {
    w.null();
    return;
  }
  w.begin_object();
  if (tid >= 0) {
    w.key("tid");
    w.i64(tid);
  }
  w.key("method");
  write_indirect(w, r.method, kMaxFieldBytes);
  w.key("path");
  write_indirect(w, r.path, kMaxPathBytes);
  w.key("protocol");
  write_indirect(w, r.protocol, kMaxFieldBytes);
  w.key("host");
  write_indirect(w, r.host, kMaxFieldBytes);
  w.key("vhost");
  {
    const char* vh = nullptr;
    unsigned short port = 0;
    bool cut = false;
    long n = -1;
    if (r.vhost && safe_get(r.vhost, &vh) && vh)
      n = safe_strcpy(g_scratch, kMaxFieldBytes - 8, vh, &cut);
    if (n < 0) {
      w.null();
    } else {
      TextBuf b(g_scratch + n, sizeof g_scratch - static_cast<size_t>(n));
      // Port 0: the vhost's ServerName names no port (it answers on any).
      if (r.vhost_port && safe_get(r.vhost_port, &port) && port != 0) {
        b.ch(':');
        b.udec(port);
      }
      w.str(g_scratch, static_cast<size_t>(n) + b.len, kMaxFieldBytes);
    }
  }
  w.key("client");
  write_indirect(w, r.client_ip ? r.client_ip : s.client_ip, kMaxFieldBytes);
  w.key("local");
  write_indirect(w, s.local_ip, kMaxFieldBytes);
  w.key("handler");
  write_indirect(w, r.handler, kMaxFieldBytes);
  w.key("filename");
  write_indirect(w, r.filename, kMaxPathBytes);
  w.key("phase");
  if (phase != Phase::kNone) s.phase = static_cast<uint8_t>(phase);
  if (s.phase == 0 || s.phase >= static_cast<uint8_t>(Phase::kCount))
    w.null();
  else
    w.str(phase_name(static_cast<Phase>(s.phase)));
  w.key("age_ms");
  if (r.start_us > 0 && now_us >= r.start_us)
    w.i64((now_us - r.start_us) / 1000);
  else
    w.null();
  w.key("connection");
  w.begin_object();
  w.key("id");
  w.i64(s.conn_id);
  w.key("keepalives");
  write_keepalives(w, s.keepalives);
  w.end_object();
  if (!redact) {
    w.key("query");
    write_indirect(w, r.query, kMaxPathBytes);
  }
  w.key("headers");  // last: it is the part cut when the record runs out of room
  write_headers(w, r.headers_in, truncated);
  w.end_object();
}

void write_connection(JsonWriter& w, const ConnSlot* slot) noexcept {
  SlotCopy s{};
  if (!copy_slot(slot, &s)) {
    w.null();
    return;
  }
  w.begin_object();
  w.key("id");
  w.i64(s.conn_id);
  w.key("client");
  write_indirect(w, s.client_ip, kMaxFieldBytes);
  w.key("local");
  write_indirect(w, s.local_ip, kMaxFieldBytes);
  w.key("keepalives");
  write_keepalives(w, s.keepalives);
  w.end_object();
}

void read_request_brief(const ConnSlot* slot, RequestBrief* out) noexcept {
  *out = RequestBrief{};
  SlotCopy s{};
  RequestRefs r{};
  if (!copy_slot(slot, &s) || !s.request || !safe_get(s.request, &r)) return;
  out->present = true;
  out->key_hash = r.key_hash;
  const char* p = nullptr;
  bool cut = false;
  if (r.method && safe_get(r.method, &p) && p)
    if (safe_strcpy(out->method, sizeof out->method, p, &cut) < 0) out->method[0] = '\0';
  p = nullptr;
  if (r.path && safe_get(r.path, &p) && p) {
    long n = safe_strcpy(out->path, sizeof out->path, p, &cut);
    if (n < 0)
      out->path[0] = '\0';
    else if (cut && n >= 3)
      out->path[n - 1] = out->path[n - 2] = out->path[n - 3] = '.';
  }
}

}  // namespace selfheal::crash
