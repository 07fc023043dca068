// Byte-level scanning of crash-log lines, without building JSON values: what the reader uses
// to tell damage from data and to find record boundaries in interleaved lines cheaply.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace selfheal::records {

// Bytes that cannot be in a JSON text line: control bytes and invalid UTF-8.
size_t non_text_bytes(std::string_view s);
// End (one past the closing brace) of the JSON object starting at `start`, or npos.
size_t object_end(std::string_view s, size_t start);
// End (one past the closing quote) of the JSON string starting at s[i] == '"', or npos.
size_t string_end(std::string_view s, size_t i);
// End of the JSON value starting at s[i], or npos.
size_t value_end(std::string_view s, size_t i);
// Whether s is exactly one valid JSON value (a strict validator, no allocation).
bool valid_json(std::string_view s);
// The record without its top-level "modules" and "registers" members (most of its bytes);
// false when the line does not look like a JSON object (the caller then parses it whole).
bool without_bulk(std::string_view s, std::string& out);

}  // namespace selfheal::records
