// selfhealctl subcommands. Each returns the process exit status; argv[0] is the subcommand
// name (main.cpp passes argc - 1, argv + 1).
#pragma once

namespace selfhealctl {

// selfhealctl lint [-f FILE] [-d DIR] [-D NAME]... [-C DIRECTIVE]... [--format text|json|sarif]
//                  [--fail-on error|warning|info] [--profile safety|hardening]
// 0 clean, 1 findings at or above --fail-on, 2 tool or parse error. (tools/selfhealctl/lint.cpp)
int cmd_lint(int argc, char** argv);

// crashes / show / follow: tools/selfhealctl/crashes.cpp, show.cpp, follow.cpp; the testable
// forms (run_crashes, ...) are in crash_cli.h.
int cmd_crashes(int argc, char** argv);
int cmd_show(int argc, char** argv);
int cmd_follow(int argc, char** argv);

// selfhealctl quarantine [list|lift KEY|lift --all] [--url URL] [--json]: the quarantine of a
// running httpd through its status handler. 0 done, 1 KEY not found, 2 usage or HTTP error.
// (tools/selfhealctl/quarantine.cpp)
int cmd_quarantine(int argc, char** argv);

}  // namespace selfhealctl
