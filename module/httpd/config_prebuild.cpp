// Builds the configuration model beside httpd's own processing of the tree.
//
// httpd reads a configuration in two steps. ap_read_config() parses the files into
// ap_conftree, running only the EXEC_ON_READ directives (LoadModule, Define, Include,
// ServerRoot...). Then, after the pre_config hooks, ap_process_config_tree() runs every
// other directive's handler: at 10,000 vhosts that is 220 M of the 444 M instructions of
// a plain `apache2 -t`. From pre_config on, the tree is complete and nothing changes it
// (processing only reads it), and walking it into the model (~46 M instructions at
// 10,000 vhosts) needs nothing processing sets. So pre_config, hooked really last (after
// the MPM's, which forks to detach on the first start), starts one thread for the walk,
// and check_config joins it.
//
// The thread blocks every signal (httpd's signal handling stays on the main thread),
// touches no APR pool, and reads nothing but the tree. It is joined:
//  - first thing in check_config, whatever check_config decides next: from open_logs on,
//    modules fork (piped loggers, mod_cgid's daemon at post_config);
//  - before pconf's memory goes, by a pre-cleanup on pconf. After a configuration error
//    httpd exits through apr_pool_destroy(pconf), which destroys ptemp (mod_macro's
//    expansions keep their file names there) before pconf's ordinary cleanups run;
//  - at exit() (atexit: some error paths call exit() directly).
// The thread also stat()s the DocumentRoots and <Directory> paths ahead for check_config's
// rules (SystemEnvironment::prestat()). The model lives until post_config has used it
// (release_model()) or pconf goes.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/engine.h"
#include "config/model.h"
#include "config_hooks.h"

#include "apr_pools.h"

namespace selfheal::glue {
namespace {

struct Prebuild {
  std::unique_ptr<selfheal::cfg::Model> model;  // this generation's, once started or built
  std::unique_ptr<selfheal::cfg::SystemEnvironment> env;  // check_config's, paths stat()ed
  const ap_directive_t* root = nullptr;
  bool failed = false;  // the thread's walk threw
  std::string error;    // and said this (may stay empty)
  pthread_t thread{};
  bool running = false;        // a thread to join
  bool facts = false;          // add_server_facts() done
  apr_pool_t* pool = nullptr;  // the pconf our pre-cleanup is registered on
};
Prebuild g;  // the main thread's; until joined, the thread uses model, env, root, failed, error

void* walk_thread(void*) noexcept {
  try {
    walk_config_tree(*g.model, g.root);
    // The DocumentRoots' stat()s too: the run user is set after the join (processing
    // sets it), and stat() does not depend on it.
    auto env = std::make_unique<selfheal::cfg::SystemEnvironment>("", -1, -1);
    env->prestat(*g.model);
    g.env = std::move(env);
  } catch (const std::exception& e) {
    g.failed = true;
    try {
      g.error = e.what();
    } catch (...) {
    }
  } catch (...) {
    g.failed = true;
  }
  return nullptr;
}

void reset() noexcept {
  finish_model_build();
  g.env.reset();
  g.model.reset();
  g.root = nullptr;
  g.failed = false;
  g.error.clear();
  g.facts = false;
}

// pconf's pre-cleanup: the model's views point into pconf, which goes now.
apr_status_t release(void*) noexcept {
  reset();
  g.pool = nullptr;
  return APR_SUCCESS;
}

void at_exit() noexcept {
  finish_model_build();
}

// A new, empty model for this generation (modules and MPM filled in), with the
// pre-cleanup on pconf in place. The cleanup stays when the model goes early
// (release_model()): running it once more when pconf goes is harmless.
std::unique_ptr<selfheal::cfg::Model> new_model(apr_pool_t* pconf) {
  reset();
  auto m = std::make_unique<selfheal::cfg::Model>();
  add_module_facts(*m);
  if (g.pool != pconf) {
    apr_pool_pre_cleanup_register(pconf, nullptr, release);
    g.pool = pconf;
  }
  static const bool exit_hook = std::atexit(at_exit) == 0;  // once per load of the module
  (void)exit_hook;
  return m;
}

}  // namespace

void start_model_build(apr_pool_t* pconf) noexcept {
  try {
    g.model = new_model(pconf);
  } catch (...) {
    reset();
    return;  // config_model() builds it without a thread
  }
  g.root = ap_conftree;
  sigset_t all, old;
  sigfillset(&all);
  const bool masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
  g.running = masked && pthread_create(&g.thread, nullptr, walk_thread, nullptr) == 0;
  if (masked) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!g.running) reset();  // no thread (EAGAIN): config_model() builds it
}

void finish_model_build() noexcept {
  if (!g.running) return;
  pthread_join(g.thread, nullptr);  // cannot fail: a joinable thread of this process
  g.running = false;
}

void release_model() noexcept {
  reset();
}

selfheal::cfg::Model& config_model(apr_pool_t* pconf, apr_pool_t* ptemp) {
  finish_model_build();
  if (g.model && g.failed) {
    const std::string e = "building the configuration model: " +
                          (g.error.empty() ? std::string("unknown error") : g.error);
    reset();
    throw std::runtime_error(e);
  }
  if (!g.model) {  // pre_config started nothing: build it here (kept only when complete)
    std::unique_ptr<selfheal::cfg::Model> m = new_model(pconf);
    walk_config_tree(*m, ap_conftree);
    g.model = std::move(m);
  }
  if (!g.facts) {
    add_server_facts(*g.model, ptemp);
    g.facts = true;
  }
  return *g.model;
}

selfheal::cfg::SystemEnvironment& config_env(const selfheal::cfg::Model& m) {
  finish_model_build();
  if (!g.env) g.env = std::make_unique<selfheal::cfg::SystemEnvironment>("", -1, -1);
  g.env->set_run_user(m.run_user, m.run_uid, m.run_gid);
  return *g.env;
}

}  // namespace selfheal::glue
