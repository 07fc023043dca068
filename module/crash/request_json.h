// The request / connection objects of the crash record, read from the glue's ConnSlot and
// RequestRefs through fault-tolerant copies (a stale pointer gives null, never a fault).
#pragma once

#include <cstddef>
#include <cstdint>

#include "crash/json_writer.h"
#include "selfheal/request_slot.h"

namespace selfheal::crash {

inline constexpr size_t kMaxPathBytes = 2048;  // path, filename
inline constexpr size_t kMaxFieldBytes = 512;  // other strings, header values
inline constexpr size_t kMaxHeaderKeyBytes = 128;
inline constexpr int kMaxHeaders = 100;
inline constexpr int kMaxInFlight = 64;

// True for the headers whose values are never written (Authorization, Proxy-Authorization,
// Cookie, Set-Cookie; case-insensitive). Async-signal-safe.
bool header_is_secret(const char* key, size_t n) noexcept;

// Writes the request in flight on slot (an address from the glue; may be stale) as a request
// object, or null when there is none. tid >= 0 adds a "tid" member (in_flight entries).
// Sets *truncated when headers were cut to fit the record. phase, when not kNone, is the phase
// read off the crashing thread's backtrace and wins over the coarse one the glue stored.
// Async-signal-safe; uses static scratch buffers (one writer at a time).
void write_request(JsonWriter& w, const ConnSlot* slot, bool redact, int64_t now_us, long tid,
                   bool* truncated, Phase phase = Phase::kNone) noexcept;

// Writes the connection object of slot, or null. Async-signal-safe.
void write_connection(JsonWriter& w, const ConnSlot* slot) noexcept;

// Whether slot has a request in flight (readable, non-null). Async-signal-safe.
bool slot_has_request(const ConnSlot* slot) noexcept;

// Method, path and quarantine key of the request on slot, for the summary line and the
// CrashSummary. Async-signal-safe.
struct RequestBrief {
  bool present = false;
  char method[32] = {};
  char path[512] = {};  // cut paths end with "..."
  uint64_t key_hash = 0;
};
void read_request_brief(const ConnSlot* slot, RequestBrief* out) noexcept;

}  // namespace selfheal::crash
