// Byte-level scanning of crash-log lines (see json_scan.h).
#include "records/json_scan.h"

namespace selfheal::records {

// Counts bytes that cannot be in a JSON text line: control bytes and invalid UTF-8.
size_t non_text_bytes(std::string_view s) {
  size_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\r') ++bad;
      ++i;
      continue;
    }
    size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size() && c >= 0xc2 && c <= 0xf4;
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok) {
      i += n;
    } else {
      ++bad;
      ++i;
    }
  }
  return bad;
}

// End (one past the closing brace) of the JSON object starting at `start`, or npos.
size_t object_end(std::string_view s, size_t start) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{')
      ++depth;
    else if (c == '}' && --depth == 0)
      return i + 1;
  }
  return std::string_view::npos;
}

// End of the JSON string starting at s[i] == '"' (one past the closing quote), or npos.
size_t string_end(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return i + 1;
  }
  return std::string_view::npos;
}

// End of the JSON value starting at s[i] (an object, array, string or scalar), or npos.
size_t value_end(std::string_view s, size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return string_end(s, i);
  if (s[i] != '[' && s[i] != '{') {
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
    return i;
  }
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      i = string_end(s, i);
      if (i == std::string_view::npos) return i;
      --i;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

namespace {

// A fast validating JSON scanner (no values built): what json::accept says, several times
// faster. Used on the parts of a record that summary reading leaves out.
class JsonValidator {
 public:
  explicit JsonValidator(std::string_view s) : s_(s) {}
  bool run() {
    ws();
    if (!value(0)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool digits() {
    size_t b = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > b;
  }
  bool number() {
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0')
      ++i_;
    else if (!digits())
      return false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    return true;
  }
  bool string() {
    ++i_;  // opening quote
    size_t start = i_;
    bool plain = true;
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        if (!plain && non_text_bytes(s_.substr(start, i_ - start)) != 0) return false;
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) plain = false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_])))
              return false;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++i_;
    }
    return false;
  }
  bool value(int depth) {
    if (depth > 64 || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return true;
      }
      for (;;) {
        if (c == '{') {
          if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
          ws();
          if (i_ >= s_.size() || s_[i_] != ':') return false;
          ++i_;
          ws();
        }
        if (!value(depth + 1)) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == close) {
          ++i_;
          return true;
        }
        if (s_[i_] != ',') return false;
        ++i_;
        ws();
      }
    }
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    return number();
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool valid_json(std::string_view s) {
  return JsonValidator(s).run();
}

// The record without its top-level "modules" and "registers" members (most of its bytes),
// found by a string-aware scan that is much cheaper than building them as JSON values.
// False when the line does not look like a JSON object; the caller then parses it whole.
bool without_bulk(std::string_view s, std::string& out) {
  size_t i = s.find_first_not_of(" \t");
  if (i == std::string_view::npos || s[i] != '{') return false;
  out.clear();
  out.reserve(s.size() / 2);
  size_t copied = 0;  // s[copied, ...) not yet copied
  ++i;
  for (;;) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    if (i >= s.size() || s[i] == '}') break;
    if (s[i] != '"') return false;
    size_t key_start = i, key_end = string_end(s, i);
    if (key_end == std::string_view::npos) return false;
    size_t colon = key_end;
    while (colon < s.size() && s[colon] == ' ') ++colon;
    if (colon >= s.size() || s[colon] != ':') return false;
    size_t v = colon + 1;
    while (v < s.size() && s[v] == ' ') ++v;
    size_t end = value_end(s, v);
    if (end == std::string_view::npos) return false;
    std::string_view key = s.substr(key_start, key_end - key_start);
    if (key == "\"modules\"" || key == "\"registers\"") {
      // Left out only if it is valid JSON: the result must be what the full parse accepts.
      if (!valid_json(s.substr(v, end - v))) return false;
      out.append(s.substr(copied, key_start - copied));
      out.append(key);
      out.append(":null");
      copied = end;
    }
    i = end;
  }
  out.append(s.substr(copied));
  return true;
}

}  // namespace selfheal::records
