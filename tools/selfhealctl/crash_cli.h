// The crash-reading subcommands (crashes, show, follow) as testable functions: everything a
// command touches outside the log files comes in through CliEnv, so tests run them in-process
// with fixed clocks, fake package lookups and captured output.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbolize.h"

namespace selfhealctl {

struct CliEnv {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  int64_t now_us = 0;                              // 0: the real clock
  std::function<const char*(const char*)> getenv;  // null: no environment
  std::string apache_root = "/etc/apache2";        // ServerRoot on Debian
  std::string selfheal_conf = "/etc/apache2/mods-enabled/selfheal.conf";
  SymbolizerOptions symbolizer;
  const volatile std::sig_atomic_t* stop = nullptr;  // follow: set to stop (SIGINT/SIGTERM)
};

// The real process environment: std::cout/std::cerr, getenv, dpkg.
CliEnv process_env();

int run_crashes(const std::vector<std::string>& args, CliEnv& env);
int run_show(const std::vector<std::string>& args, CliEnv& env);
int run_follow(const std::vector<std::string>& args, CliEnv& env);

// The crash log of the local configuration: $SELFHEAL_CRASH_LOG, else SelfHealCrashLog in
// selfheal.conf (relative paths under ServerRoot, ${APACHE_LOG_DIR} from envvars), else
// the Debian default /var/log/apache2/selfheal_crash.log. `how` says where it came from.
struct LogChoice {
  std::string path;
  std::string how;
};
LogChoice default_crash_log(const CliEnv& env);
// LOG arguments as given, else the default; `how` says where the files came from.
std::vector<std::string> choose_logs(const std::vector<std::string>& given, const CliEnv& env,
                                     std::string& how);

// --since/--until: ISO-8601 (UTC unless an offset is given) or relative ("90s", "15m", "1h",
// "2d", "1w": that long before now). Returns microseconds since the epoch.
std::optional<int64_t> parse_time_arg(std::string_view s, int64_t now_us);

int64_t now_us(const CliEnv& env);

}  // namespace selfhealctl
