/* mod_selfheal_crashtest: a TEST-ONLY module that crashes a worker on demand.
 * Never install it on a real server.
 *
 *   <Location /crash>  SetHandler selfheal-crashtest  </Location>
 *
 *   /crash/null        null pointer dereference (SIGSEGV, SEGV_MAPERR at 0x0)
 *   /crash/jump0       call through a null function pointer (pc = 0)
 *   /crash/stack       unbounded recursion (stack overflow, SIGSEGV)
 *   /crash/bus         read past the end of a truncated mmap'd file (SIGBUS)
 *   /crash/fpe         integer division by zero (SIGFPE)
 *   /crash/abort       abort() (SIGABRT)
 *   /crash/ill         illegal instruction (SIGILL)
 *   /crash/trap        breakpoint instruction (SIGTRAP)
 *   /crash/doublefree  free() twice: glibc aborts (SIGABRT)
 *   /crash/filter      null dereference inside an output filter
 *   /crash/log         null dereference inside a log_transaction hook
 *   /crash/twothreads  two threads of this process crash at the same moment
 *   /crash/sleep?MS    sleeps MS milliseconds (an innocent request in flight), then 200
 *   /crash/ok          200 "ok"
 *   anything else      the last path segment is echoed with 200 (a "good" URL)
 *
 *   CrashTestChildInit on   crash every child in child_init (a crash loop at start-up)
 *   CrashTestStealSignals on  install a SIGSEGV handler of its own in child_init, after
 *                             mod_selfheal (as a badly behaved module would)
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "httpd.h" /* first: the other httpd headers need its types */
#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

module AP_MODULE_DECLARE_DATA selfheal_crashtest_module;

static int crash_in_child_init = 0;
static int steal_signals = 0;

static void stolen_handler(int sig) {
  signal(sig, SIG_DFL);
  raise(sig);
}

/* volatile everywhere so the compiler cannot prove the fault away. */
static volatile int* volatile g_null_int = NULL;
typedef void (*fn_t)(void);
static volatile fn_t g_null_fn = NULL;
static volatile int g_zero = 0;

static void __attribute__((noinline)) crash_null(void) {
  *g_null_int = 42;
}
static void __attribute__((noinline)) crash_jump0(void) {
  g_null_fn();
}

static int __attribute__((noinline)) recurse(int depth) {
  volatile char pad[512];
  pad[0] = (char)depth;
  return depth == -1 ? 0 : recurse(depth + 1) + pad[0]; /* never -1: unbounded */
}
static void __attribute__((noinline)) crash_stack(void) {
  (void)recurse(0);
}

static void __attribute__((noinline)) crash_bus(apr_pool_t* p) {
  char path[] = "/tmp/selfheal-crashtest-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return;
  unlink(path);
  if (ftruncate(fd, 8192) != 0) return;
  volatile char* m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return;
  if (ftruncate(fd, 0) != 0) return; /* the pages behind m are gone */
  (void)p;
  (void)m[4096]; /* SIGBUS (BUS_ADRERR) */
}

static void __attribute__((noinline)) crash_fpe(void) {
  volatile int a = 1;
  a = a / g_zero;
}

static void __attribute__((noinline)) crash_ill(void) {
  __asm__ volatile("ud2");
}
static void __attribute__((noinline)) crash_trap(void) {
  __asm__ volatile("int3");
}

static void __attribute__((noinline)) crash_doublefree(void) {
  char* volatile p = malloc(64);
  free(p);
  free(p);
}

static pthread_barrier_t two_barrier;
static void* second_crasher(void* arg) {
  (void)arg;
  pthread_barrier_wait(&two_barrier);
  crash_null();
  return NULL;
}
static void __attribute__((noinline)) crash_two_threads(void) {
  pthread_t t;
  pthread_barrier_init(&two_barrier, NULL, 2);
  if (pthread_create(&t, NULL, second_crasher, NULL) != 0) return;
  pthread_barrier_wait(&two_barrier);
  crash_null();
}

static apr_status_t crash_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
  if (f->r && f->r->notes && apr_table_get(f->r->notes, "selfheal-crashtest-filter")) crash_null();
  return ap_pass_brigade(f->next, bb);
}

static const char* last_segment(const char* uri) {
  const char* s = strrchr(uri, '/');
  return s ? s + 1 : uri;
}

static int crashtest_handler(request_rec* r) {
  if (!r->handler || strcmp(r->handler, "selfheal-crashtest")) return DECLINED;
  const char* what = last_segment(r->uri);
  if (!strcmp(what, "null"))
    crash_null();
  else if (!strcmp(what, "jump0"))
    crash_jump0();
  else if (!strcmp(what, "stack"))
    crash_stack();
  else if (!strcmp(what, "bus"))
    crash_bus(r->pool);
  else if (!strcmp(what, "fpe"))
    crash_fpe();
  else if (!strcmp(what, "abort"))
    abort();
  else if (!strcmp(what, "ill"))
    crash_ill();
  else if (!strcmp(what, "trap"))
    crash_trap();
  else if (!strcmp(what, "doublefree"))
    crash_doublefree();
  else if (!strcmp(what, "twothreads"))
    crash_two_threads();
  else if (!strcmp(what, "log"))
    apr_table_setn(r->notes, "selfheal-crashtest-log", "1");
  else if (!strcmp(what, "filter")) {
    apr_table_setn(r->notes, "selfheal-crashtest-filter", "1");
    ap_add_output_filter("SELFHEAL_CRASHTEST", NULL, r, r->connection);
  } else if (!strcmp(what, "sleep")) {
    long ms = r->args ? atol(r->args) : 1000;
    if (ms > 0 && ms < 60000) usleep((useconds_t)ms * 1000);
  }
  ap_set_content_type(r, "text/plain");
  ap_rprintf(r, "%s\n", what);
  return OK;
}

static int crashtest_log(request_rec* r) {
  if (r->notes && apr_table_get(r->notes, "selfheal-crashtest-log")) crash_null();
  return DECLINED;
}

static void crashtest_child_init(apr_pool_t* p, server_rec* s) {
  (void)p;
  (void)s;
  if (steal_signals) signal(SIGSEGV, stolen_handler);
  if (crash_in_child_init) crash_null();
}

static const char* set_child_init(cmd_parms* cmd, void* d, int on) {
  (void)cmd;
  (void)d;
  crash_in_child_init = on;
  return NULL;
}

static const char* set_steal(cmd_parms* cmd, void* d, int on) {
  (void)cmd;
  (void)d;
  steal_signals = on;
  return NULL;
}

static const command_rec crashtest_cmds[] = {
    AP_INIT_FLAG("CrashTestStealSignals", set_steal, NULL, RSRC_CONF,
                 "on: replace the SIGSEGV handler in child_init (test only)"),
    AP_INIT_FLAG("CrashTestChildInit", set_child_init, NULL, RSRC_CONF,
                 "on: crash every child in child_init (test only)"),
    {NULL}};

static void register_hooks(apr_pool_t* p) {
  (void)p;
  ap_hook_handler(crashtest_handler, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_log_transaction(crashtest_log, NULL, NULL, APR_HOOK_MIDDLE);
  /* after mod_selfheal's child_init (REALLY_LAST there); crash loops at start-up */
  ap_hook_child_init(crashtest_child_init, NULL, NULL, APR_HOOK_REALLY_LAST + 1);
  ap_register_output_filter("SELFHEAL_CRASHTEST", crash_filter, NULL, AP_FTYPE_RESOURCE);
}

AP_DECLARE_MODULE(selfheal_crashtest) = {STANDARD20_MODULE_STUFF,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL,
                                         crashtest_cmds,
                                         register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
                                         ,
                                         AP_MODULE_FLAG_NONE
#endif
};
