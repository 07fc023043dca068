// Reading crash logs (schema 1, JSON lines; see README "Crash record format").
//
// httpd-free and reusable (selfhealctl, tests, benchmarks). The reader never throws on bad
// input and never drops a line silently: every line it cannot use becomes a Skipped entry
// naming the file, the 1-based line number and why. What it skips:
//   - a last line without its newline that does not parse (a write cut short),
//   - binary data (NUL or control bytes, invalid UTF-8),
//   - interleaved records (two records on one line; the complete one is still recovered),
//   - JSON that is not a crash record, lacks a required field or has a field of the wrong type,
//   - records of a schema this reader does not know (newer writers),
//   - lines longer than kMaxLineBytes (records are at most 64 KiB).
// Blank lines carry nothing and are ignored.
//
// NOT for use in a signal handler (allocates, uses nlohmann::json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace selfheal::records {

inline constexpr int kReaderSchema = 1;
inline constexpr size_t kMaxLineBytes = 1u << 20;  // generous: a record is at most 64 KiB

struct Frame {
  uint64_t pc = 0;
  std::optional<std::string> module;  // full path as recorded; nullopt: pc in no loaded object
  uint64_t offset = 0;                // module-relative
  std::string build_id;               // lowercase hex, may be empty
};

struct Module {
  std::string path;
  uint64_t base = 0;
  std::string build_id;
};

struct Request {
  // Absent or unreadable (null) string fields are empty; `*_known` is not tracked per field.
  std::string method, path, protocol, host, vhost, client, local, handler, filename, phase, query;
  int64_t age_ms = -1;
  int64_t tid = 0;                                           // in_flight entries only
  std::vector<std::pair<std::string, std::string>> headers;  // sorted by name
};

struct Signal {
  std::string name;  // "SIGSEGV"
  int number = 0;
  std::string code;     // "SEGV_MAPERR"
  std::string address;  // "0x0"
  std::optional<int64_t> sender_pid;
};

struct CrashRecord {
  int schema = 0;
  std::string id;
  std::string time;     // as recorded (or rebuilt from time_us when absent)
  int64_t time_us = 0;  // microseconds since the epoch, UTC
  int64_t pid = 0, ppid = 0, tid = 0;
  std::string hostname, httpd, mpm;
  int64_t generation = 0, uptime_ms = -1, requests_served = -1, rss_kb = -1;
  Signal signal;
  std::string signature;            // 16 hex digits
  bool signature_computed = false;  // absent in the record: recomputed from frames
  std::vector<std::pair<std::string, std::string>> registers;  // sorted by name
  std::vector<Frame> frames;
  bool frames_truncated = false;
  std::vector<Module> modules;
  std::optional<Request> request;
  std::optional<nlohmann::json> connection;
  std::vector<Request> in_flight;
  int64_t folded = 0;
  bool truncated = false;

  // Where it came from.
  std::string file;
  size_t line = 0;
  nlohmann::json raw;  // the whole record, only with ReadOptions::keep_raw
};

struct Skipped {
  std::string file;
  size_t line = 0;
  std::string reason;
};

struct ReadOptions {
  bool keep_raw = false;  // keep the parsed JSON of each record (selfhealctl show)
  // Leave out `modules` and `registers` (most of a record's bytes; only `show` prints them):
  // about twice as fast. Records read this way have empty modules and registers; the left-out
  // parts are still checked to be valid JSON, but not decoded, so a record whose only fault is
  // a module field of the wrong type is kept here and skipped by a full read.
  bool summary = false;
};

struct ReadResult {
  std::vector<CrashRecord> records;
  std::vector<Skipped> skipped;
  size_t lines = 0;  // non-blank lines seen
  // A file that could not be opened or read: {file, strerror}. Not a Skipped line.
  std::vector<std::pair<std::string, std::string>> errors;
};

// Parses one line (without its newline). On success fills `out` (file/line left as is) and
// returns true; otherwise sets `reason`. Never throws.
bool parse_record(std::string_view line, CrashRecord& out, std::string& reason,
                  const ReadOptions& opts = {});

// Incremental reading: feed bytes as they arrive (selfhealctl follow), finish at EOF.
class LineReader {
 public:
  LineReader(std::string file, ReadOptions opts = {}) : file_(std::move(file)), opts_(opts) {}

  // Consumes bytes; complete lines are parsed into `out`.
  void feed(std::string_view bytes, ReadResult& out);
  // End of input: a pending partial line is damage ("truncated last line").
  void finish(ReadResult& out);
  // The input was cut (copytruncate) or replaced (rotation): a pending partial line is damage,
  // numbering restarts at 1 under `new_file`.
  void restart(std::string new_file, ReadResult& out, std::string_view why);
  bool has_partial() const { return !partial_.empty() || overlong_; }
  const std::string& file() const { return file_; }
  size_t line() const { return line_; }

 private:
  void take_line(std::string_view line, ReadResult& out);
  void damage_partial(ReadResult& out, std::string_view why);

  std::string file_;
  ReadOptions opts_;
  std::string partial_;
  size_t line_ = 0;        // lines completed so far
  bool overlong_ = false;  // current line passed kMaxLineBytes; rest is discarded
  size_t overlong_bytes_ = 0;
};

// Reads a whole file. Open errors go to ReadResult::errors; never throws.
void read_file(const std::string& path, ReadResult& out, const ReadOptions& opts = {});
ReadResult read_files(const std::vector<std::string>& paths, const ReadOptions& opts = {});

// Helpers shared with grouping and the CLI.
std::string format_time_us(int64_t time_us);               // "2026-11-24T07:01:02.123456Z"
std::optional<int64_t> parse_iso8601(std::string_view s);  // -> time_us; nullopt if invalid
std::string basename_of(std::string_view path);
std::string hex_u64(uint64_t v);  // "0x1a2b"

}  // namespace selfheal::records
