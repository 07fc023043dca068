// Async-signal-safe formatting (see asfmt.h). Nothing here allocates, locks or reads locale.
#include "crash/asfmt.h"

namespace selfheal::crash {

void TextBuf::put(const char* s, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    if (len >= cap) {
      overflow = true;
      return;
    }
    p[len++] = s[i];
  }
}

void TextBuf::str(const char* s) noexcept {
  if (!s) s = "(null)";
  put(s, cstr_len(s));
}

void TextBuf::udec(uint64_t v) noexcept {
  char tmp[24];
  int i = 0;
  do {
    tmp[i++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (i) ch(tmp[--i]);
}

void TextBuf::dec(int64_t v) noexcept {
  if (v < 0) {
    ch('-');
    udec(static_cast<uint64_t>(-(v + 1)) + 1);
  } else {
    udec(static_cast<uint64_t>(v));
  }
}

void TextBuf::hex(uint64_t v) noexcept {
  char tmp[24];
  put(tmp, format_hex(v, tmp));
}

void TextBuf::udec_pad(uint64_t v, int width) noexcept {
  char tmp[24];
  int i = 0;
  do {
    tmp[i++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && i < 24);
  while (i < width && i < 24) tmp[i++] = '0';
  while (i) ch(tmp[--i]);
}

size_t cstr_len(const char* s) noexcept {
  size_t n = 0;
  if (s)
    while (s[n]) ++n;
  return n;
}

size_t cstr_nlen(const char* s, size_t max) noexcept {
  size_t n = 0;
  if (s)
    while (n < max && s[n]) ++n;
  return n;
}

bool ascii_iequal(const char* a, size_t an, const char* b) noexcept {
  for (size_t i = 0; i < an; ++i) {
    char x = a[i], y = b[i];
    if (!y) return false;
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return b[an] == '\0';
}

void cstr_copy(char* dst, size_t cap, const char* src) noexcept {
  if (!cap) return;
  size_t i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

const char* path_basename(const char* path) noexcept {
  if (!path) return nullptr;
  const char* b = path;
  for (const char* q = path; *q; ++q)
    if (*q == '/') b = q + 1;
  return b;
}

size_t format_hex(uint64_t v, char* out) noexcept {
  static const char kHex[] = "0123456789abcdef";
  char tmp[16];
  int i = 0;
  do {
    tmp[i++] = kHex[v & 0xf];
    v >>= 4;
  } while (v);
  size_t n = 0;
  out[n++] = '0';
  out[n++] = 'x';
  while (i) out[n++] = tmp[--i];
  out[n] = '\0';
  return n;
}

CivilTime civil_from_us(int64_t us) noexcept {
  CivilTime t{};
  int64_t secs = us / 1000000;
  int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  t.usec = static_cast<int>(frac);
  t.hour = static_cast<int>(rem / 3600);
  t.minute = static_cast<int>(rem % 3600 / 60);
  t.second = static_cast<int>(rem % 60);
  t.weekday = static_cast<int>((days % 7 + 11) % 7);  // 1970-01-01 was a Thursday (4)
  // civil_from_days (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = y + (t.month <= 2 ? 1 : 0);
  return t;
}

// "HH:MM:SS.uuuuuu", the part both time formats share. Async-signal-safe.
static void put_clock(TextBuf& b, const CivilTime& t, bool usec = true) noexcept {
  b.udec_pad(static_cast<uint64_t>(t.hour), 2);
  b.ch(':');
  b.udec_pad(static_cast<uint64_t>(t.minute), 2);
  b.ch(':');
  b.udec_pad(static_cast<uint64_t>(t.second), 2);
  if (!usec) return;
  b.ch('.');
  b.udec_pad(static_cast<uint64_t>(t.usec), 6);
}

size_t format_iso8601_utc(int64_t us, char* out, bool usec) noexcept {
  CivilTime t = civil_from_us(us);
  TextBuf b(out, 31);
  if (t.year < 0) b.ch('-');
  b.udec_pad(static_cast<uint64_t>(t.year < 0 ? -t.year : t.year), 4);
  b.ch('-');
  b.udec_pad(static_cast<uint64_t>(t.month), 2);
  b.ch('-');
  b.udec_pad(static_cast<uint64_t>(t.day), 2);
  b.ch('T');
  put_clock(b, t, usec);
  b.ch('Z');
  out[b.len] = '\0';
  return b.len;
}

void format_errlog_stamp(TextBuf& b, int64_t us, long gmtoff) noexcept {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  CivilTime t = civil_from_us(us + static_cast<int64_t>(gmtoff) * 1000000);
  b.str(kDays[t.weekday]);
  b.ch(' ');
  b.str(kMonths[t.month - 1]);
  b.ch(' ');
  b.udec_pad(static_cast<uint64_t>(t.day), 2);
  b.ch(' ');
  put_clock(b, t);
  b.ch(' ');
  b.dec(t.year);
}

}  // namespace selfheal::crash
