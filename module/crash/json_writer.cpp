// The fixed-buffer JSON writer (see json_writer.h). Async-signal-safe throughout.
#include "crash/json_writer.h"

#include "crash/asfmt.h"

namespace selfheal::crash {

JsonWriter::JsonWriter(char* buf, size_t capacity, size_t reserve) noexcept
    : buf_(buf), cap_(capacity), limit_(reserve < capacity ? capacity - reserve : 0) {}

void JsonWriter::put(const char* s, size_t n) noexcept {
  if (failed_) return;
  size_t lim = hard_ ? cap_ : limit_;
  if (n > lim || len_ > lim - n) {
    failed_ = true;
    return;
  }
  for (size_t i = 0; i < n; ++i) buf_[len_ + i] = s[i];
  len_ += n;
}

void JsonWriter::raw(char c) noexcept {
  bool h = hard_;
  hard_ = true;
  put_c(c);
  hard_ = h;
}

void JsonWriter::rollback(const Mark& m) noexcept {
  len_ = m.len;
  depth_ = m.depth;
  need_comma_ = m.need_comma;
  after_key_ = m.after_key;
  failed_ = m.failed;
}

void JsonWriter::before_value() noexcept {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    uint32_t bit = 1u << (depth_ - 1);
    if (need_comma_ & bit) put_c(',');
    need_comma_ |= bit;
  }
}

void JsonWriter::begin_object() noexcept {
  before_value();
  if (depth_ >= kMaxDepth) {
    failed_ = true;
    return;
  }
  put_c('{');
  ++depth_;
  need_comma_ &= ~(1u << (depth_ - 1));
}

void JsonWriter::end_object() noexcept {
  if (depth_ <= 0) return;
  raw('}');  // closers may use the reserve
  if (!failed_) --depth_;
}

void JsonWriter::begin_array() noexcept {
  before_value();
  if (depth_ >= kMaxDepth) {
    failed_ = true;
    return;
  }
  put_c('[');
  ++depth_;
  need_comma_ &= ~(1u << (depth_ - 1));
}

void JsonWriter::end_array() noexcept {
  if (depth_ <= 0) return;
  raw(']');  // closers may use the reserve
  if (!failed_) --depth_;
}

void JsonWriter::key(const char* k) noexcept {
  key(k, cstr_len(k), static_cast<size_t>(-1));
}

void JsonWriter::null() noexcept {
  before_value();
  put("null", 4);
}

void JsonWriter::boolean(bool v) noexcept {
  before_value();
  if (v)
    put("true", 4);
  else
    put("false", 5);
}

void JsonWriter::u64(uint64_t v) noexcept {
  before_value();
  char tmp[24];
  TextBuf b(tmp, sizeof tmp);
  b.udec(v);
  put(tmp, b.len);
}

void JsonWriter::i64(int64_t v) noexcept {
  before_value();
  char tmp[24];
  TextBuf b(tmp, sizeof tmp);
  b.dec(v);
  put(tmp, b.len);
}

void JsonWriter::hex(uint64_t v) noexcept {
  before_value();
  char tmp[24];
  size_t n = format_hex(v, tmp);
  put_c('"');
  put(tmp, n);
  put_c('"');
}

void JsonWriter::hex_bytes(const uint8_t* p, size_t n) noexcept {
  static const char kHex[] = "0123456789abcdef";
  before_value();
  put_c('"');
  for (size_t i = 0; i < n; ++i) {
    char two[2] = {kHex[p[i] >> 4], kHex[p[i] & 0xf]};
    put(two, 2);
  }
  put_c('"');
}

void JsonWriter::str(const char* s) noexcept {
  if (!s) {
    null();
    return;
  }
  str(s, cstr_len(s), static_cast<size_t>(-1));
}

void JsonWriter::str(const char* s, size_t n, size_t max_bytes) noexcept {
  if (!s) {
    null();
    return;
  }
  before_value();
  quoted(s, n, max_bytes);
}

void JsonWriter::key(const char* s, size_t n, size_t max_bytes) noexcept {
  before_value();
  quoted(s ? s : "", s ? n : 0, max_bytes);
  put_c(':');
  after_key_ = true;
}

void JsonWriter::quoted(const char* s, size_t n, size_t max_bytes) noexcept {
  put_c('"');
  size_t take = n;
  bool cut = false;
  if (n > max_bytes) {
    cut = true;
    // Back off to a character boundary: never split a valid UTF-8 sequence.
    take = 0;
    const auto* u = reinterpret_cast<const unsigned char*>(s);
    while (take < max_bytes) {
      size_t l = utf8_sequence_length(u + take, n - take);
      if (l == 0) l = 1;
      if (take + l > max_bytes) break;
      take += l;
    }
  }
  escaped(s, take);
  if (cut) put("\xE2\x80\xA6", 3);  // U+2026 HORIZONTAL ELLIPSIS
  put_c('"');
}

size_t utf8_sequence_length(const unsigned char* s, size_t n) noexcept {
  if (n == 0) return 0;
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;  // continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

void JsonWriter::escaped(const char* s, size_t n) noexcept {
  static const char kHex[] = "0123456789abcdef";
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n && !failed_) {
    unsigned char c = u[i];
    if (c >= 0x80) {
      size_t l = utf8_sequence_length(u + i, n - i);
      if (l) {
        put(s + i, l);
        i += l;
        continue;
      }
    }
    switch (c) {
      case '"':
        put("\\\"", 2);
        break;
      case '\\':
        put("\\\\", 2);
        break;
      case '\n':
        put("\\n", 2);
        break;
      case '\r':
        put("\\r", 2);
        break;
      case '\t':
        put("\\t", 2);
        break;
      case '\b':
        put("\\b", 2);
        break;
      case '\f':
        put("\\f", 2);
        break;
      default:
        if (c < 0x20 || c >= 0x7F) {
          char e[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          put(e, 6);
        } else {
          put_c(static_cast<char>(c));
        }
    }
    ++i;
  }
}

}  // namespace selfheal::crash
