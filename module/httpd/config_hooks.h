// Configuration-check glue: the hooks that run the httpd-free
// rule engine (module/config/engine.h) on the parsed configuration.
// Includes httpd headers: module/httpd only.
#pragma once

#include "httpd.h"  // first: the other httpd headers need its types
#include "http_config.h"
#include "util_cfgtree.h"

namespace selfheal::cfg {
class Model;
class SystemEnvironment;
}  // namespace selfheal::cfg

namespace selfheal::glue {

// The model's parts, by when httpd has them (config_walk.cpp; each throws only
// std::bad_alloc):
// the loaded modules and the MPM (known once the files are read: LoadModule runs then);
void add_module_facts(selfheal::cfg::Model& m);
// the directive tree, then Model::finalize(); reads nothing but the tree, which nothing
// changes once read, so it may run beside httpd's processing of it (in a thread);
void walk_config_tree(selfheal::cfg::Model& m, const ap_directive_t* root);
// what processing the tree sets: ServerRoot, the run user, PidFile, CoreDumpDirectory,
// and the directive names the modules provide.
void add_server_facts(selfheal::cfg::Model& m, apr_pool_t* p);

// The model of the configuration being loaded (config_prebuild.cpp). pre_config starts
// building it in a thread while httpd processes the tree (the largest part of reading a
// configuration); config_model() waits for it, adds the server facts and returns it.
// check_config and post_config of one generation share it; release_model() frees it.
void start_model_build(apr_pool_t* pconf) noexcept;
selfheal::cfg::Model& config_model(apr_pool_t* pconf, apr_pool_t* ptemp);
// check_config's environment for that model: the thread's, with the paths already
// stat()ed, given the run user now. (post_config makes a fresh one: logs and listeners
// have been opened since.)
selfheal::cfg::SystemEnvironment& config_env(const selfheal::cfg::Model& m);
// Waits for the build thread, if one runs. check_config calls it first thing, whatever it
// decides next: from open_logs on, modules fork (mod_cgid at post_config), and no thread
// of ours may run into a fork.
void finish_model_build() noexcept;
void release_model() noexcept;

}  // namespace selfheal::glue
