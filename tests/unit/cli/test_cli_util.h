// Helpers for the selfhealctl CLI tests: run a subcommand in-process with captured output,
// a fixed clock and a fake package lookup, and compare against golden files.
//
// Goldens live in tests/data/golden/. The test data directory is written as @DATA@ so the
// goldens do not depend on where the tree is checked out. To regenerate after an intended
// change: SELFHEAL_UPDATE_GOLDEN=1 ./unit_tests --gtest_filter='CliGolden*' and review the diff.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crash_cli.h"

namespace selfhealctl::testing {

inline const std::string kData = SELFHEAL_TEST_DATA;

struct Captured {
  int rc = -1;
  std::string out, err;
};

// 2026-11-25T00:00:00Z: after every record of the sample logs.
inline constexpr int64_t kTestNow = 1795564800000000;

inline CliEnv test_env(std::ostringstream& out, std::ostringstream& err) {
  CliEnv env;
  env.out = &out;
  env.err = &err;
  env.now_us = kTestNow;
  env.getenv = [](const char*) -> const char* { return nullptr; };
  env.selfheal_conf = kData + "/no-such-selfheal.conf";
  env.symbolizer.debug_root = "/usr/lib/debug";
  env.symbolizer.package_lookup = [](const std::string& path) -> std::pair<bool, std::string> {
    if (path.find("mod_crashy") != std::string::npos) return {true, "libapache2-mod-crashy"};
    return {false, "dpkg does not know " + path + " (not installed from a Debian package)"};
  };
  return env;
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
  return s;
}

inline Captured run(int (*cmd)(const std::vector<std::string>&, CliEnv&),
                    const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CliEnv env = test_env(out, err);
  Captured c;
  c.rc = cmd(args, env);
  c.out = replace_all(out.str(), kData, "@DATA@");
  c.err = replace_all(err.str(), kData, "@DATA@");
  return c;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with tests/data/golden/<name>; rewrites it with SELFHEAL_UPDATE_GOLDEN=1.
inline void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = kData + "/golden/" + name;
  if (const char* u = std::getenv("SELFHEAL_UPDATE_GOLDEN"); u && *u == '1') {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream probe(path);
  ASSERT_TRUE(probe.good()) << "missing golden " << path
                            << " (run with SELFHEAL_UPDATE_GOLDEN=1 to create it)";
  EXPECT_EQ(slurp(path), actual) << "golden " << name << " differs";
}

}  // namespace selfhealctl::testing
