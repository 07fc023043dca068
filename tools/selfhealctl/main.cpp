// selfhealctl: read crash records, run the config rules. Subcommands in commands.h.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"

#ifndef SELFHEAL_VERSION
#error "SELFHEAL_VERSION comes from CMake (the top entry of debian/changelog)"
#endif

namespace {

constexpr const char* kHelp =
    "usage: selfhealctl COMMAND [ARGS...]\n"
    "\n"
    "Crash records (the SelfHealCrashLog; default: the crash log of the local config):\n"
    "  crashes [LOG...]          crash groups by signature: count, first/last seen, signal,\n"
    "                            top frames, request paths and vhosts\n"
    "  show ID|SIGNATURE [LOG...]  one crash or one group in full, symbolized backtrace\n"
    "  follow [LOG]              print new crashes as they land, across log rotation\n"
    "\n"
    "Configuration:\n"
    "  lint [-f FILE] ...        run the config rules (text, JSON, SARIF)\n"
    "\n"
    "Self-healing (a running httpd, through SetHandler selfheal-status):\n"
    "  quarantine [list|lift KEY|lift --all] --url URL\n"
    "                            list or lift quarantined request keys\n"
    "\n"
    "Every command takes --json and --help.\n"
    "  --version                 print the version\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("selfhealctl %s (crash record schema 1)\n", SELFHEAL_VERSION);
    return 0;
  }
  // Each subcommand gets argv[0] = its own name.
  int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  if (cmd == "crashes") return selfhealctl::cmd_crashes(sub_argc, sub_argv);
  if (cmd == "show") return selfhealctl::cmd_show(sub_argc, sub_argv);
  if (cmd == "follow") return selfhealctl::cmd_follow(sub_argc, sub_argv);
  if (cmd == "lint") return selfhealctl::cmd_lint(sub_argc, sub_argv);
  if (cmd == "quarantine") return selfhealctl::cmd_quarantine(sub_argc, sub_argv);
  std::fprintf(stderr, "selfhealctl: unknown command '%s'\n\n%s", argv[1], kHelp);
  return 2;
}
