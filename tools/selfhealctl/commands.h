// selfhealctl subcommands. Each returns the process exit status.
#pragma once

namespace selfhealctl {

// selfhealctl lint [-f FILE] [-d DIR] [-D NAME]... [-C DIRECTIVE]... [--format text|json|sarif]
//                  [--fail-on error|warning|info] [--profile safety|hardening]
// 0 clean, 1 findings at or above --fail-on, 2 tool or parse error. (tools/selfhealctl/lint.cpp)
int cmd_lint(int argc, char** argv);

// crashes / show / follow / quarantine: tools/selfhealctl/crashes.cpp and friends.
int cmd_crashes(int argc, char** argv);
int cmd_show(int argc, char** argv);
int cmd_follow(int argc, char** argv);

}  // namespace selfhealctl
