// Walks what httpd parsed into the httpd-free model: ap_conftree (file and line of
// every directive, sections as subtrees), the loaded modules, the MPM, the run
// user, ServerRoot, PidFile, CoreDumpDirectory and the directive names every
// loaded module provides (for .htaccess checks).
//
// walk_config_tree() reads only the tree, complete once the files are read, so
// config_prebuild.cpp runs it beside httpd's own processing of the tree;
// add_server_facts() reads what that processing sets (User, PidFile, ...) or may change
// (the module list).
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/model.h"
#include "config_hooks.h"

#include "ap_mpm.h"
#include "http_main.h"
#include "mpm_common.h"
#include "unixd.h"
#include "util_cfgtree.h"

namespace selfheal::glue {
namespace {

struct Walker {
  selfheal::cfg::Model& m;
  std::unordered_map<const char*, int> files;  // a file's directives share one name pointer
  const char* last_name = nullptr;
  int last_id = -1;

  int file(const char* name) {
    if (name == last_name && last_id >= 0) return last_id;
    auto it = files.find(name);
    const int id = it != files.end() ? it->second : m.intern_file(name ? name : "");
    if (it == files.end()) files.emplace(name, id);
    last_name = name;
    last_id = id;
    return id;
  }

  // Iterative pre-order walk over httpd's own links (first_child, next, parent), so a
  // deep tree cannot overflow the stack; only the model indices of the open ancestors
  // are kept. The model keeps views of directive/args: ap_conftree lives in pconf,
  // which outlives it. A node without a name is skipped with its subtree.
  void walk(const ap_directive_t* d) {
    std::vector<int> open;  // model index of the parent of each open level
    int parent = -1;
    while (d) {
      if (d->directive) {
        const int idx = m.add_borrowed(d->directive, d->args ? d->args : "", file(d->filename),
                                       d->line_num, parent);
        if (d->first_child) {
          open.push_back(parent);
          parent = idx;
          d = d->first_child;
          continue;
        }
      }
      while (d && !d->next) {  // last of its level: climb to the parent's next sibling
        d = d->parent;
        if (!d || open.empty()) return;  // past the top level (or a parent never entered)
        parent = open.back();
        open.pop_back();
      }
      if (d) d = d->next;
    }
  }
};

std::string base_name(const char* n) {
  std::string_view s = n ? n : "";
  const size_t slash = s.find_last_of('/');
  return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

}  // namespace

void add_module_facts(selfheal::cfg::Model& m) {
  for (module** mp = ap_loaded_modules; mp && *mp; ++mp)
    m.modules.push_back(base_name((*mp)->name));
  if (const char* mpm = ap_show_mpm()) m.mpm = mpm;
}

void walk_config_tree(selfheal::cfg::Model& m, const ap_directive_t* root) {
  size_t n = 0;  // reserve: 10,000 vhosts are ~80,000 directives
  for (const ap_directive_t* d = root; d;) {
    ++n;
    if (d->first_child) {
      d = d->first_child;
      continue;
    }
    while (d && !d->next) d = d->parent;
    if (d) d = d->next;
  }
  m.dirs.reserve(n);
  Walker w{m, {}};
  w.walk(root);
  m.finalize();
}

void add_server_facts(selfheal::cfg::Model& m, apr_pool_t* p) {
  // Here, not in the walk: a module may add modules while the tree is processed (mod_perl).
  for (module* mod = ap_top_module; mod; mod = mod->next)
    for (const command_rec* c = mod->cmds; c && c->name; ++c) {
      std::string name = selfheal::cfg::to_lower(c->name);
      if (!name.empty() && name.front() == '<') name.erase(0, 1);
      m.known_directives.insert(std::move(name));
    }
  if (ap_server_root) m.server_root = ap_server_root;

  m.run_user = ap_unixd_config.user_name ? ap_unixd_config.user_name : "";
  m.run_uid = static_cast<long>(ap_unixd_config.user_id);
  m.run_gid = static_cast<long>(ap_unixd_config.group_id);
  if (m.run_uid == static_cast<long>(static_cast<uid_t>(-1))) m.run_uid = -1;
  if (m.run_gid == static_cast<long>(static_cast<gid_t>(-1))) m.run_gid = -1;

  if (ap_pid_fname) {
    if (const char* pid = ap_runtime_dir_relative(p, ap_pid_fname)) m.pid_file = pid;
  }
  if (ap_coredumpdir_configured) m.coredump_dir = ap_coredump_dir;
}

}  // namespace selfheal::glue
