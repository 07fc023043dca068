// TLS-* rules on certificates generated in-process with OpenSSL.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_config_support.h"

namespace selfheal::cfg::testing {

namespace {
std::string bio_string(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}
}  // namespace

Pem make_cert(const std::string& cn, const std::vector<std::string>& sans, long days,
              const Pem* issuer, bool ca, const char* pass) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  const time_t base = 1'800'000'000;
  X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, const_cast<time_t*>(&base));
  X509_time_adj_ex(X509_getm_notAfter(x), static_cast<int>(days), 0, const_cast<time_t*>(&base));
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = nullptr;
  EVP_PKEY* issuer_key = key;
  if (issuer) {
    BIO* b = BIO_new_mem_buf(issuer->cert.data(), static_cast<int>(issuer->cert.size()));
    issuer_cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    b = BIO_new_mem_buf(issuer->key.data(), static_cast<int>(issuer->key.size()));
    issuer_key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  } else {
    X509_set_issuer_name(x, name);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : x, x, nullptr, nullptr, 0);
  if (ca) {
    X509_EXTENSION* e =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  if (!sans.empty()) {
    std::string s;
    for (const auto& n : sans) s += (s.empty() ? "DNS:" : ",DNS:") + n;
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, s.c_str());
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  X509_set_pubkey(x, key);
  X509_sign(x, issuer_key, EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  BIO* kb = BIO_new(BIO_s_mem());
  if (pass)
    PEM_write_bio_PrivateKey(kb, key, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                             const_cast<char*>(pass));
  else
    PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  Pem out{bio_string(cb), bio_string(kb)};
  if (issuer) {
    X509_free(issuer_cert);
    EVP_PKEY_free(issuer_key);
  }
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

namespace {

const std::vector<std::string> kSsl = {"core.c", "event.c", "mod_ssl.c", "mod_reqtimeout.c"};

std::string vhost(const std::string& extra = "", const std::string& name = "www.example.com") {
  return "Listen 443\n<VirtualHost *:443>\nServerName " + name +
         "\nSSLEngine on\nSSLCertificateFile /c/cert.pem\nSSLCertificateKeyFile /c/key.pem\n" +
         extra + "</VirtualHost>\n";
}

struct TlsTest : ::testing::Test {
  FakeEnv env;
  void install(const Pem& p) {
    env.file("/c/cert.pem", p.cert);
    env.file("/c/key.pem", p.key);
  }
  std::vector<Finding> check(const std::string& text, const char* rule) {
    return only(run(model(text, kSsl), env), rule);
  }
};

TEST_F(TlsTest, Tls001MismatchFiresAtKeyDirective) {
  Pem a = make_cert("www.example.com", {"www.example.com"}, 365);
  Pem b = make_cert("www.example.com", {"www.example.com"}, 365);
  env.file("/c/cert.pem", a.cert);
  env.file("/c/key.pem", b.key);
  auto f = check(vhost(), "TLS-001");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 6);
  EXPECT_EQ(f[0].severity, Severity::error);
  EXPECT_EQ(f[0].vhost, "www.example.com (*:443)");
}

TEST_F(TlsTest, Tls001MatchingPairIsClean) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  EXPECT_TRUE(check(vhost(), "TLS-001").empty());
}

TEST_F(TlsTest, Tls001NotCheckedWithoutModSsl) {
  Pem a = make_cert("a", {}, 365), b = make_cert("a", {}, 365);
  env.file("/c/cert.pem", a.cert);
  env.file("/c/key.pem", b.key);
  EXPECT_TRUE(only(run(model(vhost()), env), "TLS-001").empty());
}

TEST_F(TlsTest, Tls002KeyGivenAsCertificate) {
  Pem a = make_cert("www.example.com", {"www.example.com"}, 365);
  env.file("/c/cert.pem", a.key);
  env.file("/c/key.pem", a.key);
  auto f = check(vhost(), "TLS-002");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 5);
  EXPECT_NE(f[0].message.find("AH02562"), std::string::npos);
}

TEST_F(TlsTest, Tls002EncryptedKeyWithoutDialog) {
  Pem a = make_cert("www.example.com", {"www.example.com"}, 365, nullptr, false, "secret");
  install(a);
  auto f = check(vhost(), "TLS-002");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_NE(f[0].message.find("encrypted"), std::string::npos);
  // With an exec: dialog it is fine.
  EXPECT_TRUE(check("SSLPassPhraseDialog exec:/usr/local/bin/pass\n" + vhost(), "TLS-002").empty());
}

TEST_F(TlsTest, Tls002GarbagePem) {
  env.file("/c/cert.pem", "not a pem");
  env.file("/c/key.pem", "not a key");
  auto f = check(vhost(), "TLS-002");
  ASSERT_GE(f.size(), 1u);
  EXPECT_EQ(f[0].line, 5);
}

TEST_F(TlsTest, Tls002CleanPair) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  EXPECT_TRUE(check(vhost(), "TLS-002").empty());
}

TEST_F(TlsTest, Tls003ExpiredIsError) {
  install(make_cert("www.example.com", {"www.example.com"}, -3));
  auto f = check(vhost(), "TLS-003");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::error);
  EXPECT_EQ(f[0].line, 5);
}

TEST_F(TlsTest, Tls003ExpiringSoonIsWarningAndThresholdConfigurable) {
  install(make_cert("www.example.com", {"www.example.com"}, 10));
  auto f = check(vhost(), "TLS-003");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_TRUE(check("SelfHealRuleThreshold TLS-003 days 5\n" + vhost(), "TLS-003").empty());
}

TEST_F(TlsTest, Tls003FarExpiryClean) {
  install(make_cert("www.example.com", {"www.example.com"}, 200));
  EXPECT_TRUE(check(vhost(), "TLS-003").empty());
}

TEST_F(TlsTest, Tls004NameNotCovered) {
  install(make_cert("www.example.com", {"www.example.com", "*.example.org"}, 365));
  auto f = check(vhost("ServerAlias a.example.org other.example.net\n"), "TLS-004");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_NE(f[0].message.find("other.example.net"), std::string::npos);
  EXPECT_EQ(f[0].line, 7);
}

TEST_F(TlsTest, Tls004CoveredNamesClean) {
  install(make_cert("www.example.com", {"www.example.com", "*.example.org"}, 365));
  EXPECT_TRUE(check(vhost("ServerAlias a.example.org\n"), "TLS-004").empty());
}

TEST_F(TlsTest, Tls005MisorderedChain) {
  Pem ca = make_cert("Test CA", {}, 3650, nullptr, true);
  Pem leaf = make_cert("www.example.com", {"www.example.com"}, 365, &ca);
  env.file("/c/cert.pem", ca.cert + leaf.cert);  // CA first: wrong order
  env.file("/c/key.pem", ca.key);
  auto f = check(vhost(), "TLS-005");
  ASSERT_EQ(f.size(), 1u) << dump(f);
}

TEST_F(TlsTest, Tls005IncompleteChain) {
  Pem ca = make_cert("Test CA", {}, 3650, nullptr, true);
  Pem leaf = make_cert("www.example.com", {"www.example.com"}, 365, &ca);
  install(leaf);  // issuer nowhere
  auto f = check(vhost(), "TLS-005");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_NE(f[0].message.find("issuer"), std::string::npos);
}

TEST_F(TlsTest, Tls005OrderedChainAndSelfSignedClean) {
  Pem ca = make_cert("Test CA", {}, 3650, nullptr, true);
  Pem leaf = make_cert("www.example.com", {"www.example.com"}, 365, &ca);
  env.file("/c/cert.pem", leaf.cert + ca.cert);
  env.file("/c/key.pem", leaf.key);
  EXPECT_TRUE(check(vhost(), "TLS-005").empty());
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  EXPECT_TRUE(check(vhost(), "TLS-005").empty());
}

TEST_F(TlsTest, Tls006MixedSslAndPlainOnOnePort) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  auto f = check(vhost() + "<VirtualHost *:443>\nServerName plain.example.com\n</VirtualHost>\n",
                 "TLS-006");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 8);
}

TEST_F(TlsTest, Tls006SslListenWithoutSslVhost) {
  auto f = check("Listen 443\n<VirtualHost *:443>\nServerName a\n</VirtualHost>\n", "TLS-006");
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].line, 1);
  EXPECT_TRUE(check("Listen 80\nListen 8443 http\n", "TLS-006").empty());
}

TEST_F(TlsTest, Tls006CleanSslSetup) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  EXPECT_TRUE(check(vhost(), "TLS-006").empty());
}

TEST_F(TlsTest, Tls007WeakProtocolsHardeningOnly) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  const std::string text =
      "SSLProtocol all -SSLv3\nSSLCipherSuite HIGH:RC4:!aNULL\nSSLCompression on\n" + vhost();
  EXPECT_TRUE(only(run(model(text, kSsl), env), "TLS-007").empty());
  auto f = only(run(model(text, kSsl), env, true), "TLS-007");
  EXPECT_EQ(f.size(), 4u) << dump(f);  // TLSv1, TLSv1.1, RC4, compression
}

TEST_F(TlsTest, Tls007ModernSettingsClean) {
  install(make_cert("www.example.com", {"www.example.com"}, 365));
  const std::string text =
      "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCipherSuite HIGH:!aNULL:!MD5\n" + vhost();
  EXPECT_TRUE(only(run(model(text, kSsl), env, true), "TLS-007").empty());
}

}  // namespace
}  // namespace selfheal::cfg::testing
