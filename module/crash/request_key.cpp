// The request's quarantine key, read in the signal handler (see request_key.h).
#include "crash/request_key.h"

#include "crash/asfmt.h"
#include "crash/safe_read.h"
#include "shm/quarantine.h"

namespace selfheal::crash {
namespace {

// httpd's request line is at most LimitRequestLine (8190 by default) bytes: a path or query
// longer than this is cut, and its key then differs from the request path's (never refused).
constexpr size_t kMaxKeyPart = 16 * 1024;
char g_path[kMaxKeyPart];
char g_query[kMaxKeyPart];
char g_method[64];
char g_client[128];
char g_vhost[kShmVhostChars];

// *field (a char* in foreign memory), then the string, into dst; "" when unreadable.
const char* read_indirect(const char* const* field, char* dst, size_t cap) noexcept {
  dst[0] = '\0';
  const char* p = nullptr;
  bool cut = false;
  if (field && safe_get(field, &p) && p && safe_strcpy(dst, cap, p, &cut) < 0) dst[0] = '\0';
  return dst;
}

}  // namespace

void read_request_key(const ConnSlot* slot, uint32_t key_parts, bool redact,
                      RequestKey* out) noexcept {
  *out = RequestKey{};
  const RequestRefs* rp = nullptr;
  RequestRefs r{};
  if (!slot || !safe_get(&slot->request, &rp) || !rp || !safe_get(rp, &r)) return;
  out->present = true;

  QuarantineKeyParts k;
  k.method = read_indirect(r.method, g_method, sizeof g_method);
  k.path = read_indirect(r.path, g_path, sizeof g_path);
  read_indirect(r.vhost, g_vhost, sizeof g_vhost - 8);
  unsigned short port = 0;
  if (g_vhost[0] && r.vhost_port && safe_get(r.vhost_port, &port) && port != 0) {
    size_t n = cstr_len(g_vhost);
    TextBuf b(g_vhost + n, sizeof g_vhost - 1 - n);
    b.ch(':');
    b.udec(port);
    g_vhost[n + b.len] = '\0';
  }
  k.vhost = g_vhost;
  if (key_parts & kKeyQuery) k.query = read_indirect(r.query, g_query, sizeof g_query);
  if (key_parts & kKeyClient) {
    const char* const* client = r.client_ip;
    if (!client) safe_get(&slot->client_ip, &client);
    k.client = read_indirect(client, g_client, sizeof g_client);
  }
  out->hash = quarantine_key_hash_parts(key_parts, k);
  if (redact && k.query && k.query[0]) k.query = "[redacted]";
  quarantine_key_format(key_parts, k, out->text, sizeof out->text);
  cstr_copy(out->method, sizeof out->method, g_method);
  cstr_copy(out->vhost, sizeof out->vhost, g_vhost);
}

}  // namespace selfheal::crash
