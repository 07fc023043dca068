// Crash log reader (see records/reader.h).
#include "records/reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "crash/asfmt.h"
#include "crash/names.h"
#include "crash/signature.h"
#include "records/json_scan.h"

namespace selfheal::records {
namespace {

using json = nlohmann::json;

constexpr std::string_view kRecordStart = "{\"schema\":";

// A field of the wrong type: parse_record turns it into a skip reason.
struct BadField {
  std::string what;
};

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string str_or_empty(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (!v || v->is_null()) return {};
  if (!v->is_string()) throw BadField{std::string(key) + " is not a string"};
  return v->get<std::string>();
}

int64_t int_or(const json& obj, const char* key, int64_t dflt) {
  const json* v = member(obj, key);
  if (!v || v->is_null()) return dflt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_unsigned()) return static_cast<int64_t>(v->get<uint64_t>());
  throw BadField{std::string(key) + " is not an integer"};
}

bool bool_or(const json& obj, const char* key, bool dflt) {
  const json* v = member(obj, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_boolean()) throw BadField{std::string(key) + " is not a boolean"};
  return v->get<bool>();
}

// Addresses are written as hex strings ("0x7f12..."); numbers are accepted too.
uint64_t addr_or(const json& obj, const char* key, uint64_t dflt) {
  const json* v = member(obj, key);
  if (!v || v->is_null()) return dflt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) return static_cast<uint64_t>(v->get<int64_t>());
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    size_t i = (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0;
    if (i == s.size() || s.size() - i > 16) throw BadField{std::string(key) + " is not an address"};
    uint64_t r = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) throw BadField{std::string(key) + " is not an address"};
      r = (r << 4) | static_cast<uint64_t>(d);
    }
    return r;
  }
  throw BadField{std::string(key) + " is not an address"};
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Request decode_request(const json& r) {
  if (!r.is_object()) throw BadField{"request is not an object"};
  Request q;
  q.method = str_or_empty(r, "method");
  q.path = str_or_empty(r, "path");
  q.protocol = str_or_empty(r, "protocol");
  q.host = str_or_empty(r, "host");
  q.vhost = str_or_empty(r, "vhost");
  q.client = str_or_empty(r, "client");
  q.local = str_or_empty(r, "local");
  q.handler = str_or_empty(r, "handler");
  q.filename = str_or_empty(r, "filename");
  q.phase = str_or_empty(r, "phase");
  q.query = str_or_empty(r, "query");
  q.age_ms = int_or(r, "age_ms", -1);
  q.tid = int_or(r, "tid", 0);
  if (const json* h = member(r, "headers"); h && h->is_object()) {
    for (auto it = h->begin(); it != h->end(); ++it)
      q.headers.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : it->dump());
  }
  return q;
}

bool is_hex16(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The record proper, from a parsed object. Throws BadField.
bool decode(const json& j, CrashRecord& out, std::string& reason) {
  if (!j.is_object()) {
    reason = "not a crash record (JSON " + std::string(j.type_name()) + ", not an object)";
    return false;
  }
  const json* schema = member(j, "schema");
  if (!schema) {
    reason = "not a crash record (no \"schema\" field)";
    return false;
  }
  if (!schema->is_number_integer() && !schema->is_number_unsigned()) {
    reason = "unknown schema " + schema->dump();
    return false;
  }
  int64_t sv = schema->get<int64_t>();
  if (sv > kReaderSchema) {
    reason = "schema " + std::to_string(sv) + " is newer than this reader (knows " +
             std::to_string(kReaderSchema) + "); upgrade selfhealctl";
    return false;
  }
  if (sv < 1) {
    reason = "unknown schema " + std::to_string(sv);
    return false;
  }
  std::string type = str_or_empty(j, "type");
  if (type != "crash") {
    reason = type.empty() ? "not a crash record (no \"type\")"
                          : "record type \"" + type + "\" is not a crash";
    return false;
  }
  CrashRecord r;
  r.schema = static_cast<int>(sv);
  r.id = str_or_empty(j, "id");
  if (r.id.empty()) {
    reason = "crash record without \"id\"";
    return false;
  }
  r.time = str_or_empty(j, "time");
  r.time_us = int_or(j, "time_us", 0);
  if (r.time_us == 0 && !r.time.empty()) {
    auto t = parse_iso8601(r.time);
    if (!t) throw BadField{"time is not ISO-8601"};
    r.time_us = *t;
  }
  if (r.time_us == 0 && r.time.empty()) {
    reason = "crash record without \"time_us\" or \"time\"";
    return false;
  }
  if (r.time.empty()) r.time = format_time_us(r.time_us);
  r.pid = int_or(j, "pid", 0);
  r.ppid = int_or(j, "ppid", 0);
  r.tid = int_or(j, "tid", 0);
  r.hostname = str_or_empty(j, "hostname");
  r.httpd = str_or_empty(j, "httpd");
  r.mpm = str_or_empty(j, "mpm");
  r.generation = int_or(j, "generation", 0);
  r.uptime_ms = int_or(j, "uptime_ms", -1);
  r.requests_served = int_or(j, "requests_served", -1);
  r.rss_kb = int_or(j, "rss_kb", -1);

  const json* sig = member(j, "signal");
  if (!sig || !sig->is_object()) {
    reason = "crash record without a \"signal\" object";
    return false;
  }
  r.signal.name = str_or_empty(*sig, "name");
  r.signal.number = static_cast<int>(int_or(*sig, "number", 0));
  if (r.signal.name.empty()) {
    const char* n = crash::signal_name_or_null(r.signal.number);
    r.signal.name = n ? n : (r.signal.number ? "SIG" + std::to_string(r.signal.number) : "");
  }
  if (r.signal.name.empty()) {
    reason = "crash record without a signal name or number";
    return false;
  }
  r.signal.code = str_or_empty(*sig, "code");
  r.signal.address = str_or_empty(*sig, "address");
  if (const json* sp = member(*sig, "sender_pid"); sp && !sp->is_null())
    r.signal.sender_pid = int_or(*sig, "sender_pid", 0);

  const json* frames = member(j, "frames");
  if (!frames || !frames->is_array()) {
    reason = "crash record without a \"frames\" array";
    return false;
  }
  r.frames.reserve(frames->size());
  for (const json& f : *frames) {
    if (!f.is_object()) throw BadField{"frame is not an object"};
    Frame fr;
    fr.pc = addr_or(f, "pc", 0);
    if (const json* m = member(f, "module"); m && !m->is_null()) {
      if (!m->is_string()) throw BadField{"frame module is not a string"};
      fr.module = m->get<std::string>();
    }
    fr.offset = addr_or(f, "offset", 0);
    fr.build_id = lower(str_or_empty(f, "build_id"));
    r.frames.push_back(std::move(fr));
  }
  r.frames_truncated = bool_or(j, "frames_truncated", false);

  r.signature = lower(str_or_empty(j, "signature"));
  if (!is_hex16(r.signature)) {
    std::vector<SigFrame> sf;
    sf.reserve(r.frames.size());
    for (const Frame& f : r.frames)
      sf.push_back({f.module ? f.module->c_str() : nullptr, f.offset});
    char hex[17];
    signature_hex(crash_signature(r.signal.name.c_str(), sf.data(), sf.size()), hex);
    r.signature = hex;
    r.signature_computed = true;
  }

  if (const json* regs = member(j, "registers"); regs && regs->is_object()) {
    for (auto it = regs->begin(); it != regs->end(); ++it)
      r.registers.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : it->dump());
  }
  if (const json* mods = member(j, "modules"); mods && mods->is_array()) {
    r.modules.reserve(mods->size());
    for (const json& m : *mods) {
      if (!m.is_object()) throw BadField{"module is not an object"};
      r.modules.push_back(
          {str_or_empty(m, "path"), addr_or(m, "base", 0), lower(str_or_empty(m, "build_id"))});
    }
  }
  if (const json* req = member(j, "request"); req && !req->is_null())
    r.request = decode_request(*req);
  if (const json* c = member(j, "connection"); c && !c->is_null()) r.connection = *c;
  if (const json* inf = member(j, "in_flight"); inf && inf->is_array())
    for (const json& q : *inf) r.in_flight.push_back(decode_request(q));
  r.folded = int_or(j, "folded", 0);
  r.truncated = bool_or(j, "truncated", false);

  r.file = std::move(out.file);
  r.line = out.line;
  out = std::move(r);
  return true;
}

std::string short_parse_error(const char* what) {
  // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 5: syntax ..."
  std::string s = what;
  auto p = s.find("] ");
  if (p != std::string::npos) s = s.substr(p + 2);
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

}  // namespace

bool parse_record(std::string_view line, CrashRecord& out, std::string& reason,
                  const ReadOptions& opts) {
  json j;
  std::string reduced;
  if (opts.summary && without_bulk(line, reduced)) {
    j = json::parse(reduced, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) j = json::parse(line, nullptr, false);  // let the full parse explain
  } else {
    j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  }
  if (j.is_discarded()) {
    reason = "not JSON";
    return false;
  }
  try {
    if (!decode(j, out, reason)) return false;
  } catch (const BadField& b) {
    reason = "malformed crash record: " + b.what;
    return false;
  } catch (const std::exception& e) {
    reason = std::string("malformed crash record: ") + e.what();
    return false;
  }
  if (opts.keep_raw) out.raw = std::move(j);
  return true;
}

void LineReader::feed(std::string_view bytes, ReadResult& out) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    if (overlong_) {
      overlong_bytes_ += chunk.size();
    } else if (partial_.size() + chunk.size() > kMaxLineBytes) {
      overlong_ = true;
      overlong_bytes_ = partial_.size() + chunk.size();
      partial_.clear();
      partial_.shrink_to_fit();
    } else if (nl != std::string_view::npos && partial_.empty()) {
      ++line_;  // fast path: the whole line is in this buffer
      take_line(chunk, out);
      bytes.remove_prefix(nl + 1);
      continue;
    } else {
      partial_.append(chunk);
    }
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
    ++line_;
    if (overlong_) {
      out.skipped.push_back({file_, line_,
                             "line too long (" + std::to_string(overlong_bytes_) +
                                 " bytes; a record is at most 64 KiB)"});
      ++out.lines;
      overlong_ = false;
      overlong_bytes_ = 0;
    } else {
      std::string l = std::move(partial_);
      partial_.clear();
      take_line(l, out);
    }
  }
}

void LineReader::take_line(std::string_view line, ReadResult& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // blank
  ++out.lines;
  CrashRecord rec;
  rec.file = file_;
  rec.line = line_;
  std::string reason;
  if (parse_record(line, rec, reason, opts_)) {
    out.records.push_back(std::move(rec));
    return;
  }
  if (reason != "not JSON") {
    out.skipped.push_back({file_, line_, reason});
    return;
  }
  // Not JSON. Recover complete records that start later on the line (interleaved writes,
  // a missing newline, binary garbage before a record), then say what was lost.
  size_t recovered = 0, starts = 0, covered = 0;
  for (size_t pos = line.find(kRecordStart); pos != std::string_view::npos;
       pos = line.find(kRecordStart, pos + 1)) {
    ++starts;
    size_t end = object_end(line, pos);
    if (end == std::string_view::npos) continue;
    CrashRecord part;
    part.file = file_;
    part.line = line_;
    std::string why;
    if (parse_record(line.substr(pos, end - pos), part, why, opts_)) {
      out.records.push_back(std::move(part));
      ++recovered;
      covered += end - pos;
      pos = end - 1;
    }
  }
  size_t first = line.find(kRecordStart);
  size_t bad = non_text_bytes(line);
  std::string msg;
  if (starts > 1) {
    msg = "interleaved or run-together records (" + std::to_string(starts) +
          " record starts on one line)";
  } else if (starts == 1 && first > 0) {
    size_t bad_prefix = non_text_bytes(line.substr(0, first));
    msg = (bad_prefix ? "binary data" : "stray text") + std::string(" before a record (") +
          std::to_string(first) + " bytes)";
  } else if (bad > 0) {
    msg = "binary data (" + std::to_string(bad) + " of " + std::to_string(line.size()) +
          " bytes are not text)";
  } else {
    try {
      json probe = json::parse(line);
      (void)probe;
      msg = "not JSON";
    } catch (const std::exception& e) {
      std::string why = short_parse_error(e.what());
      if (starts == 1 && why.find("end of input") != std::string::npos)
        msg = "record cut short (" + std::to_string(line.size()) + " bytes, the JSON ends early)";
      else
        msg = "not JSON: " + why;
    }
  }
  if (recovered > 0 && covered == line.size())
    msg = std::to_string(recovered) +
          " records run together on one line (a newline is missing); all " +
          std::to_string(recovered) + " recovered";
  else if (recovered > 0)
    msg += "; recovered " + std::to_string(recovered) + " complete record" +
           (recovered > 1 ? "s" : "") + ", the rest is lost";
  out.skipped.push_back({file_, line_, msg});
}

void LineReader::damage_partial(ReadResult& out, std::string_view why) {
  if (!has_partial()) return;
  ++line_;
  ++out.lines;
  size_t n = overlong_ ? overlong_bytes_ : partial_.size();
  // A last line that is complete JSON but lost only its newline is still a record.
  if (!overlong_) {
    CrashRecord rec;
    rec.file = file_;
    rec.line = line_;
    std::string reason;
    if (parse_record(partial_, rec, reason, opts_)) {
      out.records.push_back(std::move(rec));
      partial_.clear();
      return;
    }
  }
  out.skipped.push_back({file_, line_,
                         "truncated last line (" + std::to_string(n) + " bytes, no newline; " +
                             std::string(why) + ")"});
  partial_.clear();
  overlong_ = false;
  overlong_bytes_ = 0;
}

void LineReader::finish(ReadResult& out) {
  damage_partial(out, "the write was cut short");
}

void LineReader::restart(std::string new_file, ReadResult& out, std::string_view why) {
  damage_partial(out, why);
  file_ = std::move(new_file);
  line_ = 0;
}

void read_file(const std::string& path, ReadResult& out, const ReadOptions& opts) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.errors.emplace_back(path, std::strerror(errno));
    return;
  }
  LineReader reader(path, opts);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      out.errors.emplace_back(path, std::strerror(errno));
      break;
    }
    if (n == 0) break;
    reader.feed(std::string_view(buf.data(), static_cast<size_t>(n)), out);
  }
  reader.finish(out);
  ::close(fd);
}

ReadResult read_files(const std::vector<std::string>& paths, const ReadOptions& opts) {
  ReadResult r;
  for (const auto& p : paths) read_file(p, r, opts);
  return r;
}

std::string format_time_us(int64_t time_us) {
  char buf[32];
  return std::string(buf, crash::format_iso8601_utc(time_us, buf));
}

std::optional<int64_t> parse_iso8601(std::string_view s) {
  size_t i = 0;
  auto digits = [&](int n, int& v) {
    if (i + static_cast<size_t>(n) > s.size()) return false;
    v = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int Y, M, D, h = 0, m = 0, sec = 0;
  int64_t frac_us = 0;
  if (!digits(4, Y) || i >= s.size() || s[i++] != '-' || !digits(2, M) || i >= s.size() ||
      s[i++] != '-' || !digits(2, D))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31) return std::nullopt;
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!digits(2, h) || i >= s.size() || s[i++] != ':' || !digits(2, m)) return std::nullopt;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(2, sec)) return std::nullopt;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        int64_t scale = 100000;
        size_t start = i;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
          frac_us += (s[i] - '0') * scale;
          scale /= 10;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (h > 23 || m > 59 || sec > 60) return std::nullopt;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
      ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
      if (!digits(2, oh)) return std::nullopt;
      if (i < s.size() && s[i] == ':') ++i;
      if (i < s.size() && !digits(2, om)) return std::nullopt;
      offset_s = sign * (oh * 3600 + om * 60);
    }
  }
  if (i != s.size()) return std::nullopt;
  struct tm tm {};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  return (static_cast<int64_t>(t) - offset_s) * 1000000 + frac_us;
}

std::string basename_of(std::string_view path) {
  size_t p = path.rfind('/');
  return std::string(p == std::string_view::npos ? path : path.substr(p + 1));
}

std::string hex_u64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace selfheal::records
