// Output helpers (see output.h).
#include "output.h"

#include <ctime>
#include <ostream>

namespace selfhealctl {

using selfheal::records::basename_of;
using selfheal::records::Counted;
using selfheal::records::Frame;
using selfheal::records::Group;
using selfheal::records::hex_u64;

ojson frame_json(const Frame& f, const Symbolized* sym) {
  ojson j;
  j["module"] = f.module ? ojson(*f.module) : ojson(nullptr);
  j["offset"] = hex_u64(f.offset);
  j["build_id"] = f.build_id.empty() ? ojson(nullptr) : ojson(f.build_id);
  const SourceFrame* top = (sym && !sym->chain.empty()) ? &sym->chain.front() : nullptr;
  auto put = [](ojson& o, const SourceFrame* s) {
    o["function"] = s && s->function != "??" ? ojson(s->function) : ojson(nullptr);
    o["file"] = s && !s->file.empty() ? ojson(s->file) : ojson(nullptr);
    o["line"] = s && s->line > 0 ? ojson(s->line) : ojson(nullptr);
  };
  put(j, top);
  ojson inl = ojson::array();
  if (sym)
    for (size_t i = 1; i < sym->chain.size(); ++i) {
      ojson o;
      put(o, &sym->chain[i]);
      inl.push_back(o);
    }
  j["inlined_into"] = inl;
  return j;
}

ojson group_json(const Group& g, Symbolizer* symbolizer) {
  ojson j;
  j["signature"] = g.signature;
  j["count"] = g.count;
  j["records"] = g.records;
  j["folded"] = g.folded;
  j["first_seen"] = selfheal::records::format_time_us(g.first_us);
  j["last_seen"] = selfheal::records::format_time_us(g.last_us);
  j["signal"] = g.signal;
  ojson frames = ojson::array();
  for (size_t k = 0; k < g.top_frames.size(); ++k) {
    const Frame& f = g.top_frames[k];
    const Symbolized* s = symbolizer ? &symbolizer->symbolize(f, g.top_index[k] > 0) : nullptr;
    frames.push_back(frame_json(f, s));
  }
  j["top_frames"] = frames;
  ojson paths = ojson::array(), vhosts = ojson::array();
  for (const Counted& c : g.paths) paths.push_back({{"path", c.value}, {"count", c.count}});
  for (const Counted& c : g.vhosts) vhosts.push_back({{"vhost", c.value}, {"count", c.count}});
  j["paths"] = paths;
  j["vhosts"] = vhosts;
  j["no_request"] = g.no_request;
  j["pids"] = g.pids;
  j["ids"] = g.ids;
  return j;
}

ojson skipped_json(const std::vector<selfheal::records::Skipped>& skipped) {
  ojson a = ojson::array();
  for (const auto& s : skipped)
    a.push_back({{"file", s.file}, {"line", s.line}, {"reason", s.reason}});
  return a;
}

void print_warnings(const selfheal::records::ReadResult& r, std::ostream& err) {
  for (const auto& [file, why] : r.errors)
    err << "selfhealctl: cannot read " << file << ": " << why << "\n";
  for (const auto& s : r.skipped)
    err << "selfhealctl: warning: " << s.file << ":" << s.line << ": skipped: " << s.reason << "\n";
}

std::string table_time(int64_t time_us) {
  std::string t = selfheal::records::format_time_us(time_us);  // 2026-11-24T07:01:02.123456Z
  return t.substr(0, 10) + " " + t.substr(11, 8) + "Z";
}

std::string join_counted(const std::vector<Counted>& v, size_t top) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < top; ++i) {
    if (i) s += ", ";
    s += v[i].value + " (" + std::to_string(v[i].count) + ")";
  }
  if (v.size() > top) s += ", " + std::to_string(v.size() - top) + " more";
  return s;
}

namespace {

// "ns::f(int, std::string)" -> "ns::f": the argument list is noise in a one-line summary.
std::string without_params(const std::string& fn) {
  if (fn.empty() || fn.back() != ')') return fn;
  int depth = 0;
  for (size_t i = fn.size(); i-- > 0;) {
    if (fn[i] == ')')
      ++depth;
    else if (fn[i] == '(' && --depth == 0)
      return i > 0 ? fn.substr(0, i) : fn;
  }
  return fn;
}

bool system_header(const std::string& file) {
  return file.rfind("/usr/include/", 0) == 0 || file.rfind("/usr/lib/gcc/", 0) == 0;
}

}  // namespace

std::string frame_line(const Frame& f, const Symbolized* sym) {
  std::string where = f.module ? basename_of(*f.module) + "+" + hex_u64(f.offset)
                               : "(no module) pc " + hex_u64(f.pc);
  if (!sym || !sym->has_function || sym->chain.empty()) return where;
  // The innermost frame that is not inlined library code (std::string's constructor tells
  // nothing about the bug); the whole chain is in `show`.
  size_t k = 0;
  while (k + 1 < sym->chain.size() && system_header(sym->chain[k].file)) ++k;
  const SourceFrame& top = sym->chain[k];
  std::string r = without_params(top.function);
  if (top.line > 0) r += " at " + basename_of(top.file) + ":" + std::to_string(top.line);
  if (top.inlined) r += " (inlined)";
  return r + "  [" + where + "]";
}

std::string pad_right(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
std::string pad_left(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace selfhealctl
