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
// and check_config, or post_config at the latest, joins it.
//
// The thread blocks every signal (httpd's signal handling stays on the main thread),
// touches no APR pool, and reads nothing but the tree and the module list. It is joined
// before pconf's memory goes (a cleanup on pconf: after a configuration error httpd exits
// through apr_pool_destroy), at exit() (atexit: some error paths call exit() directly),
// and before post_config returns, so the MPM never forks with it running.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "config_hooks.h"
#include "core/config_model.h"

#include "apr_pools.h"

namespace selfheal::glue {
namespace {

struct Prebuild {
  std::unique_ptr<selfheal::cfg::Model> model;  // this generation's, once started or built
  const ap_directive_t* root = nullptr;
  std::string error;       // the thread's exception, if it threw
  pthread_t thread{};
  bool running = false;    // a thread to join
  bool facts = false;      // add_server_facts() done
  apr_pool_t* pool = nullptr;  // pconf, while the cleanup is registered on it
};
Prebuild g;  // the main thread's; the thread uses only model, root and error until joined

void* walk_thread(void*) noexcept {
  try {
    walk_config_tree(*g.model, g.root);
  } catch (const std::exception& e) {
    g.error = e.what();
  } catch (...) {
    g.error = "unknown exception";
  }
  return nullptr;
}

// pconf's cleanup: the model's views point into pconf, which goes now.
apr_status_t release(void*) noexcept {
  finish_model_build();
  g.model.reset();
  g.error.clear();
  g.root = nullptr;
  g.facts = false;
  g.pool = nullptr;
  return APR_SUCCESS;
}

// The same, before pconf goes: the cleanup is no longer needed.
void discard() noexcept {
  if (g.pool) apr_pool_cleanup_kill(g.pool, nullptr, release);
  release(nullptr);
}

void at_exit() noexcept { finish_model_build(); }

void fresh_model(apr_pool_t* pconf) {
  discard();
  g.model = std::make_unique<selfheal::cfg::Model>();
  add_module_facts(*g.model);
  apr_pool_cleanup_register(pconf, nullptr, release, apr_pool_cleanup_null);
  g.pool = pconf;
  static const bool exit_hook = std::atexit(at_exit) == 0;  // once per load of the module
  (void)exit_hook;
}

}  // namespace

void start_model_build(apr_pool_t* pconf) noexcept {
  try {
    fresh_model(pconf);
  } catch (...) {
    discard();
    return;  // config_model() builds it without a thread
  }
  g.root = ap_conftree;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  g.running = pthread_create(&g.thread, nullptr, walk_thread, nullptr) == 0;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!g.running) discard();  // no thread (EAGAIN): config_model() builds it
}

void finish_model_build() noexcept {
  if (!g.running) return;
  pthread_join(g.thread, nullptr);
  g.running = false;
}

selfheal::cfg::Model& config_model(apr_pool_t* pconf, apr_pool_t* ptemp) {
  finish_model_build();
  if (!g.model) {  // pre_config started nothing: build it here
    fresh_model(pconf);
    walk_config_tree(*g.model, ap_conftree);
  } else if (!g.error.empty()) {
    const std::string e = "building the configuration model: " + g.error;
    discard();
    throw std::runtime_error(e);
  }
  if (!g.facts) {
    add_server_facts(*g.model, ptemp);
    g.facts = true;
  }
  return *g.model;
}

}  // namespace selfheal::glue
