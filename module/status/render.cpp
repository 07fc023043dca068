// The status renderers' shared pieces: escaping, names and stamps (see status/render.h).
// Not async-signal-safe, like every renderer here.
#include "status/render.h"

#include <string>

#include "crash/asfmt.h"
#include "crash/names.h"

#include "status/common.h"

namespace selfheal {

using namespace status_detail;

// ---- helpers -----------------------------------------------------------------------------

std::string status_utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (ok) {  // reject overlongs, surrogates, > U+10FFFF
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
          (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        ok = false;
    }
    if (ok) {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

std::string status_html_escape(std::string_view in) {
  std::string s = status_utf8_sanitize(in);
  std::string o;
  o.reserve(s.size() + 16);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          o += "\xef\xbf\xbd";  // control characters: never raw in the page
        else
          o += ch;
    }
  }
  return o;
}

std::string status_prom_label_escape(std::string_view in) {
  std::string s = status_utf8_sanitize(in);
  std::string o;
  o.reserve(s.size() + 8);
  for (char c : s) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '"')
      o += "\\\"";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

std::string status_signal_name(int signo) {
  const char* name = crash::signal_name_or_null(signo);
  return name ? name : "SIG" + std::to_string(signo);
}

std::string status_time_utc(int64_t time_us) {
  if (time_us == 0) return "";
  char buf[32];
  return std::string(buf, crash::format_iso8601_utc(time_us, buf, /*usec=*/false));
}

std::string status_signature_hex(uint64_t signature) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, signature);
  return buf;
}

// ---- HTML --------------------------------------------------------------------------------

}  // namespace selfheal
