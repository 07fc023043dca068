// libcrypto, loaded on first use. The TLS rules are the only user of OpenSSL in the
// module; linking libcrypto.so.3 made every dlopen of the module (every httpd -t, start
// and restart) relocate it, ~3.5 M instructions, even for configurations without one
// SSL directive. The headers still give the types and prototypes: each pointer has the
// type decltype(&::f), so a signature mismatch fails the build.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace selfheal::crypto {

// Every libcrypto function the TLS rules call. A function used without being listed
// here is an undefined symbol of the module: dlopen of the module fails (-z now).
// clang-format off
#define SELFHEAL_CRYPTO_FUNCTIONS(X)                                                  \
  X(ASN1_TIME_diff) X(ASN1_TIME_free) X(ASN1_TIME_set) X(BIO_free) X(BIO_new_mem_buf) \
  X(ERR_clear_error) X(EVP_PKEY_free) X(PEM_read_bio_PrivateKey) X(PEM_read_bio_X509) \
  X(X509_NAME_oneline) X(X509_STORE_CTX_free) X(X509_STORE_CTX_get_error)             \
  X(X509_STORE_CTX_init) X(X509_STORE_CTX_new) X(X509_STORE_CTX_set_flags)            \
  X(X509_STORE_new) X(X509_STORE_set_default_paths) X(X509_check_host)                \
  X(X509_check_ip_asc) X(X509_check_issued) X(X509_check_private_key) X(X509_dup)    \
  X(X509_free) X(X509_get0_notAfter) X(X509_get_subject_name) X(X509_verify_cert)
// clang-format on

struct Api {
#define SELFHEAL_CRYPTO_MEMBER(f) decltype(&::f) f = nullptr;
  SELFHEAL_CRYPTO_FUNCTIONS(SELFHEAL_CRYPTO_MEMBER)
#undef SELFHEAL_CRYPTO_MEMBER
};

// The loaded functions, or nullptr when libcrypto or one of its functions could not be
// loaded (then error() says why). The first call dlopens libcrypto (RTLD_LOCAL; cheap
// when mod_ssl already brought it in) and is thread-safe; the library is never closed.
const Api* api();
// Why api() returns nullptr (the dlerror() text); "" when it does not. Loads too.
const char* error();
// The file name passed to dlopen ("libcrypto.so.3").
const char* library_name();

}  // namespace selfheal::crypto
