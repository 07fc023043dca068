// libcrypto, loaded on first use (see crypto_lazy.h).
#include "config/crypto_lazy.h"

#include <dlfcn.h>
#include <openssl/opensslv.h>

#include <cstdio>

namespace selfheal::crypto {
namespace {

#define SELFHEAL_STR2(x) #x
#define SELFHEAL_STR(x) SELFHEAL_STR2(x)
// The soname of the libcrypto the headers belong to: "libcrypto.so.3" for OpenSSL 3.
#if defined(OPENSSL_SHLIB_VERSION)
constexpr char kLibrary[] = "libcrypto.so." SELFHEAL_STR(OPENSSL_SHLIB_VERSION);
#else
constexpr char kLibrary[] = "libcrypto.so." OPENSSL_SHLIB_VERSION_NUMBER;  // OpenSSL 1.1
#endif

struct Loaded {
  Api api;
  bool ok = false;
  char error[512] = "";  // trivially destructible: no global with a destructor
};

void fail(Loaded& l, const char* symbol) {
  const char* e = dlerror();
  if (e)
    std::snprintf(l.error, sizeof l.error, "%s", e);
  else
    std::snprintf(l.error, sizeof l.error, "%s: %s%s", kLibrary, symbol ? "no symbol " : "failed",
                  symbol ? symbol : "");
}

template <class F>
bool find(void* h, F& out, const char* name) {
  out = reinterpret_cast<F>(dlsym(h, name));
  return out != nullptr;
}

Loaded load() {
  Loaded l;
  // RTLD_LOCAL: its symbols stay out of httpd's global scope. With mod_ssl loaded this
  // only finds the copy already mapped.
  void* h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fail(l, nullptr);
    return l;
  }
  dlerror();
#define SELFHEAL_CRYPTO_LOAD(f) \
  if (!find(h, l.api.f, #f)) {  \
    fail(l, #f);                \
    dlclose(h);                 \
    return l;                   \
  }
  SELFHEAL_CRYPTO_FUNCTIONS(SELFHEAL_CRYPTO_LOAD)
#undef SELFHEAL_CRYPTO_LOAD
  l.ok = true;  // never dlclose()d: the trust store and the module's pointers outlive us
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();  // thread-safe initialisation
  return l;
}

}  // namespace

const Api* api() {
  const Loaded& l = loaded();
  return l.ok ? &l.api : nullptr;
}

const char* error() {
  return loaded().error;
}

const char* library_name() {
  return kLibrary;
}

}  // namespace selfheal::crypto
