// MOD-* rules: modules against the MPM (non-thread-safe modules under a threaded MPM).

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

void mod001(Context& c) {
  if (!c.m.threaded_mpm()) return;
  for (const std::string& mod : c.m.modules) {
    std::string base =
        mod.substr(mod.find_last_of('/') == std::string::npos ? 0 : mod.find_last_of('/') + 1);
    if (base.rfind("mod_php", 0) == 0 || base.rfind("libphp", 0) == 0 || base == "sapi_apache2.c" ||
        base == "php_module")
      c.report(-1,
               base + " is not thread-safe but the " + c.m.effective_mpm() +
                   " MPM runs requests in threads: workers crash or corrupt memory",
               std::nullopt,
               "switch to mpm_prefork (a2dismod mpm_" + c.m.effective_mpm() +
                   "; a2enmod mpm_prefork) or use PHP-FPM via mod_proxy_fcgi");
  }
}

}  // namespace

void add_modules_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"MOD-001",
                 Severity::error,
                 S,
                 P,
                 "non-thread-safe module under a threaded MPM",
                 "use mpm_prefork",
                 {},
                 mod001});
}

}  // namespace selfheal::cfg
