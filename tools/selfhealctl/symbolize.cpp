// Offline symbolization with libdwfl (see symbolize.h).
#include "symbolize.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace selfhealctl {

using selfheal::records::basename_of;
using selfheal::records::Frame;
using selfheal::records::hex_u64;

namespace {

std::string demangle(const char* name) {
  if (!name) return "??";
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status == 0 && d) {
    std::string s = d;
    std::free(d);
    return s;
  }
  std::free(d);
  return name;
}

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* s = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    s = dwarf_formstring(&attr);
  if (s) return demangle(s);
  if (dwarf_attr_integrate(die, DW_AT_name, &attr)) s = dwarf_formstring(&attr);
  return s ? s : "??";
}

std::string hex_bytes(const void* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 15];
  }
  return s;
}

// Debian's merged /usr: dpkg may know a file under the other spelling.
std::string usrmerge_alternative(const std::string& p) {
  if (p.rfind("/usr/", 0) == 0) return p.substr(4);
  for (const char* d : {"/lib/", "/lib64/", "/bin/", "/sbin/"})
    if (p.rfind(d, 0) == 0) return "/usr" + p;
  return {};
}

}  // namespace

std::string elf_build_id(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  elf_version(EV_CURRENT);
  std::string id;
  if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
    const void* p = nullptr;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &p);
    if (n > 0 && p) id = hex_bytes(p, static_cast<size_t>(n));
    elf_end(elf);
  }
  ::close(fd);
  return id;
}

std::pair<bool, std::string> dpkg_package_of(const std::string& path) {
  auto run = [](const std::string& p, std::string& out) -> int {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return -1;
    }
    if (pid == 0) {
      ::dup2(fds[1], 1);
      int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, 2);
      const char* argv[] = {"dpkg", "-S", p.c_str(), nullptr};
      ::execvp("dpkg", const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string tried = path;
  for (const std::string& p : {path, usrmerge_alternative(path)}) {
    if (p.empty()) continue;
    std::string out;
    int rc = run(p, out);
    if (rc == 127 || rc < 0)
      return {false, "dpkg is not available to say which package ships " + path};
    if (rc != 0) continue;
    size_t start = 0;
    while (start < out.size()) {
      size_t nl = out.find('\n', start);
      std::string line =
          out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? out.size() : nl + 1;
      if (line.rfind("diversion ", 0) == 0) continue;
      size_t colon = line.find(": ");
      if (colon == std::string::npos) continue;
      std::string pkg = line.substr(0, colon);
      pkg = pkg.substr(0, pkg.find(','));
      pkg = pkg.substr(0, pkg.find(':'));
      if (!pkg.empty()) return {true, pkg};
    }
  }
  return {false, "dpkg does not know " + tried + " (not installed from a Debian package)"};
}

struct Symbolizer::Object {
  Dwfl_Callbacks callbacks{};
  std::string debuginfo_path;
  char* debuginfo_path_ptr = nullptr;
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  bool has_dwarf = false;
  std::string path, debug_file, problem, hint;

  ~Object() {
    if (dwfl) dwfl_end(dwfl);
  }
};

Symbolizer::Symbolizer(SymbolizerOptions opts) : opts_(std::move(opts)) {
  elf_version(EV_CURRENT);
}
Symbolizer::~Symbolizer() = default;

std::string Symbolizer::package_hint_for(const std::string& path) {
  auto it = hints_.find(path);
  if (it != hints_.end()) return it->second;
  std::string hint;
  if (opts_.package_lookup) {
    auto [found, text] = opts_.package_lookup(path);
    hint = found ? "symbols come from " + text + "-dbgsym (apt-get install " + text +
                       "-dbgsym, from the Debian debug archive)"
                 : text;
  }
  hints_.emplace(path, hint);
  return hint;
}

Symbolizer::Object& Symbolizer::object_for(const Frame& f) {
  const std::string module = f.module.value_or("");
  std::string key = !f.build_id.empty() ? f.build_id : "path:" + module;
  auto it = objects_.find(key);
  if (it != objects_.end()) return *it->second;
  auto obj = std::make_unique<Object>();
  Object& o = *obj;
  objects_.emplace(key, std::move(obj));

  std::string build_id_file;
  if (f.build_id.size() > 2)
    build_id_file = opts_.debug_root + "/.build-id/" + f.build_id.substr(0, 2) + "/" +
                    f.build_id.substr(2) + ".debug";
  std::string why;
  if (!module.empty() && file_exists(module)) {
    std::string on_disk = elf_build_id(module);
    if (f.build_id.empty() || on_disk == f.build_id) {
      o.path = module;
      if (f.build_id.empty()) why = "no build-id was recorded, so " + module + " is used unchecked";
    } else {
      why = module + " on this machine is a different build (build-id " +
            (on_disk.empty() ? std::string("none") : on_disk.substr(0, 12) + "…") +
            ") than the one that crashed; it was probably upgraded since";
    }
  } else if (!module.empty()) {
    why = module + " is not on this machine";
  }
  if (o.path.empty() && !build_id_file.empty() && file_exists(build_id_file)) {
    o.path = build_id_file;
    o.debug_file = build_id_file;
    why.clear();
  }
  if (o.path.empty()) {
    o.problem = (why.empty() ? "the object is unknown" : why) +
                (build_id_file.empty() ? std::string("; no build-id recorded")
                                       : "; no debug file " + build_id_file);
    if (!module.empty()) o.hint = package_hint_for(module);
    return o;
  }
  o.problem = why;

  o.debuginfo_path = ":.debug:" + opts_.debug_root;
  o.debuginfo_path_ptr = o.debuginfo_path.data();
  o.callbacks.find_elf = dwfl_build_id_find_elf;
  o.callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  o.callbacks.section_address = dwfl_offline_section_address;
  o.callbacks.debuginfo_path = &o.debuginfo_path_ptr;
  o.dwfl = dwfl_begin(&o.callbacks);
  if (!o.dwfl) {
    o.problem = std::string("libdwfl: ") + dwfl_errmsg(-1);
    return o;
  }
  dwfl_report_begin(o.dwfl);
  // Bias 0: frame offsets are addresses in the file's own address space.
  o.mod = dwfl_report_elf(o.dwfl, basename_of(module.empty() ? o.path : module).c_str(),
                          o.path.c_str(), -1, 0, /*add_p_vaddr=*/true);
  dwfl_report_end(o.dwfl, nullptr, nullptr);
  if (!o.mod) {
    o.problem = "libdwfl cannot read " + o.path + ": " + dwfl_errmsg(-1);
    return o;
  }
  Dwarf_Addr bias = 0;
  o.has_dwarf = dwfl_module_getdwarf(o.mod, &bias) != nullptr;
  const char* mainfile = nullptr;
  const char* debugfile = nullptr;
  dwfl_module_info(o.mod, nullptr, nullptr, nullptr, nullptr, nullptr, &mainfile, &debugfile);
  if (debugfile && o.debug_file.empty() && o.path != debugfile) o.debug_file = debugfile;
  if (!o.has_dwarf) {
    std::string p = "no debug info for " + basename_of(module.empty() ? o.path : module);
    if (!build_id_file.empty()) p += " (looked for " + build_id_file + " and .gnu_debuglink)";
    p += ": function names from the symbol table only, no file:line";
    o.problem = o.problem.empty() ? p : o.problem + "; " + p;
    if (!module.empty()) o.hint = package_hint_for(module);
  }
  return o;
}

const Symbolized& Symbolizer::symbolize(const Frame& f, bool return_address) {
  uint64_t addr = f.offset - ((return_address && f.offset > 0) ? 1 : 0);
  std::string key = !f.build_id.empty() ? f.build_id : "path:" + f.module.value_or("");
  auto ck = std::make_pair(key, addr);
  auto hit = cache_.find(ck);
  if (hit != cache_.end()) return hit->second;
  Symbolized& s = cache_[ck];
  if (!f.module) {
    s.problem = "the pc is in no loaded object (a call through a bad function pointer?)";
    return s;
  }
  Object& o = object_for(f);
  s.object = o.path;
  s.debug_file = o.debug_file;
  s.problem = o.problem;
  s.package_hint = o.hint;
  if (!o.mod) return s;

  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = o.has_dwarf ? dwfl_module_addrdie(o.mod, addr, &bias) : nullptr;
  // Innermost location: the line table at addr.
  std::string file;
  int line = 0, col = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(o.mod, addr)) {
    const char* src = dwfl_lineinfo(l, nullptr, &line, &col, nullptr, nullptr);
    if (src) file = src;
  }
  if (cudie) {
    Dwarf_Die* scopes = nullptr;
    int n = dwarf_getscopes(cudie, addr - bias, &scopes);
    // Past an inlined instance dwarf_getscopes continues in the abstract definition; the
    // concrete callers come from dwarf_getscopes_die on the innermost inlined instance.
    for (int i = 0; i < n; ++i) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag == DW_TAG_subprogram) break;
      if (tag != DW_TAG_inlined_subroutine) continue;
      Dwarf_Die* concrete = nullptr;
      int m = dwarf_getscopes_die(&scopes[i], &concrete);
      if (m > 0) {
        std::free(scopes);
        scopes = concrete;
        n = m;
      } else {
        std::free(concrete);
      }
      break;
    }
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = nullptr;
    for (int i = 0; i < n; ++i) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
      SourceFrame sf;
      sf.function = die_function_name(&scopes[i]);
      sf.file = file;
      sf.line = line;
      sf.column = col;
      sf.inlined = tag == DW_TAG_inlined_subroutine;
      s.chain.push_back(sf);
      if (!sf.inlined) break;
      // The caller's location is the call site of the inlined body.
      Dwarf_Attribute a;
      Dwarf_Word v = 0;
      file.clear();
      line = col = 0;
      if (files && dwarf_attr(&scopes[i], DW_AT_call_file, &a) && dwarf_formudata(&a, &v) == 0)
        if (const char* cf = dwarf_filesrc(files, v, nullptr, nullptr)) file = cf;
      if (dwarf_attr(&scopes[i], DW_AT_call_line, &a) && dwarf_formudata(&a, &v) == 0)
        line = static_cast<int>(v);
      if (dwarf_attr(&scopes[i], DW_AT_call_column, &a) && dwarf_formudata(&a, &v) == 0)
        col = static_cast<int>(v);
    }
    std::free(scopes);
  }
  if (s.chain.empty()) {
    GElf_Off off = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(o.mod, addr, &off, &sym, nullptr, nullptr, nullptr);
    if (name || !file.empty()) {
      SourceFrame sf;
      sf.function = name ? demangle(name) : "??";
      sf.file = file;
      sf.line = line;
      sf.column = col;
      s.chain.push_back(sf);
    }
  }
  for (const SourceFrame& sf : s.chain) {
    if (sf.function != "??") s.has_function = true;
    if (!sf.file.empty() && sf.line > 0) s.has_lines = true;
  }
  if (!s.has_function && s.problem.empty())
    s.problem = "no symbol covers " + hex_u64(f.offset) + " in " + o.path;
  return s;
}

std::string Symbolizer::brief(const Frame& f, const Symbolized& s) {
  std::string where =
      f.module ? basename_of(*f.module) + "+" + hex_u64(f.offset) : "?? " + hex_u64(f.pc);
  if (!s.has_function || s.chain.empty()) return where;
  const SourceFrame& top = s.chain.front();
  std::string r = top.function;
  if (top.line > 0) r += " (" + basename_of(top.file) + ":" + std::to_string(top.line) + ")";
  return r;
}

}  // namespace selfhealctl
