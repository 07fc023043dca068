// Configuration model: tree storage, derivation of vhosts/listens, text parser.
#include "core/config_model.h"

#include <algorithm>
#include <cctype>

namespace selfheal::cfg {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::vector<std::string> split_args(std::string_view raw, std::vector<bool>* quoted) {
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = raw.size();
  while (true) {
    while (i < n && std::isspace(static_cast<unsigned char>(raw[i]))) ++i;
    if (i >= n) break;
    std::string word;
    const char q = raw[i];
    if (q == '"' || q == '\'') {
      ++i;
      while (i < n && raw[i] != q) {
        if (raw[i] == '\\' && i + 1 < n && (raw[i + 1] == q || raw[i + 1] == '\\')) ++i;
        word += raw[i++];
      }
      if (i < n) ++i;  // closing quote
      if (quoted) quoted->push_back(true);
    } else {
      while (i < n && !std::isspace(static_cast<unsigned char>(raw[i]))) word += raw[i++];
      if (quoted) quoted->push_back(false);
    }
    out.push_back(std::move(word));
  }
  return out;
}

int Model::intern_file(std::string_view path) {
  for (size_t i = files.size(); i-- > 0;)  // usually the last one
    if (files[i] == path) return static_cast<int>(i);
  files.emplace_back(path);
  return static_cast<int>(files.size() - 1);
}

int Model::add(std::string_view name, std::string_view args, int file, int line, int parent) {
  Directive d;
  d.name = std::string(name);
  d.section = !name.empty() && name.front() == '<';
  d.lname = to_lower(d.section ? name.substr(1) : name);
  std::string_view a = args;
  while (!a.empty() && std::isspace(static_cast<unsigned char>(a.back()))) a.remove_suffix(1);
  if (d.section && !a.empty() && a.back() == '>') a.remove_suffix(1);
  d.raw_args = std::string(a);
  d.args = split_args(d.raw_args);
  d.file = file;
  d.line = line;
  d.parent = parent;
  dirs.push_back(std::move(d));
  const int idx = static_cast<int>(dirs.size() - 1);
  if (parent < 0)
    roots.push_back(idx);
  else
    dirs[static_cast<size_t>(parent)].children.push_back(idx);
  return idx;
}

namespace {

Address parse_address(std::string_view s) {
  Address a;
  std::string_view host = s;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close != std::string_view::npos) {
      host = s.substr(1, close - 1);
      if (close + 1 < s.size() && s[close + 1] == ':') port = s.substr(close + 2);
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') == colon) {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  a.host = to_lower(host);
  if (!port.empty() && port != "*") a.port = std::atoi(std::string(port).c_str());
  return a;
}

Listen parse_listen(const Directive& d) {
  Listen l;
  if (d.args.empty()) return l;
  const std::string& s = d.args[0];
  const bool all_digits =
      !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits) {
    l.port = std::atoi(s.c_str());
  } else {
    Address a = parse_address(s);
    l.host = a.host;
    l.port = a.port;
  }
  if (d.args.size() > 1) l.protocol = to_lower(d.args[1]);
  return l;
}

}  // namespace

void Model::finalize() {
  by_name_.clear();
  vhosts.clear();
  listens.clear();
  // Pre-order walk so that vhost membership flows from parents to children.
  std::vector<int> stack(roots.rbegin(), roots.rend());
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    Directive& d = dirs[static_cast<size_t>(i)];
    by_name_[d.lname].push_back(i);
    d.vhost = d.parent >= 0 ? dirs[static_cast<size_t>(d.parent)].vhost : -1;
    if (d.section && d.lname == "virtualhost") {
      VHost v;
      v.dir = i;
      for (const std::string& a : d.args) v.addrs.push_back(parse_address(a));
      vhosts.push_back(std::move(v));
      d.vhost = static_cast<int>(vhosts.size() - 1);
    }
    for (auto it = d.children.rbegin(); it != d.children.rend(); ++it) stack.push_back(*it);
  }
  // Order of by_name_ lists is document order: pre-order gives that.
  server_values_.assign(vhosts.size() + 1, {});
  for (size_t i = 0; i < dirs.size(); ++i) {
    const int d = static_cast<int>(i);
    if (!dirs[i].section && server_level(d))  // dirs are in document order: last wins
      server_values_[static_cast<size_t>(dirs[i].vhost + 1)][dirs[i].lname] = d + 1;
  }
  for (VHost& v : vhosts) {
    for (int c : dirs[static_cast<size_t>(v.dir)].children) {
      const Directive& d = dirs[static_cast<size_t>(c)];
      if (d.lname == "servername" && !d.args.empty()) {
        std::string n = d.args[0];
        if (const size_t p = n.find("://"); p != std::string::npos) n = n.substr(p + 3);
        if (!n.empty() && n.front() != '[') {
          if (const size_t colon = n.find(':'); colon != std::string::npos) n.resize(colon);
        }
        v.server_name = to_lower(n);
        v.server_name_dir = c;
      } else if (d.lname == "serveralias") {
        for (const std::string& a : d.args) v.aliases.emplace_back(to_lower(a), c);
      }
    }
    std::string addrs;
    for (const std::string& a : dirs[static_cast<size_t>(v.dir)].args) {
      if (!addrs.empty()) addrs += ' ';
      addrs += a;
    }
    v.label = v.server_name.empty() ? addrs : v.server_name + " (" + addrs + ")";
  }
  for (int i : all("listen")) {
    Listen l = parse_listen(dirs[static_cast<size_t>(i)]);
    l.dir = i;
    listens.push_back(std::move(l));
  }
  mpm_ = mpm;
  if (mpm_.empty()) {
    for (const char* name : {"event", "worker", "prefork"})
      if (std::find(modules.begin(), modules.end(), std::string(name) + ".c") != modules.end())
        mpm_ = name;
  }
}

const std::vector<int>& Model::all(std::string_view lname) const {
  static const std::vector<int> kEmpty;
  auto it = by_name_.find(std::string(lname));
  return it == by_name_.end() ? kEmpty : it->second;
}

bool Model::has_module(std::string_view short_name) const {
  const std::string a = "mod_" + std::string(short_name) + ".c";
  const std::string b = std::string(short_name) + "_module";
  const std::string c = std::string(short_name) + ".c";
  for (const std::string& m : modules)
    if (m == a || m == b || m == c) return true;
  return false;
}

bool Model::threaded_mpm() const { return mpm_ == "event" || mpm_ == "worker"; }

const std::string& Model::file_of(int d) const {
  static const std::string kNone;
  const int f = dirs[static_cast<size_t>(d)].file;
  return f >= 0 && static_cast<size_t>(f) < files.size() ? files[static_cast<size_t>(f)] : kNone;
}

bool Model::server_level(int d) const {
  const int p = dirs[static_cast<size_t>(d)].parent;
  return p < 0 || dirs[static_cast<size_t>(p)].lname == "virtualhost";
}

int Model::server_value(std::string_view lname, int v) const {
  if (server_values_.empty()) return -1;  // not finalized
  const std::string key(lname);
  if (v >= 0 && static_cast<size_t>(v) + 1 < server_values_.size()) {
    auto it = server_values_[static_cast<size_t>(v) + 1].find(key);
    if (it != server_values_[static_cast<size_t>(v) + 1].end()) return it->second - 1;
  }
  auto it = server_values_[0].find(key);
  return it == server_values_[0].end() ? -1 : it->second - 1;
}

std::string Model::resolve(std::string_view path) const {
  if (path.empty() || path.front() == '/') return std::string(path);
  std::string root = server_root;
  if (!root.empty() && root.back() != '/') root += '/';
  return root + std::string(path);
}

std::string Model::effective_pid_file() const {
  if (!pid_file.empty()) return pid_file;
  const int d = main_value("pidfile");
  if (d < 0 || dirs[static_cast<size_t>(d)].args.empty()) return {};
  const std::string& p = dirs[static_cast<size_t>(d)].args[0];
  if (!p.empty() && p.front() == '/') return p;
  std::string rt = runtime_dir;
  if (rt.empty()) {
    const int r = main_value("defaultruntimedir");
    rt = (r >= 0 && !dirs[static_cast<size_t>(r)].args.empty())
             ? resolve(dirs[static_cast<size_t>(r)].args[0])
             : server_root;
  }
  if (!rt.empty() && rt.back() != '/') rt += '/';
  return rt + p;
}

std::string Model::effective_coredump_dir() const {
  if (!coredump_dir.empty()) return coredump_dir;
  const int d = main_value("coredumpdirectory");
  if (d < 0 || dirs[static_cast<size_t>(d)].args.empty()) return {};
  return resolve(dirs[static_cast<size_t>(d)].args[0]);
}

std::string Model::vhost_label(int v) const {
  if (v < 0 || static_cast<size_t>(v) >= vhosts.size()) return {};
  return vhosts[static_cast<size_t>(v)].label;
}

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
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
    if (!l.empty() && l.front() != '#') {
      size_t sp = 0;
      while (sp < l.size() && !std::isspace(static_cast<unsigned char>(l[sp]))) ++sp;
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
