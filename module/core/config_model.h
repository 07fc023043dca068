// The httpd-free configuration model the rules run on.
//
// The glue (module/httpd/config_walk.cpp) fills it from ap_conftree and the
// running server's globals; unit tests fill it from text with parse_config_text().
// Everything derivable from the directive tree (vhosts, names, addresses) is
// derived here by finalize(), so both sources give the same model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace selfheal::cfg {

// One node of the configuration tree. Sections (<Directory ...>) keep their
// name without '<' in `lname` and have section == true; the closing tag is not
// stored (as in ap_conftree).
struct Directive {
  std::string name;      // as written, e.g. "DocumentRoot" or "<VirtualHost"
  std::string lname;     // lower case, without '<': "documentroot", "virtualhost"
  bool section = false;
  std::string raw_args;  // argument text as httpd stored it (section: without '>')
  std::vector<std::string> args;  // raw_args split like ap_getword_conf()
  int file = -1;         // index into Model::files
  int line = 0;
  int parent = -1;       // index into Model::dirs, -1 for top level
  std::vector<int> children;
  int vhost = -1;        // index into Model::vhosts, -1 = main server
};

struct Address {
  std::string host;  // "*", "_default_", "127.0.0.1", "::1", "www.example.com"
  int port = 0;      // 0 = any port ("*" or omitted)
  bool wildcard() const { return host == "*" || host == "_default_"; }
};

struct VHost {
  int dir = -1;  // the <VirtualHost> directive
  std::vector<Address> addrs;
  std::string server_name;  // explicit ServerName (host part), empty if none
  int server_name_dir = -1;
  std::vector<std::pair<std::string, int>> aliases;  // ServerAlias name, directive
  std::string label;        // for findings: "www.example.com (*:443)"
};

struct Listen {
  std::string host;  // empty = all addresses
  int port = 0;
  std::string protocol;  // "http", "https" or empty (defaulted by port)
  int dir = -1;
};

class Model {
 public:
  // ---- filled by the caller ------------------------------------------------
  std::vector<std::string> modules;  // module source names, e.g. "mod_ssl.c", "event.c"
  std::string mpm;                   // "event", "worker", "prefork" ("" = derive from modules)
  std::string server_root = "/etc/apache2";
  std::string run_user;              // name; empty = unknown
  long run_uid = -1, run_gid = -1;   // -1 = unknown
  std::string pid_file;              // absolute; empty = derive from PidFile
  std::string runtime_dir;           // DefaultRuntimeDir, absolute; empty = derive
  std::string coredump_dir;          // absolute; empty = derive from CoreDumpDirectory
  long open_fds = -1;                // descriptors open in the parent (post-config), -1 unknown
  // Directive names every loaded module accepts (lower case); empty = unknown.
  std::unordered_set<std::string> known_directives;

  // ---- the tree --------------------------------------------------------------
  std::vector<std::string> files;
  std::vector<Directive> dirs;
  std::vector<int> roots;

  int intern_file(std::string_view path);
  // Adds a directive under `parent` (-1 = top level). A name starting with '<'
  // is a section; a trailing '>' in its args is dropped. Returns its index.
  int add(std::string_view name, std::string_view args, int file, int line, int parent = -1);

  // Computes vhosts, listens, indices. Call once after the tree is complete.
  void finalize();

  // ---- derived ---------------------------------------------------------------
  std::vector<VHost> vhosts;
  std::vector<Listen> listens;

  const std::vector<int>& all(std::string_view lname) const;  // every directive with that name
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
  // Absolute path, relative ones resolved against server_root (as ap_server_root_relative).
  std::string resolve(std::string_view path) const;
  // PidFile / DefaultRuntimeDir / CoreDumpDirectory resolved (glue values win).
  std::string effective_pid_file() const;
  std::string effective_coredump_dir() const;  // empty = not configured
  // "<VirtualHost *:80> www.example.com" label or "" for the main server.
  std::string vhost_label(int v) const;

 private:
  std::unordered_map<std::string, std::vector<int>> by_name_;
  // Last server-level directive per name: [0] main server, [v + 1] vhost v.
  std::vector<std::unordered_map<std::string, int>> server_values_;
  std::string mpm_;
};

// Splits directive arguments like ap_getword_conf(): whitespace separated,
// "double" or 'single' quoted words with backslash escapes of the quote.
// quoted (optional) receives whether each word was quoted.
std::vector<std::string> split_args(std::string_view raw, std::vector<bool>* quoted = nullptr);

std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Builds a model from httpd-style configuration text (no Include/IfModule
// resolution: what ap_conftree would hold). Used by unit tests and tools.
// Lines ending in '\' continue; '#' starts a comment only at the start of a line.
Model parse_config_text(std::string_view text, std::string_view file = "httpd.conf");
// Appends the text's directives to an existing (not yet finalized) model.
void append_config_text(Model& m, std::string_view text, std::string_view file);

}  // namespace selfheal::cfg
