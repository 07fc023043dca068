// Output helpers shared by crashes, show and follow: the JSON shapes (documented in README
// "## selfhealctl") and the text building blocks.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "records/grouping.h"
#include "records/reader.h"
#include "symbolize.h"

namespace selfhealctl {

using ojson = nlohmann::ordered_json;

// {"module","offset","build_id","function","file","line","inlined_into":[...]}; the
// symbol fields are null when `sym` is null or knows nothing.
ojson frame_json(const selfheal::records::Frame& f, const Symbolized* sym);
// One group, in the documented shape; symbolizes the top frames when `symbolizer` is set.
ojson group_json(const selfheal::records::Group& g, Symbolizer* symbolizer);
ojson skipped_json(const std::vector<selfheal::records::Skipped>& skipped);

// "selfhealctl: FILE:LINE: skipped: REASON" per damaged line, and read errors.
void print_warnings(const selfheal::records::ReadResult& r, std::ostream& err);

// "2026-11-24 07:01:02Z" (seconds precision, for tables).
std::string table_time(int64_t time_us);
// "/a (4), /b (2), 3 more" — at most `top` values.
std::string join_counted(const std::vector<selfheal::records::Counted>& v, size_t top);
// One frame, one line: "func at file.c:12 [mod.so+0x1a]" or "mod.so+0x1a".
std::string frame_line(const selfheal::records::Frame& f, const Symbolized* sym);

std::string pad_right(std::string s, size_t width);
std::string pad_left(std::string s, size_t width);

}  // namespace selfhealctl
