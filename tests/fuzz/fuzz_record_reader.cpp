// fuzz_record_reader: the crash-record reader of selfhealctl (module/records/reader) on
// arbitrary crash-log bytes.
//
// Checks, besides "no crash, no sanitizer finding, no exception":
//  - every non-blank line is accounted for: records + skipped == lines;
//  - feeding the same bytes in arbitrary chunks (selfhealctl follow) gives the same result
//    as feeding them at once;
//  - summary reading (ReadOptions::summary) keeps every record the full read keeps, with the
//    same fields apart from the left-out modules and registers;
//  - a record that was read re-encodes (nlohmann dump) and the raw JSON re-reads equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "records/reader.h"

namespace rr = selfheal::records;

namespace {

bool same_request(const rr::Request& a, const rr::Request& b) {
  return a.method == b.method && a.path == b.path && a.protocol == b.protocol && a.host == b.host &&
         a.vhost == b.vhost && a.client == b.client && a.local == b.local &&
         a.handler == b.handler && a.filename == b.filename && a.phase == b.phase &&
         a.query == b.query && a.age_ms == b.age_ms && a.tid == b.tid && a.headers == b.headers;
}

// Everything but modules, registers, raw, and where the record came from.
bool same_summary(const rr::CrashRecord& a, const rr::CrashRecord& b) {
  if (a.in_flight.size() != b.in_flight.size()) return false;
  for (size_t i = 0; i < a.in_flight.size(); ++i)
    if (!same_request(a.in_flight[i], b.in_flight[i])) return false;
  if (a.request.has_value() != b.request.has_value()) return false;
  if (a.request && !same_request(*a.request, *b.request)) return false;
  if (a.frames.size() != b.frames.size()) return false;
  for (size_t i = 0; i < a.frames.size(); ++i) {
    const auto &x = a.frames[i], &y = b.frames[i];
    if (x.pc != y.pc || x.module != y.module || x.offset != y.offset || x.build_id != y.build_id)
      return false;
  }
  return a.schema == b.schema && a.id == b.id && a.time == b.time && a.time_us == b.time_us &&
         a.pid == b.pid && a.ppid == b.ppid && a.tid == b.tid && a.hostname == b.hostname &&
         a.httpd == b.httpd && a.mpm == b.mpm && a.generation == b.generation &&
         a.uptime_ms == b.uptime_ms && a.requests_served == b.requests_served &&
         a.rss_kb == b.rss_kb && a.signal.name == b.signal.name &&
         a.signal.number == b.signal.number && a.signal.code == b.signal.code &&
         a.signal.address == b.signal.address && a.signal.sender_pid == b.signal.sender_pid &&
         a.signature == b.signature && a.signature_computed == b.signature_computed &&
         a.frames_truncated == b.frames_truncated && a.connection == b.connection &&
         a.folded == b.folded && a.truncated == b.truncated && a.line == b.line;
}

rr::ReadResult read_all(std::string_view bytes, const rr::ReadOptions& opts) {
  rr::ReadResult out;
  rr::LineReader r("fuzz.log", opts);
  r.feed(bytes, out);
  r.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte chooses the chunking of the incremental read; the rest is the log.
  const unsigned step = 1u + data[0] % 64u;
  std::string_view log(reinterpret_cast<const char*>(data + 1), size - 1);

  rr::ReadOptions full;
  full.keep_raw = true;
  rr::ReadResult whole = read_all(log, full);
  // Every non-blank line gives a record or a skip (interleaved lines: records and a skip).
  FUZZ_CHECK(whole.records.size() + whole.skipped.size() >= whole.lines);
  for (const auto& s : whole.skipped) {
    FUZZ_CHECK(!s.reason.empty());
    FUZZ_CHECK(s.line >= 1);
  }

  // The same bytes in chunks of `step` (with a restart-free follow) give the same result.
  {
    rr::ReadResult chunked;
    rr::LineReader r("fuzz.log", full);
    for (size_t off = 0; off < log.size(); off += step) r.feed(log.substr(off, step), chunked);
    r.finish(chunked);
    FUZZ_CHECK(chunked.lines == whole.lines);
    FUZZ_CHECK(chunked.records.size() == whole.records.size());
    FUZZ_CHECK(chunked.skipped.size() == whole.skipped.size());
    for (size_t i = 0; i < whole.skipped.size(); ++i) {
      FUZZ_CHECK(chunked.skipped[i].line == whole.skipped[i].line);
      FUZZ_CHECK(chunked.skipped[i].reason == whole.skipped[i].reason);
    }
    for (size_t i = 0; i < whole.records.size(); ++i) {
      FUZZ_CHECK(same_summary(chunked.records[i], whole.records[i]));
      FUZZ_CHECK(chunked.records[i].raw == whole.records[i].raw);
    }
  }

  // Summary reading keeps what the full read keeps, with the same fields.
  {
    rr::ReadOptions sum;
    sum.summary = true;
    rr::ReadResult s = read_all(log, sum);
    FUZZ_CHECK(s.lines == whole.lines);
    FUZZ_CHECK(s.records.size() >= whole.records.size());
    size_t j = 0;
    for (const auto& rec : whole.records) {
      // Records come in order of line; summary may keep extra ones (a bad module field).
      while (j < s.records.size() && !same_summary(s.records[j], rec)) ++j;
      FUZZ_CHECK(j < s.records.size());
      ++j;
    }
  }

  // A record re-read from its own JSON reads back the same.
  for (const auto& rec : whole.records) {
    std::string line = rec.raw.dump();
    rr::CrashRecord again;
    again.line = rec.line;
    std::string reason;
    FUZZ_CHECK(rr::parse_record(line, again, reason));
    FUZZ_CHECK(same_summary(again, rec));
    FUZZ_CHECK(again.modules.size() == rec.modules.size());
    FUZZ_CHECK(again.registers == rec.registers);
  }

  // The single-line entry point must never throw either.
  {
    rr::CrashRecord one;
    std::string reason;
    (void)rr::parse_record(log, one, reason, rr::ReadOptions{});
    (void)rr::parse_iso8601(log.substr(0, 64));
  }
  return 0;
}
