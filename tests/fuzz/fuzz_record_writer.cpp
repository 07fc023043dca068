// fuzz_record_writer: the async-signal-safe record writer (module/crash: json_writer,
// request_json, record) fed hostile request data through the glue's structures
// (include/selfheal/request_slot.h), the way the crash handler sees a request.
//
// Mode 0..N (first byte, even): a whole crash record for a request with fuzzed method, path,
// query, host, vhost, handler, filename, addresses and up to 120 headers (arbitrary bytes,
// invalid UTF-8, control characters, secret header names in any case, null pointers). Checks:
//  - one line ending in "}\n", at most 64 KiB, valid JSON;
//  - it reads back through selfhealctl's reader (record_reader) and every request field is
//    what was sent, encoded as the README says (cut at its cap with "…" on a character
//    boundary, each invalid UTF-8 byte as U+00XX);
//  - redaction: values of Authorization / Proxy-Authorization / Cookie / Set-Cookie never
//    appear, nor the query string unless SelfHealRedact is off.
// Odd first byte: JsonWriter alone on a small buffer, elements rolled back at the cap as
// record.cpp does: whatever fits, the closed text is valid JSON within the capacity.
#include <fuzzer/FuzzedDataProvider.h>
#include <signal.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crash/json_writer.h"
#include "crash/record.h"
#include "crash/request_json.h"
#include "crash/safe_read.h"
#include "crash/state.h"
#include "fuzz_check.h"
#include "records/reader.h"
#include "selfheal/crash.h"

namespace crash = selfheal::crash;
namespace rr = selfheal::records;

namespace {

// Every secret header value starts with kHeaderMarker, the query with kQueryMarker.
constexpr std::string_view kHeaderMarker = "H3ADERS3CR3T";
constexpr std::string_view kQueryMarker = "QU3RYS3CR3T";

// What the writer makes of s (a C string: up to its first NUL) cut at max bytes of input.
std::string expect_str(std::string_view s, size_t max) {
  s = s.substr(0, s.find('\0'));
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  size_t take = s.size();
  bool cut = false;
  if (s.size() > max) {
    cut = true;
    take = 0;
    while (take < max) {
      size_t l = crash::utf8_sequence_length(u + take, s.size() - take);
      if (l == 0) l = 1;
      if (take + l > max) break;
      take += l;
    }
  }
  std::string out;
  for (size_t i = 0; i < take;) {
    size_t l = u[i] >= 0x80 ? crash::utf8_sequence_length(u + i, take - i) : 1;
    if (u[i] >= 0x80 && l == 0) {
      // \u00XX reads back as the code point U+00XX: two bytes of UTF-8.
      out += static_cast<char>(0xC0 | (u[i] >> 6));
      out += static_cast<char>(0x80 | (u[i] & 0x3F));
      ++i;
    } else {
      out.append(s.substr(i, l));
      i += l;
    }
  }
  if (cut) out += "\xE2\x80\xA6";
  return out;
}

struct FuzzRequest {
  std::vector<std::string> strs;  // owns every string below
  const char* method = nullptr;
  const char* path = nullptr;
  const char* query = nullptr;
  const char* protocol = nullptr;
  const char* host = nullptr;
  const char* vhost = nullptr;
  unsigned short port = 0;
  const char* handler = nullptr;
  const char* filename = nullptr;
  const char* client_ip = nullptr;
  const char* local_ip = nullptr;
  int keepalives = 0;
  std::vector<selfheal::TableEntryView> headers;
  std::vector<bool> secret;  // per header: its value carries the marker
  selfheal::ArrayHeaderView array{};
  const selfheal::ArrayHeaderView* array_ptr = nullptr;
  selfheal::ConnSlot slot;
};

const char* keep(FuzzRequest& q, std::string s) {
  q.strs.push_back(std::move(s));
  return q.strs.back().c_str();
}

// A string or (sometimes) a null pointer.
const char* field(FuzzedDataProvider& p, FuzzRequest& q, size_t max_len) {
  if (p.ConsumeIntegralInRange<int>(0, 15) == 0) return nullptr;
  std::string s = p.ConsumeRandomLengthString(max_len);
  return keep(q, s.substr(0, s.find('\0')));
}

std::string nullable(const char* p, size_t max) {
  return p ? expect_str(p, max) : std::string();
}

void check_request(const rr::Request& got, const FuzzRequest& q, bool redact, int64_t tid,
                   bool record_truncated) {
  FUZZ_CHECK(got.tid == tid);
  FUZZ_CHECK(got.method == nullable(q.method, crash::kMaxFieldBytes));
  FUZZ_CHECK(got.path == nullable(q.path, crash::kMaxPathBytes));
  FUZZ_CHECK(got.protocol == nullable(q.protocol, crash::kMaxFieldBytes));
  FUZZ_CHECK(got.host == nullable(q.host, crash::kMaxFieldBytes));
  if (q.vhost) {
    // The server name is cut to kMaxFieldBytes - 9 bytes before ":port" is appended (without
    // an ellipsis: ServerName comes from the configuration, not the client); port 0 is left out.
    std::string v = std::string(q.vhost).substr(0, crash::kMaxFieldBytes - 9);
    if (q.port) v += ":" + std::to_string(q.port);
    FUZZ_CHECK(got.vhost == expect_str(v, crash::kMaxFieldBytes));
  } else {
    FUZZ_CHECK(got.vhost.empty());
  }
  FUZZ_CHECK(got.client == nullable(q.client_ip, crash::kMaxFieldBytes));
  FUZZ_CHECK(got.local == nullable(q.local_ip, crash::kMaxFieldBytes));
  FUZZ_CHECK(got.handler == nullable(q.handler, crash::kMaxFieldBytes));
  FUZZ_CHECK(got.filename == nullable(q.filename, crash::kMaxPathBytes));
  FUZZ_CHECK(got.query == (redact ? std::string() : nullable(q.query, crash::kMaxPathBytes)));
  // Headers: the first kMaxHeaders with a non-empty name; a later duplicate name wins (JSON
  // object semantics of the reader); secret ones redacted.
  std::map<std::string, std::string> want;
  int n = static_cast<int>(q.headers.size());
  if (n > crash::kMaxHeaders) n = crash::kMaxHeaders;
  for (int i = 0; i < n; ++i) {
    const auto& h = q.headers[static_cast<size_t>(i)];
    std::string key = h.key;
    if (key.empty()) continue;
    std::string k = expect_str(key, crash::kMaxHeaderKeyBytes);
    if (crash::header_is_secret(key.c_str(), key.size() > 132 ? 132 : key.size()))
      want[k] = "[redacted]";
    else if (!h.val)
      want[k] = "null";
    else
      want[k] = expect_str(h.val, crash::kMaxFieldBytes);
  }
  std::vector<std::pair<std::string, std::string>> wv(want.begin(), want.end());
  if (!record_truncated) {
    if (got.headers != wv) {
      std::fprintf(stderr, "headers: got %zu, want %zu\n", got.headers.size(), wv.size());
      for (size_t i = 0; i < got.headers.size() || i < wv.size(); ++i)
        std::fprintf(stderr, "  [%zu] got %s | want %s\n", i,
                     i < got.headers.size()
                         ? nlohmann::json(got.headers[i])
                               .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                               .c_str()
                         : "-",
                     i < wv.size()
                         ? nlohmann::json(wv[i])
                               .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                               .c_str()
                         : "-");
    }
    FUZZ_CHECK(got.headers == wv);
  } else {
    for (const auto& kv : got.headers)
      FUZZ_CHECK(want.count(kv.first) && want[kv.first] == kv.second);
  }
}

void fuzz_record(FuzzedDataProvider& p) {
  static FuzzRequest* qp = nullptr;
  delete qp;  // one request at a time; the previous one is freed here (not leaked)
  qp = new FuzzRequest;
  FuzzRequest& q = *qp;
  q.strs.reserve(512);
  const bool redact = p.ConsumeBool();
  // Whether a marker also comes in a field that is written (then its absence cannot be checked).
  bool header_marker_elsewhere = false, query_marker_elsewhere = false;
  auto note = [&](const char* s) {
    if (!s) return;
    std::string_view v(s);
    if (v.find(kHeaderMarker) != std::string_view::npos) header_marker_elsewhere = true;
    if (v.find(kQueryMarker) != std::string_view::npos) query_marker_elsewhere = true;
  };
  q.method = field(p, q, 64);
  q.path = field(p, q, 4096);
  q.protocol = field(p, q, 64);
  q.host = field(p, q, 1024);
  q.vhost = field(p, q, 1024);
  q.port = p.ConsumeIntegral<unsigned short>();
  q.handler = field(p, q, 128);
  q.filename = field(p, q, 4096);
  q.client_ip = field(p, q, 64);
  q.local_ip = field(p, q, 64);
  q.keepalives = p.ConsumeIntegral<int>();
  for (const char* s : {q.method, q.path, q.protocol, q.host, q.vhost, q.handler, q.filename,
                        q.client_ip, q.local_ip})
    note(s);
  {
    // The query carries the marker: it must not appear while redaction is on.
    std::string qs = std::string(kQueryMarker) + p.ConsumeRandomLengthString(2048);
    q.query = keep(q, qs.substr(0, qs.find('\0')));
    if (!redact) note(q.query);
  }
  static const char* const kSecretNames[] = {
      "Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie",
      "set-cookie",    "CoOkIe",        "Proxy-Authorization"};
  const int nh = p.ConsumeIntegralInRange<int>(0, 120);
  for (int i = 0; i < nh; ++i) {
    const bool secret = p.ConsumeIntegralInRange<int>(0, 3) == 0;
    const char* key;
    const char* val;
    if (secret) {
      key = kSecretNames[p.ConsumeIntegralInRange<size_t>(0, std::size(kSecretNames) - 1)];
      std::string v = std::string(kHeaderMarker) + p.ConsumeRandomLengthString(600);
      val = keep(q, v.substr(0, v.find('\0')));
    } else {
      key = field(p, q, 200);
      if (!key) key = keep(q, "");
      val = field(p, q, 700);
      note(key);
      note(val);
    }
    q.headers.push_back({key, val, 0});
    q.secret.push_back(secret);
  }
  q.array.elt_size = sizeof(selfheal::TableEntryView);
  q.array.nelts = static_cast<int>(q.headers.size());
  q.array.nalloc = q.array.nelts;
  q.array.elts = reinterpret_cast<char*>(q.headers.data());
  q.array_ptr = &q.array;
  auto& r = q.slot.refs;
  r.method = &q.method;
  r.path = &q.path;
  r.query = &q.query;
  r.protocol = &q.protocol;
  r.host = &q.host;
  r.vhost = &q.vhost;
  r.vhost_port = &q.port;
  r.handler = &q.handler;
  r.filename = &q.filename;
  r.client_ip = &q.client_ip;
  r.headers_in = &q.array_ptr;
  r.start_us = p.ConsumeIntegral<int64_t>();
  q.slot.client_ip = &q.client_ip;
  q.slot.local_ip = &q.local_ip;
  q.slot.keepalives = &q.keepalives;
  q.slot.conn_id = p.ConsumeIntegral<long>();
  q.slot.phase.store(p.ConsumeIntegral<uint8_t>());
  q.slot.request.store(&q.slot.refs);
  const bool with_in_flight = p.ConsumeBool();

  static crash::ThreadEntry entries[2];
  entries[0].tid.store(1);
  entries[0].conn.store(&q.slot);
  entries[1].tid.store(2);
  entries[1].conn.store(with_in_flight ? &q.slot : nullptr);

  static crash::Installed cfg;
  cfg = crash::Installed{};
  cfg.redact = redact;
  siginfo_t si{};
  si.si_signo = SIGSEGV;
  si.si_code = SEGV_MAPERR;
  crash::RecordFacts f;
  f.signo = SIGSEGV;
  f.info = &si;
  f.uc = nullptr;
  f.time_us = 1795503662123456;
  f.pid = 4242;
  f.ppid = 1;
  f.tid = 4242;
  f.bt = nullptr;
  f.signature = 0x0123456789abcdefull;
  f.self = &entries[0];
  f.entries = entries;
  f.n_entries = 2;
  f.cfg = &cfg;

  static char buf[crash::kMaxRecordBytes];
  bool truncated = false;
  const size_t len = crash::build_record(f, buf, sizeof buf, &truncated);
  FUZZ_CHECK(len >= 2 && len <= crash::kMaxRecordBytes);
  std::string_view text(buf, len);
  FUZZ_CHECK(text.substr(len - 2) == "}\n");
  FUZZ_CHECK(text.find('\n') == len - 1);
  FUZZ_CHECK(nlohmann::json::accept(text.substr(0, len - 1)));
  // Secret header values always, the query while redacting: never in the record.
  if (!header_marker_elsewhere) FUZZ_CHECK(text.find(kHeaderMarker) == std::string_view::npos);
  if (redact && !query_marker_elsewhere)
    FUZZ_CHECK(text.find(kQueryMarker) == std::string_view::npos);

  rr::CrashRecord rec;
  std::string reason;
  FUZZ_CHECK(rr::parse_record(text.substr(0, len - 1), rec, reason));
  FUZZ_CHECK(rec.truncated == truncated);
  FUZZ_CHECK(rec.request.has_value());
  check_request(*rec.request, q, redact, 0, truncated);
  if (with_in_flight && !truncated) {
    FUZZ_CHECK(rec.in_flight.size() == 1);
    check_request(rec.in_flight[0], q, redact, 2, truncated);
  }
}

// JsonWriter alone: random well-formed element sequences on a small buffer.
void fuzz_writer(FuzzedDataProvider& p) {
  const size_t cap = p.ConsumeIntegralInRange<size_t>(16, 4096);
  const size_t reserve = p.ConsumeIntegralInRange<size_t>(0, 64);
  std::vector<char> buf(cap);
  crash::JsonWriter w(buf.data(), cap, reserve);
  std::vector<bool> is_obj;  // open containers
  w.begin_object();
  is_obj.push_back(true);
  while (p.remaining_bytes() > 0) {
    const int op = p.ConsumeIntegralInRange<int>(0, 9);
    if (op == 9) {
      if (is_obj.size() > 1) {
        if (is_obj.back())
          w.end_object();
        else
          w.end_array();
        is_obj.pop_back();
      }
      continue;
    }
    auto m = w.mark();
    if (is_obj.back()) {
      std::string k = p.ConsumeRandomLengthString(40);
      w.key(k.data(), k.size(), p.ConsumeIntegralInRange<size_t>(0, 64));
    }
    bool opened = false;
    switch (op) {
      case 0:
        w.null();
        break;
      case 1:
        w.boolean(p.ConsumeBool());
        break;
      case 2:
        w.i64(p.ConsumeIntegral<int64_t>());
        break;
      case 3:
        w.u64(p.ConsumeIntegral<uint64_t>());
        break;
      case 4:
        w.hex(p.ConsumeIntegral<uint64_t>());
        break;
      case 5: {
        std::string s = p.ConsumeRandomLengthString(200);
        w.str(s.data(), s.size(), p.ConsumeIntegralInRange<size_t>(0, 256));
        break;
      }
      case 6: {
        auto b = p.ConsumeBytes<uint8_t>(p.ConsumeIntegralInRange<size_t>(0, 32));
        w.hex_bytes(b.data(), b.size());
        break;
      }
      case 7:
        w.begin_object();
        opened = true;
        break;
      case 8:
        w.begin_array();
        opened = true;
        break;
    }
    if (w.failed()) {
      w.rollback(m);
      FUZZ_CHECK(w.failed() == m.failed);  // a failed closer (no reserve left) stays failed
      continue;
    }
    if (opened) is_obj.push_back(op == 7);
  }
  w.set_hard(true);
  while (!is_obj.empty()) {
    if (is_obj.back())
      w.end_object();
    else
      w.end_array();
    is_obj.pop_back();
  }
  // Closers always fit when the reserve covers the open depth; else the writer said so.
  if (!w.failed()) {
    FUZZ_CHECK(w.depth() == 0);
    FUZZ_CHECK(w.size() <= cap);
    FUZZ_CHECK(nlohmann::json::accept(std::string_view(w.data(), w.size())));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crash::safe_read_init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  if (p.ConsumeIntegral<uint8_t>() & 1)
    fuzz_writer(p);
  else
    fuzz_record(p);
  return 0;
}
