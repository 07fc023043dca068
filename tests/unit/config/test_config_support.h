// Helpers for the config-rule unit tests: a fake environment and model builders.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "config/engine.h"
#include "config/model.h"

namespace selfheal::cfg::testing {

class FakeEnv : public Environment {
 public:
  std::map<std::string, FileInfo> files;        // stat()
  std::map<std::string, std::string> contents;  // read_file()
  std::map<std::string, std::vector<std::string>> subdirs;
  std::set<std::string> readonly;
  std::set<std::string> not_root_accessible;         // access() fails for these (any mode)
  std::map<std::pair<std::string, int>, bool> user;  // user_access()
  std::map<int, BindResult> binds;                   // by port
  std::set<std::string> path_programs;
  std::time_t clock = 1'800'000'000;
  long nofile = 8192;
  long long mem = 16LL << 30;
  int prefetches = 0;

  void dir(const std::string& p) { files[p] = FileInfo{true, true, false, 040755, 0}; }
  void file(const std::string& p, std::string text = "x") {
    files[p] = FileInfo{true, false, true, 0100644, 0};
    contents[p] = std::move(text);
  }

  FileInfo stat(std::string_view p) override {
    auto it = files.find(std::string(p));
    return it == files.end() ? FileInfo{false, false, false, 0, 2} : it->second;
  }
  bool readonly_fs(const std::string& p) override { return readonly.count(p) > 0; }
  bool access(const std::string& p, int) override {
    return files.count(p) && !not_root_accessible.count(p);
  }
  std::optional<bool> user_access(std::string_view p, int mode) override {
    auto it = user.find({std::string(p), mode});
    if (it != user.end()) return it->second;
    return std::nullopt;
  }
  void prefetch_user_access(const AccessQueries&) override { ++prefetches; }
  std::optional<std::string> read_file(const std::string& p) override {
    auto it = contents.find(p);
    if (it == contents.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> list_dir(const std::string& p) override {
    auto it = subdirs.find(p);
    return it == subdirs.end() ? std::vector<std::string>{} : it->second;
  }
  BindResult try_bind(const std::string&, int port, const std::string&) override {
    auto it = binds.find(port);
    return it == binds.end() ? BindResult::ok : it->second;
  }
  std::time_t now() override { return clock; }
  long open_file_limit() override { return nofile; }
  long long memory_bytes() override { return mem; }
  std::optional<std::string> find_in_path(const std::string& prog) override {
    if (path_programs.count(prog)) return "/usr/bin/" + prog;
    return std::nullopt;
  }
};

// A model from text with Debian-like defaults: event MPM, www-data, common modules.
inline Model model(std::string_view text, std::vector<std::string> modules = {
                                              "core.c", "event.c", "mod_so.c", "mod_reqtimeout.c",
                                              "mod_alias.c", "mod_rewrite.c", "mod_proxy.c"}) {
  Model m = parse_config_text(text, "/etc/apache2/apache2.conf");
  m.modules = std::move(modules);
  m.server_root = "/etc/apache2";
  m.run_user = "www-data";
  m.run_uid = 33;
  m.run_gid = 33;
  m.finalize();
  return m;
}

inline std::vector<Finding> run(const Model& m, Environment& env, bool hardening = false,
                                bool config_test = true) {
  RunOptions o;
  o.config_test = config_test;
  if (hardening) o.profile = Profile::hardening;
  return run_rules(m, env, o);
}

inline std::vector<Finding> only(const std::vector<Finding>& all, std::string_view rule) {
  std::vector<Finding> out;
  for (const Finding& f : all)
    if (f.rule == rule) out.push_back(f);
  return out;
}

inline std::string dump(const std::vector<Finding>& fs) {
  std::string s;
  for (const Finding& f : fs) s += finding_text(f) + "\n";
  return s;
}

// Certificates for the TLS tests (test_config_tls.cpp).
struct Pem {
  std::string cert, key;
};
// days: notAfter relative to FakeEnv's default clock. issuer: sign with this CA (nullptr = self).
Pem make_cert(const std::string& cn, const std::vector<std::string>& sans, long days,
              const Pem* issuer = nullptr, bool ca = false, const char* pass = nullptr);

}  // namespace selfheal::cfg::testing
