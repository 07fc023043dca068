// Argument parsers of the module's directives, without httpd: the glue (module/httpd/
// directives.cpp, config_hooks.cpp) calls them and hands the message to httpd, which adds the
// file and line; tests/fuzz/fuzz_directive_args.cpp feeds them arbitrary bytes.
//
// Every parser returns an empty string when the argument is accepted, else the complete
// message: it names the directive, quotes the argument and says what is allowed. Arguments
// are taken as httpd passes them (C strings): bytes after a NUL are ignored. May throw
// std::bad_alloc only. NOT for use in a signal handler (allocates).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace selfheal::dargs {

// "On" / "Off", any case.
std::string on_off(std::string_view directive, std::string_view arg, bool* out);

// SelfHealCrashLog: a file path (not empty, not a piped log "|...").
std::string crash_log_path(std::string_view directive, std::string_view arg);

// SelfHealCrashLogMaxSize: a number of bytes with an optional K, M or G suffix (optionally
// followed by B), from 64K to 1T; or "unlimited" (*bytes = 0).
inline constexpr uint64_t kMinLogBytes = 64ull << 10;
inline constexpr uint64_t kMaxLogBytes = 1ull << 40;
std::string log_size(std::string_view directive, std::string_view arg, uint64_t* bytes);

// One word of `allowed`, any case; *index receives its position.
std::string one_of(std::string_view directive, std::string_view arg,
                   std::initializer_list<const char*> allowed, size_t* index = nullptr);

// SelfHealSkip: a rule id (TLS-001) or a family (TLS-*).
std::string skip_rule(std::string_view directive, std::string_view arg);

// SelfHealRuleThreshold RULE-ID NAME VALUE: a rule with thresholds, one of its threshold
// names (any case) and a finite number within the threshold's range.
std::string rule_threshold(std::string_view directive, std::string_view rule, std::string_view name,
                           std::string_view value, double* out);

// Appended to httpd's context message ("X cannot occur within <VirtualHost> section"): where
// the directive is allowed. The glue registers the directives RSRC_CONF|ACCESS_CONF, so inside
// <Directory>/<Location>/<Files> it is called and can say so (httpd alone says "not allowed here").
inline constexpr const char* kMainServerOnly =
    "allowed only in the main server configuration, outside <VirtualHost>, <Directory>, "
    "<Location>, <Files>, <Proxy> and <Limit>";
inline constexpr const char* kServerOrVirtualHost =
    "allowed in the main server configuration and inside <VirtualHost>, outside <Directory>, "
    "<Location>, <Files>, <Proxy> and <Limit>";

}  // namespace selfheal::dargs
