// Placeholder until the config-rules work lands; replaced by the real `selfhealctl lint`.
#include <cstdio>

#include "commands.h"

namespace selfhealctl {
int cmd_lint(int, char**) {
  std::fprintf(stderr, "selfhealctl lint: not available in this build\n");
  return 2;
}
}  // namespace selfhealctl
