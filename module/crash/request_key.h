// The quarantine key of the request in flight on the crashing thread, computed in the signal
// handler exactly as the request path computes it (quarantine_key_hash_parts over the parts
// chosen by SelfHealQuarantineKey), plus the strings the shared-memory table shows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "selfheal/request_slot.h"
#include "shm/table.h"

namespace selfheal::crash {

struct RequestKey {
  bool present = false;
  uint64_t hash = 0;             // 0: no request
  char text[kShmKeyChars] = {};  // the key text (cut to fit)
  char method[kShmMethodChars] = {};
  char vhost[kShmVhostChars] = {};  // "server_hostname:port" (":port" left out for port 0)
};

// Reads the request on slot (may be stale: every read is fault-tolerant) and fills out. With
// redact, a query in the key text reads "[redacted]" (the hash still covers it).
// Async-signal-safe; uses static scratch buffers (one writer at a time).
void read_request_key(const ConnSlot* slot, uint32_t key_parts, bool redact,
                      RequestKey* out) noexcept;

}  // namespace selfheal::crash
