// Symbolizing crash frames offline with elfutils (libdwfl/libdw), by build-id.
//
// A frame is (module path, module-relative offset, build-id). The offset is pc minus the
// module's load bias (dl_iterate_phdr's dlpi_addr), i.e. an address in the ELF file's own
// virtual address space, so each object is reported to libdwfl at bias 0.
//
// Finding the object: the file at the frame's module path when its build-id matches the
// recorded one, else /usr/lib/debug/.build-id/xx/rest.debug. Separate debug info is found by
// libdwfl's standard search (.gnu_debuglink beside the file, in .debug/ and under
// /usr/lib/debug, and /usr/lib/debug/.build-id). When symbols are missing the result says so
// in a sentence, with the package that would provide them when dpkg knows.
//
// Frames other than the first are return addresses: pass return_address=true and pc-1 is
// looked up, so a call at the end of a function is attributed to the right line.
//
// Results are cached per (build-id or path, looked-up offset); objects are opened once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "records/reader.h"

namespace selfhealctl {

struct SourceFrame {
  std::string function;  // demangled; "??" when unknown
  std::string file;      // source file as recorded in DWARF; empty when unknown
  int line = 0;
  int column = 0;
  bool inlined = false;  // this source frame was inlined into the next one
};

struct Symbolized {
  bool has_function = false;       // a function name is known (symbol table or DWARF)
  bool has_lines = false;          // file:line are known (DWARF)
  std::vector<SourceFrame> chain;  // innermost first; the last one is the real function
  std::string object;              // the ELF file used, empty when none was found
  std::string debug_file;          // separate debug info used, if any
  std::string problem;             // plain sentence when symbols are missing or doubtful
  std::string package_hint;        // e.g. "install libapr1-dbgsym"; may be empty
};

// What package owns a file (dpkg -S). Returns {found, text}: found=true with the package
// name, or found=false with a sentence ("dpkg does not know /x", "dpkg is not available").
using PackageLookup = std::function<std::pair<bool, std::string>(const std::string& path)>;
std::pair<bool, std::string> dpkg_package_of(const std::string& path);

struct SymbolizerOptions {
  std::string debug_root = "/usr/lib/debug";
  PackageLookup package_lookup = dpkg_package_of;
};

class Symbolizer {
 public:
  explicit Symbolizer(SymbolizerOptions opts = {});
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  const Symbolized& symbolize(const selfheal::records::Frame& f, bool return_address);

  // Short one-line form: "func (file.c:12)" / "func" / "mod.so+0x1a2b".
  static std::string brief(const selfheal::records::Frame& f, const Symbolized& s);

  size_t cache_size() const { return cache_.size(); }
  size_t objects_opened() const { return objects_.size(); }

 private:
  struct Object;
  Object& object_for(const selfheal::records::Frame& f);
  std::string package_hint_for(const std::string& path);

  SymbolizerOptions opts_;
  std::map<std::string, std::unique_ptr<Object>> objects_;  // by build-id, or "path:" + path
  std::map<std::pair<std::string, uint64_t>, Symbolized> cache_;
  std::map<std::string, std::string> hints_;
};

// Build-id of an ELF file as lowercase hex; empty when unreadable or absent.
std::string elf_build_id(const std::string& path);

}  // namespace selfhealctl
