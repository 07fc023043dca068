// A JSON writer over a fixed buffer, for the crash record. Async-signal-safe: no allocation,
// no locale, no exceptions; every member function may be called from a signal handler.
//
// Strings: quotes, backslashes and control characters are escaped; valid UTF-8 passes
// through; each byte of invalid UTF-8 is written as \u00XX. A string cut at its length cap
// ends with "…" (U+2026), and the cut never splits a UTF-8 sequence.
//
// Size cap: writes are checked against limit = capacity - reserve. A write that does not fit
// sets failed() and makes every later write a no-op until rollback(). The pattern is
//     auto m = w.mark(); ...write one element...; if (w.failed()) { w.rollback(m); cut }
// Closing brackets always may use the reserve, and the record's tail is written with
// set_hard(true), so a record can always be closed as valid JSON.
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal::crash {

class JsonWriter {
 public:
  static constexpr int kMaxDepth = 32;

  JsonWriter(char* buf, size_t capacity, size_t reserve) noexcept;

  void begin_object() noexcept;
  void end_object() noexcept;
  void begin_array() noexcept;
  void end_array() noexcept;
  void key(const char* k) noexcept;  // then exactly one value
  // A member name from s[0..n), cut like str() to at most max_bytes of input.
  void key(const char* s, size_t n, size_t max_bytes) noexcept;

  void null() noexcept;
  void boolean(bool v) noexcept;
  void i64(int64_t v) noexcept;
  void u64(uint64_t v) noexcept;
  void hex(uint64_t v) noexcept;                        // "0x1f" (a string)
  void hex_bytes(const uint8_t* p, size_t n) noexcept;  // "0a1b..." (a string)
  void str(const char* s) noexcept;                     // null pointer writes null
  // Writes s[0..n) as a string, cut to at most max_bytes of input (with "…" appended).
  void str(const char* s, size_t n, size_t max_bytes) noexcept;

  struct Mark {
    size_t len;
    int depth;
    uint32_t need_comma;
    bool after_key;
    bool failed;  // a mark taken after a failed write rolls back to "still failed"
  };
  Mark mark() const noexcept { return Mark{len_, depth_, need_comma_, after_key_, failed_}; }
  void rollback(const Mark& m) noexcept;  // undoes writes after m, and their failure

  bool failed() const noexcept { return failed_; }
  void set_hard(bool hard) noexcept { hard_ = hard; }
  int depth() const noexcept { return depth_; }
  size_t size() const noexcept { return len_; }
  const char* data() const noexcept { return buf_; }
  // Appends a raw byte (e.g. the final '\n'), allowed into the reserve.
  void raw(char c) noexcept;

 private:
  void put(const char* s, size_t n) noexcept;
  void put_c(char c) noexcept { put(&c, 1); }
  void before_value() noexcept;
  void escaped(const char* s, size_t n) noexcept;
  void quoted(const char* s, size_t n, size_t max_bytes) noexcept;

  char* buf_;
  size_t cap_;
  size_t limit_;
  size_t len_ = 0;
  int depth_ = 0;
  uint32_t need_comma_ = 0;  // bit d: the container at depth d already has an element
  bool after_key_ = false;
  bool failed_ = false;
  bool hard_ = false;
};

// Length of the valid UTF-8 sequence starting at s (n bytes available), or 0 when the bytes
// there are not valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF are
// invalid). Async-signal-safe.
size_t utf8_sequence_length(const unsigned char* s, size_t n) noexcept;

}  // namespace selfheal::crash
