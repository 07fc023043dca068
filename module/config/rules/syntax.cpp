// SYN-* rules: text httpd accepts but reads differently from what was written.

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

void syn001(Context& c) {
  for (size_t i = 0; i < c.m.dirs.size(); ++i) {
    const Directive& d = c.m.dirs[i];
    if (!d.hash_word) continue;  // set by the model: an unquoted word starts with a hash
    std::vector<bool> quoted;
    const std::vector<std::string> w = split_args(d.raw_args, &quoted);
    for (size_t k = 0; k < w.size(); ++k) {
      if (quoted[k] || w[k].empty() || w[k][0] != '#') continue;
      const bool uid =
          w[k].size() > 1 && w[k].find_first_not_of("0123456789", 1) == std::string::npos;
      if (uid) continue;  // User #1000
      c.report(static_cast<int>(i),
               "'" + w[k] + "' in the arguments of " + d.name +
                   " is not a comment: httpd takes it and every word after it as arguments",
               std::nullopt, "move the comment to its own line");
      break;
    }
  }
}

}  // namespace

void add_syntax_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"SYN-001",
                 Severity::warning,
                 S,
                 P,
                 "trailing # comment inside arguments",
                 "move the comment to its own line",
                 {},
                 syn001});
}

}  // namespace selfheal::cfg
