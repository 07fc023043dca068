// The text form of a configuration (what ap_conftree holds, without Include/IfModule
// resolution) into the model: unit tests, tools and fuzzers build models this way.
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace selfheal::cfg {

void append_config_text(Model& m, std::string_view text, std::string_view file) {
  const int f = m.intern_file(file);
  std::vector<int> open;  // stack of open sections
  int lineno = 0;
  size_t pos = 0;
  std::string logical;
  int start_line = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    if (logical.empty()) start_line = lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\\') {
      line.remove_suffix(1);
      logical.append(line);
      logical += ' ';
      if (pos > text.size()) break;
      continue;
    }
    logical.append(line);
    std::string_view l = logical;
    while (!l.empty() && is_space(l.front())) l.remove_prefix(1);
    while (!l.empty() && is_space(l.back())) l.remove_suffix(1);
    if (!l.empty() && l.front() != '#') {
      size_t sp = 0;
      while (sp < l.size() && !is_space(l[sp])) ++sp;
      std::string_view name = l.substr(0, sp);
      std::string_view args = sp < l.size() ? l.substr(sp + 1) : std::string_view{};
      if (name.size() > 1 && name[0] == '<' && name[1] == '/') {
        if (!open.empty()) open.pop_back();
      } else {
        if (name.size() > 1 && name.front() == '<' && name.back() == '>') {
          name.remove_suffix(1);  // "<Else>"
        }
        const int parent = open.empty() ? -1 : open.back();
        const int idx = m.add(name, args, f, start_line, parent);
        if (m.dirs[static_cast<size_t>(idx)].section) open.push_back(idx);
      }
    }
    logical.clear();
    if (pos > text.size()) break;
  }
}

Model parse_config_text(std::string_view text, std::string_view file) {
  Model m;
  append_config_text(m, text, file);
  return m;
}

}  // namespace selfheal::cfg
