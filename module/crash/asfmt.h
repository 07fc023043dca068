// Async-signal-safe formatting helpers for the crash core: a bounded text buffer, number
// formatting and a UTC civil-date conversion (no libc formatting, no locale, no localtime).
// Every function here is async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace selfheal::crash {

// A bounded, NUL-free text builder over caller storage. Writes past the capacity are dropped
// and remembered in overflow. Async-signal-safe.
struct TextBuf {
  char* p;
  size_t cap;
  size_t len = 0;
  bool overflow = false;

  TextBuf(char* storage, size_t capacity) noexcept : p(storage), cap(capacity) {}
  void put(const char* s, size_t n) noexcept;
  void str(const char* s) noexcept;  // null prints "(null)"
  void ch(char c) noexcept { put(&c, 1); }
  void dec(int64_t v) noexcept;
  void udec(uint64_t v) noexcept;
  void hex(uint64_t v) noexcept;                  // "0x" followed by lowercase digits, no padding
  void udec_pad(uint64_t v, int width) noexcept;  // zero-padded decimal
};

// Async-signal-safe string helpers.
size_t cstr_len(const char* s) noexcept;
size_t cstr_nlen(const char* s, size_t max) noexcept;
bool ascii_iequal(const char* a, size_t an, const char* b) noexcept;  // b is NUL-terminated
void cstr_copy(char* dst, size_t cap, const char* src) noexcept;      // truncating, NUL-terminated
const char* path_basename(const char* path) noexcept;

// Writes "0x" and lowercase hex digits into out (>= 19 bytes), NUL-terminated; returns length.
size_t format_hex(uint64_t v, char* out) noexcept;

struct CivilTime {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
  int hour, minute, second;
  int usec;
  int weekday;  // 0 = Sunday
};
// Microseconds since the epoch (may be negative) to a proleptic Gregorian date in UTC.
CivilTime civil_from_us(int64_t us) noexcept;
// "2026-11-24T07:01:02.123456Z" (or without ".123456" when !usec) into out (>= 32 bytes),
// NUL-terminated; returns length. The one time formatter: records, selfhealctl and the status
// page all print times with it.
size_t format_iso8601_utc(int64_t us, char* out, bool usec = true) noexcept;
// httpd's error-log stamp "Tue Nov 24 07:01:02.123456 2026" for us shifted by gmtoff seconds.
void format_errlog_stamp(TextBuf& b, int64_t us, long gmtoff) noexcept;

}  // namespace selfheal::crash
