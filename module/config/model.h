// The httpd-free configuration model the rules run on.
//
// The glue (module/httpd/config_walk.cpp) fills it from ap_conftree and the
// running server's globals; unit tests fill it from text with parse_config_text().
// Everything derivable from the directive tree (vhosts, names, addresses) is
// derived here by finalize(), so both sources give the same model.
//
// Storage: 10,000 vhosts are ~80,000 directives, and the model is built at every
// `httpd -t`, start and restart. So a directive holds views, not copies: its
// name and arguments point into httpd's pool memory (add_borrowed(), the glue) or
// into the model's own arena (add(), text), its split arguments and children are
// spans into flat storage, and its lower-case name is interned once per distinct
// name. A Model is movable (the views stay valid), not copyable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace selfheal::cfg {

// A monotonic arena for the model's strings and small arrays (never freed piecemeal).
class Arena {
 public:
  Arena() = default;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;
  // Inline fast path: a bump of the current chunk; a new chunk only when it is full.
  void* alloc(size_t bytes, size_t align) {
    const uintptr_t at =
        (reinterpret_cast<uintptr_t>(cur_) + (align - 1)) & ~(uintptr_t{align} - 1);
    if (cur_ && at + bytes <= reinterpret_cast<uintptr_t>(end_)) {
      cur_ = reinterpret_cast<char*>(at + bytes);
      return reinterpret_cast<void*>(at);
    }
    return alloc_slow(bytes, align);
  }
  std::string_view copy(std::string_view s);
  template <class T>
  T* array(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    return n ? static_cast<T*>(alloc(n * sizeof(T), alignof(T))) : nullptr;
  }

 private:
  void* alloc_slow(size_t bytes, size_t align);  // align: a power of two
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* cur_ = nullptr;
  char* end_ = nullptr;
};

// One node of the configuration tree. Sections (<Directory ...>) keep their
// name without '<' in `lname` and have section == true; the closing tag is not
// stored (as in ap_conftree).
struct Directive {
  std::string_view name;      // as written, e.g. "DocumentRoot" or "<VirtualHost"
  std::string_view lname;     // lower case, without '<': "documentroot", "virtualhost"
  std::string_view raw_args;  // argument text as httpd stored it (section: without '>')
  std::span<const std::string_view> args;  // raw_args split like ap_getword_conf()
  std::span<const int> children;           // set by finalize(), document order
  int name_id = -1;                        // interned lname (Model::name_id())
  int file = -1;                           // index into Model::files
  int line = 0;
  int parent = -1;  // index into Model::dirs, -1 for top level
  int vhost = -1;   // index into Model::vhosts, -1 = main server
  bool section = false;
  bool hash_word = false;  // an unquoted argument starts with '#' (SYN-001 looks closer)
};

struct Address {
  std::string_view host;  // "*", "_default_", "127.0.0.1", "::1", "www.example.com"
  int port = 0;           // 0 = any port ("*" or omitted)
  bool wildcard() const { return host == "*" || host == "_default_"; }
};

struct VHost {
  int dir = -1;  // the <VirtualHost> directive
  std::span<const Address> addrs;
  std::string_view server_name;  // explicit ServerName (host part), empty if none
  int server_name_dir = -1;
  std::span<const std::pair<std::string_view, int>> aliases;  // ServerAlias name, directive
};

struct Listen {
  std::string_view host;  // empty = all addresses
  int port = 0;
  std::string_view protocol;  // "http", "https" or empty (defaulted by port)
  int dir = -1;
};

class Model {
 public:
  Model() = default;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model(const Model&) = delete;  // views point into this model's arena
  Model& operator=(const Model&) = delete;

  // ---- filled by the caller ------------------------------------------------
  std::vector<std::string> modules;  // module source names, e.g. "mod_ssl.c", "event.c"
  std::string mpm;                   // "event", "worker", "prefork" ("" = derive from modules)
  std::string server_root = "/etc/apache2";
  std::string run_user;             // name; empty = unknown
  long run_uid = -1, run_gid = -1;  // -1 = unknown
  std::string pid_file;             // absolute; empty = derive from PidFile
  std::string runtime_dir;          // DefaultRuntimeDir, absolute; empty = derive
  std::string coredump_dir;         // absolute; empty = derive from CoreDumpDirectory
  long open_fds = -1;               // descriptors open in the parent (post-config), -1 unknown
  // Directive names every loaded module accepts (lower case); empty = unknown.
  std::unordered_set<std::string> known_directives;

  // ---- the tree --------------------------------------------------------------
  std::vector<std::string> files;
  std::vector<Directive> dirs;
  std::vector<int> roots;

  int intern_file(std::string_view path);
  // Adds a directive under `parent` (-1 = top level, else an earlier directive). A
  // name starting with '<' is a section; a trailing '>' in its args is dropped.
  // Returns its index. add() copies name and args into the model.
  int add(std::string_view name, std::string_view args, int file, int line, int parent = -1);
  // Same, but keeps views of name and args: they must outlive the model (httpd's
  // ap_directive_t strings live in the configuration pool).
  int add_borrowed(std::string_view name, std::string_view args, int file, int line,
                   int parent = -1);

  // Computes children, vhosts, listens, indices. Call after the tree is complete.
  void finalize();

  // ---- derived ---------------------------------------------------------------
  std::vector<VHost> vhosts;
  std::vector<Listen> listens;

  const std::vector<int>& all(std::string_view lname) const;  // every directive with that name
  int name_id(std::string_view lname) const;                  // -1 = no such directive
  bool has_module(std::string_view short_name) const;  // "ssl" matches mod_ssl.c / ssl_module
  bool threaded_mpm() const;
  const std::string& effective_mpm() const { return mpm_; }

  const std::string& file_of(int d) const;
  // Server-level scope: directly under the top level or directly under a <VirtualHost>.
  bool server_level(int d) const;
  // Nearest enclosing section of any kind (-1 = server level of its vhost/main).
  int section_of(int d) const { return dirs[static_cast<size_t>(d)].parent; }
  // Last server-level directive `lname` effective for vhost v (-1 = main):
  // the vhost's own, else the main server's. -1 if none.
  int server_value(std::string_view lname, int v) const;
  // Main-server-level directive (last one), -1 if none.
  int main_value(std::string_view lname) const { return server_value(lname, -1); }
  // Server-level directives `lname` of vhost v only (v = -1: the main server's), in order.
  std::vector<int> own_server_level(std::string_view lname, int v) const;
  // Absolute path, relative ones resolved against server_root (as ap_server_root_relative).
  std::string resolve(std::string_view path) const;
  // Same into `out` (reusing its buffer in loops); returns out.
  const std::string& resolve_into(std::string_view path, std::string& out) const;
  // Same, but an absolute path is returned as is (no copy); `buf` holds a resolved one.
  std::string_view resolved(std::string_view path, std::string& buf) const {
    if (!path.empty() && path.front() == '/') return path;
    return resolve_into(path, buf);
  }
  // PidFile / DefaultRuntimeDir / CoreDumpDirectory resolved (glue values win).
  std::string effective_pid_file() const;
  std::string effective_coredump_dir() const;  // empty = not configured
  // "www.example.com (*:443)" label or "" for the main server.
  std::string vhost_label(int v) const;

 private:
  int add_impl(std::string_view name, std::string_view args, int file, int line, int parent,
               bool copy);
  int intern_name(std::string_view name);  // case-insensitive; returns the id
  int find_name(std::string_view name) const;
  int lookup_name(std::string_view name, uint32_t hash, const char* lowered) const;
  std::string_view lower_view(std::string_view s);  // s itself when already lower case
  std::string_view unescape_into_arena(std::string_view word, char quote);

  Arena arena_;
  std::vector<std::string_view> names_;  // id -> lower-case name
  struct NameSlot {
    uint32_t hash = 0;
    uint32_t id = 0;  // id + 1, 0 = empty
  };
  std::vector<NameSlot> name_slots_;       // open addressing on lower-case FNV-1a
  std::vector<std::vector<int>> by_name_;  // id -> directives, document order
  std::vector<int> name_count_;            // id -> directives added with that name
  std::vector<int> open_;                  // ancestors of the last added directive, and it
  bool preorder_ = true;                   // every directive added in document order
  std::vector<int> main_last_;             // id -> last main-server-level directive
  std::vector<int> child_ids_;             // storage of Directive::children
  std::vector<std::string_view> scratch_;  // split_args scratch
  struct SpellSlot {
    std::string_view spelling;  // exact spelling (stable memory) -> id
    int id = -1;
  };
  std::array<SpellSlot, 256> spell_cache_{};
  std::string mpm_;
};

// Splits directive arguments like ap_getword_conf(): whitespace separated,
// "double" or 'single' quoted words with backslash escapes of the quote.
// quoted (optional) receives whether each word was quoted.
std::vector<std::string> split_args(std::string_view raw, std::vector<bool>* quoted = nullptr);

std::string to_lower(std::string_view s);
// isspace() in the "C" locale, without the call (the text parser and the word splitter).
inline bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
bool iequals(std::string_view a, std::string_view b);

// Builds a model from httpd-style configuration text (no Include/IfModule
// resolution: what ap_conftree would hold). Used by unit tests and tools.
// Lines ending in '\' continue; '#' starts a comment only at the start of a line.
Model parse_config_text(std::string_view text, std::string_view file = "httpd.conf");
// Appends the text's directives to an existing (not yet finalized) model.
void append_config_text(Model& m, std::string_view text, std::string_view file);

}  // namespace selfheal::cfg
