// TLS-* rules: certificates and keys checked with OpenSSL, SSL/non-SSL address
// conflicts, protocol and cipher strength. OpenSSL is called through crypto::Api,
// loaded on the first certificate to check (crypto_lazy.h), never by symbol.
#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "config/crypto_lazy.h"
#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

using Crypto = crypto::Api;
using X509Ptr = std::unique_ptr<X509, decltype(&::X509_free)>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, decltype(&::EVP_PKEY_free)>;

bool ssl_on(const Model& m, int v) {
  const int d = m.server_value("sslengine", v);
  return d >= 0 && !m.dirs[static_cast<size_t>(d)].args.empty() &&
         iequals(m.dirs[static_cast<size_t>(d)].args[0], "on");
}

// mod_ssl merges the certificate arrays index by index: a vhost's own i-th
// SSLCertificateFile knocks out the main server's i-th.
std::vector<int> merged(const Model& m, std::string_view lname, int v) {
  std::vector<int> base = util::own_server_level(m, lname, -1);
  if (v < 0) return base;
  std::vector<int> add = util::own_server_level(m, lname, v);
  std::vector<int> out;
  for (size_t i = 0; i < std::max(base.size(), add.size()); ++i)
    out.push_back(i < add.size() ? add[i] : base[i]);
  return out;
}

std::vector<X509Ptr> read_certs(const Crypto& k, const std::string& pem) {
  std::vector<X509Ptr> out;
  BIO* bio = k.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return out;
  while (X509* x = k.PEM_read_bio_X509(bio, nullptr, nullptr, nullptr))
    out.emplace_back(x, k.X509_free);
  k.BIO_free(bio);
  k.ERR_clear_error();
  return out;
}

struct KeyRead {
  explicit KeyRead(const Crypto& k) : key(nullptr, k.EVP_PKEY_free) {}
  PKeyPtr key;
  bool encrypted = false;
  bool present = false;  // a PRIVATE KEY block was found
};

int no_passphrase(char*, int, int, void* u) {
  *static_cast<bool*>(u) = true;
  return -1;
}

KeyRead read_key(const Crypto& k, const std::string& pem) {
  KeyRead r(k);
  r.present = pem.find("PRIVATE KEY-----") != std::string::npos;
  BIO* bio = k.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return r;
  r.key.reset(k.PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, &r.encrypted));
  k.BIO_free(bio);
  k.ERR_clear_error();
  if (pem.find("ENCRYPTED") != std::string::npos && !r.key) r.encrypted = true;
  return r;
}

// One X509_STORE with the system trust anchors, loaded only if a chain needs it.
X509_STORE* system_store(const Crypto& k) {
  static X509_STORE* store = [&k] {
    X509_STORE* s = k.X509_STORE_new();
    if (s) k.X509_STORE_set_default_paths(s);
    k.ERR_clear_error();
    return s;
  }();
  return store;
}

std::string subject_of(const Crypto& k, X509* x) {
  char buf[256];
  k.X509_NAME_oneline(k.X509_get_subject_name(x), buf, sizeof buf);
  return buf;
}

// libcrypto could not be loaded: say so once per run (at the first certificate, under
// whichever TLS-001..005 rule runs first) instead of passing the certificates silently.
void report_unloadable(Context& c, int cert_d) {
  const std::string msg = std::string("TLS certificate checks (TLS-001..TLS-005) skipped: ") +
                          crypto::library_name() + " could not be loaded (" + crypto::error() + ")";
  if (std::any_of(c.findings.begin(), c.findings.end(),
                  [&](const Finding& f) { return f.message == msg; }))
    return;
  c.report(cert_d, msg, Severity::warning,
           "install OpenSSL's libcrypto (mod_ssl needs it as well), or SelfHealSkip TLS-*");
}

void check_pair(Context& c, int v, int cert_d, int key_d, int chain_d) {
  const Model& m = c.m;
  const std::string cert_path = m.resolve(c.arg(cert_d, 0));
  auto cert_pem = c.env.read_file(cert_path);
  if (!cert_pem) return;  // missing files fail httpd -t already
  const Crypto* kp = crypto::api();
  if (!kp) {
    report_unloadable(c, cert_d);
    return;
  }
  const Crypto& k = *kp;
  std::vector<X509Ptr> certs = read_certs(k, *cert_pem);
  const std::string rid = c.rule->id;
  if (rid == "TLS-002") {
    if (certs.empty()) {
      if (cert_pem->find("PRIVATE KEY-----") != std::string::npos)
        c.report(
            cert_d,
            "SSLCertificateFile " + cert_path +
                " holds a private key, not a certificate: start fails (AH02562)",
            std::nullopt,
            "point SSLCertificateFile at the certificate and SSLCertificateKeyFile at the key");
      else
        c.report(cert_d, "no PEM certificate can be read from " + cert_path);
      return;
    }
  }
  if (certs.empty()) return;
  X509* leaf = certs.front().get();

  if (rid == "TLS-001" || rid == "TLS-002") {
    const int kd = key_d >= 0 ? key_d : cert_d;
    const std::string key_path = m.resolve(c.arg(kd, 0));
    auto key_pem = c.env.read_file(key_path);
    if (!key_pem) return;
    KeyRead kr = read_key(k, *key_pem);
    if (rid == "TLS-002") {
      if (kr.encrypted) {
        const int pd = m.main_value("sslpassphrasedialog");
        const std::string how(pd >= 0 ? c.arg(pd, 0) : std::string_view("builtin"));
        if (!util::starts_with_i(how, "exec:") && !util::starts_with_i(how, "|"))
          c.report(kd,
                   "private key " + key_path + " is encrypted and SSLPassPhraseDialog is " + how +
                       ": a start without a terminal (systemd) fails",
                   std::nullopt,
                   "remove the passphrase (openssl pkey -in key -out key) or use "
                   "SSLPassPhraseDialog exec:/path");
      } else if (!kr.key && (key_d >= 0 || kr.present)) {
        c.report(kd, "no private key can be read from " + key_path);
      }
    } else if (kr.key && k.X509_check_private_key(leaf, kr.key.get()) != 1) {
      k.ERR_clear_error();
      c.report(kd, "certificate " + cert_path + " does not match private key " + key_path +
                       ": start fails (AH02565) and a graceful reload kills the running server");
    }
    return;
  }
  if (rid == "TLS-003") {
    const std::time_t now = c.env.now();
    const ASN1_TIME* na = k.X509_get0_notAfter(leaf);
    int days = 0, secs = 0;
    ASN1_TIME* nowt = k.ASN1_TIME_set(nullptr, now);
    const bool ok = nowt && k.ASN1_TIME_diff(&days, &secs, nowt, na) == 1;
    k.ASN1_TIME_free(nowt);
    if (!ok) return;
    const double warn_days = c.threshold("days");
    if (days < 0 || (days == 0 && secs < 0))
      c.report(cert_d,
               "certificate " + cert_path + " expired " + std::to_string(-days) +
                   " days ago; it is served with no warning in the log",
               Severity::error);
    else if (days < warn_days)
      c.report(cert_d, "certificate " + cert_path + " expires in " + std::to_string(days) + " days",
               Severity::warning);
    return;
  }
  if (rid == "TLS-004") {
    if (v < 0) return;
    const VHost& vh = m.vhosts[static_cast<size_t>(v)];
    std::vector<std::pair<std::string, int>> names;
    if (!vh.server_name.empty()) names.emplace_back(vh.server_name, vh.server_name_dir);
    for (const auto& a : vh.aliases) names.emplace_back(a.first, a.second);
    for (const auto& [name, d] : names) {
      if (name.find_first_of("*?") != std::string::npos) continue;
      const bool ip = name.find_first_not_of("0123456789.:") == std::string::npos;
      const int r = ip ? k.X509_check_ip_asc(leaf, name.c_str(), 0)
                       : k.X509_check_host(leaf, name.c_str(), name.size(), 0, nullptr);
      if (r != 1)
        c.report(d, "certificate " + cert_path + " (" + subject_of(k, leaf) + ") does not cover " +
                        name + ": browsers reject the site");
    }
    return;
  }
  if (rid == "TLS-005") {
    std::vector<X509Ptr> chain;
    for (size_t i = 1; i < certs.size(); ++i)
      chain.emplace_back(k.X509_dup(certs[i].get()), k.X509_free);
    if (chain_d >= 0) {
      auto pem = c.env.read_file(m.resolve(c.arg(chain_d, 0)));
      if (pem)
        for (auto& x : read_certs(k, *pem)) chain.push_back(std::move(x));
    }
    for (size_t i = 0; i + 1 < certs.size(); ++i) {
      if (k.X509_check_issued(certs[i + 1].get(), certs[i].get()) != X509_V_OK) {
        c.report(cert_d, "certificate " + std::to_string(i + 2) + " in " + cert_path +
                             " did not issue certificate " + std::to_string(i + 1) +
                             ": the chain is misordered or holds an unrelated certificate");
        return;
      }
    }
    if (k.X509_check_issued(leaf, leaf) == X509_V_OK) return;  // self-signed: no chain
    if (!chain.empty()) return;  // intermediates present (a private root is the client's)
    X509_STORE* store = system_store(k);
    if (!store) return;
    X509_STORE_CTX* ctx = k.X509_STORE_CTX_new();
    if (!ctx) return;
    int err = X509_V_OK;
    if (k.X509_STORE_CTX_init(ctx, store, leaf, nullptr) == 1) {
      k.X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
      if (k.X509_verify_cert(ctx) != 1) err = k.X509_STORE_CTX_get_error(ctx);
    }
    k.X509_STORE_CTX_free(ctx);
    k.ERR_clear_error();
    if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
      c.report(cert_d, "the issuer of " + cert_path +
                           " is neither in the file, nor in SSLCertificateChainFile, nor a "
                           "trusted root: clients without it cached fail");
  }
}

// TLS-001..005 share the walk over every (vhost, certificate, key).
void cert_rules(Context& c) {
  const Model& m = c.m;
  if (!m.has_module("ssl")) return;
  std::set<std::tuple<int, int, int, int>> done;  // (cert, key, chain, vhost-if-names)
  const bool per_vhost = std::string_view(c.rule->id) == "TLS-004";
  for (int v = -1; v < static_cast<int>(m.vhosts.size()); ++v) {
    if (!ssl_on(m, v)) continue;
    const std::vector<int> certs = merged(m, "sslcertificatefile", v);
    const std::vector<int> keys = merged(m, "sslcertificatekeyfile", v);
    const int chain = m.server_value("sslcertificatechainfile", v);
    for (size_t i = 0; i < certs.size(); ++i) {
      const int key = i < keys.size() ? keys[i] : -1;
      if (!done.insert({certs[i], key, chain, per_vhost ? v : -2}).second) continue;
      check_pair(c, v, certs[i], key, chain);
    }
  }
}

std::string addr_key(const Address& a) {
  return (a.wildcard() ? std::string("*") : a.host) + ":" + std::to_string(a.port);
}

void tls006(Context& c) {
  const Model& m = c.m;
  if (!m.has_module("ssl")) return;
  std::map<std::string, std::vector<std::pair<int, bool>>> by_addr;
  std::set<int> ssl_ports;
  for (int v = 0; v < static_cast<int>(m.vhosts.size()); ++v) {
    const bool on = ssl_on(m, v);
    for (const Address& a : m.vhosts[static_cast<size_t>(v)].addrs) {
      if (a.port == 0) continue;
      by_addr[addr_key(a)].emplace_back(v, on);
      if (on) ssl_ports.insert(a.port);
    }
  }
  for (const auto& [addr, list] : by_addr) {
    const bool first = list.front().second;
    for (const auto& [v, on] : list)
      if (on != first)
        c.report_vhost(v, m.vhosts[static_cast<size_t>(v)].dir,
                       std::string("SSL and non-SSL virtual hosts share ") + addr +
                           ": one kind answers the other's clients with garbage",
                       std::nullopt, "give SSL and plain virtual hosts different ports");
  }
  const bool main_ssl = ssl_on(m, -1);
  for (const Listen& l : m.listens) {
    const bool https = l.protocol == "https" || (l.protocol.empty() && l.port == 443);
    if (!https || main_ssl || ssl_ports.count(l.port)) continue;
    c.report(l.dir,
             "Listen " + std::to_string(l.port) +
                 " is an SSL port but no virtual host on it has SSLEngine on: "
                 "clients get plain HTTP",
             std::nullopt,
             "add a <VirtualHost *:" + std::to_string(l.port) +
                 "> with SSLEngine on, or remove the Listen");
  }
}

void tls007(Context& c) {
  const Model& m = c.m;
  if (!m.has_module("ssl")) return;
  for (int v = -1; v < static_cast<int>(m.vhosts.size()); ++v) {
    if (!ssl_on(m, v)) continue;
    if (int d = m.server_value("sslprotocol", v); d >= 0) {
      std::set<std::string> on;
      for (const std::string_view& a : c.m.dirs[static_cast<size_t>(d)].args) {
        std::string t = to_lower(a);
        const char op = (t[0] == '+' || t[0] == '-') ? t[0] : 0;
        if (op) t.erase(0, 1);
        std::vector<std::string> set =
            t == "all" ? std::vector<std::string>{"tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"}
                       : std::vector<std::string>{t};
        if (!op) {
          if (&a == &c.m.dirs[static_cast<size_t>(d)].args.front()) on.clear();
        }
        for (const auto& s : set) {
          if (op == '-')
            on.erase(s);
          else
            on.insert(s);
        }
      }
      for (const char* weak : {"sslv3", "tlsv1", "tlsv1.1"})
        if (on.count(weak))
          c.report(d,
                   std::string("SSLProtocol enables ") + weak +
                       ", below the Mozilla intermediate profile",
                   std::nullopt, "SSLProtocol -all +TLSv1.2 +TLSv1.3");
    }
    if (int d = m.server_value("sslciphersuite", v); d >= 0) {
      const auto& args = c.m.dirs[static_cast<size_t>(d)].args;
      std::string spec(args.empty() ? std::string_view() : args.back());
      size_t start = 0;
      while (start <= spec.size()) {
        size_t end = spec.find_first_of(":, ", start);
        if (end == std::string::npos) end = spec.size();
        std::string tok = spec.substr(start, end - start);
        start = end + 1;
        if (tok.empty() || tok[0] == '!' || tok[0] == '-') continue;
        if (tok[0] == '+') tok.erase(0, 1);
        for (const char* weak :
             {"RC4", "DES", "3DES", "MD5", "NULL", "EXPORT", "EXP", "LOW", "aNULL", "eNULL", "ADH",
              "AECDH", "SEED", "IDEA", "RC2", "ALL", "DEFAULT", "MEDIUM"}) {
          if (tok == weak || tok.find(std::string(weak) + "-") == 0 ||
              (tok.find("-" + std::string(weak) + "-") != std::string::npos)) {
            c.report(
                d,
                "SSLCipherSuite allows " + tok + ", weaker than the Mozilla intermediate profile",
                std::nullopt, "use the Mozilla intermediate cipher list");
            break;
          }
        }
      }
    }
    if (int d = m.server_value("sslcompression", v); d >= 0 && iequals(c.arg(d, 0), "on"))
      c.report(d, "SSLCompression on exposes the site to CRIME", std::nullopt,
               "SSLCompression off");
  }
}

}  // namespace

void add_tls_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"TLS-001",
                 Severity::error,
                 S,
                 P,
                 "certificate and private key do not match",
                 "point SSLCertificateKeyFile at the key the certificate was issued for",
                 {},
                 cert_rules});
  out.push_back({"TLS-002",
                 Severity::error,
                 S,
                 P,
                 "certificate or key unreadable, or an encrypted key without a passphrase dialog",
                 "fix the PEM file",
                 {},
                 cert_rules});
  out.push_back({"TLS-003",
                 Severity::error,
                 S,
                 P,
                 "certificate expired or expiring soon",
                 "renew the certificate",
                 {{"days", 30, 0, 3650}},
                 cert_rules});
  out.push_back({"TLS-004",
                 Severity::warning,
                 S,
                 P,
                 "certificate names do not cover ServerName/ServerAlias",
                 "issue a certificate covering every ServerName/ServerAlias, or split the vhost",
                 {},
                 cert_rules});
  out.push_back({"TLS-005",
                 Severity::warning,
                 S,
                 P,
                 "incomplete or misordered certificate chain",
                 "put the leaf first, then each issuer, in SSLCertificateFile",
                 {},
                 cert_rules});
  out.push_back({"TLS-006",
                 Severity::error,
                 S,
                 P,
                 "SSL and non-SSL vhosts on one address, or an SSL Listen without SSLEngine",
                 "give each address:port one kind of virtual host",
                 {},
                 tls006});
  out.push_back({"TLS-007",
                 Severity::warning,
                 Profile::hardening,
                 P,
                 "protocols/ciphers weaker than Mozilla intermediate, or SSLCompression on",
                 "SSLProtocol -all +TLSv1.2 +TLSv1.3",
                 {},
                 tls007});
}

}  // namespace selfheal::cfg
