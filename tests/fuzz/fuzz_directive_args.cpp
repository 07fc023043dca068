// fuzz_directive_args: the argument parsers of every directive of the module
// (module/config/directive_args, called by module/httpd/directives.cpp and config_hooks.cpp).
//
// Input: a selector byte, then up to three arguments separated by '\n'. Checks, besides "no
// crash": a parser accepts exactly what its directive documents (On/Off; a size 64K..1T or
// unlimited; a keyword of the list; a known rule id or family; a finite threshold within its
// range), and every refusal names the directive and says what is allowed.
//
// Directives of other parts with pure parsers are added here as they appear.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/directive_args.h"
#include "config/engine.h"
#include "config/model.h"
#include "fuzz_check.h"

namespace dargs = selfheal::dargs;
namespace cfg = selfheal::cfg;

namespace {

std::string_view c_str(std::string_view s) {
  return s.substr(0, s.find('\0'));
}

void refused(std::string_view msg, std::string_view directive) {
  FUZZ_CHECK(msg.substr(0, directive.size()) == directive);
  FUZZ_CHECK(msg.find("use ") != std::string_view::npos ||
             msg.find("needs ") != std::string_view::npos ||
             msg.find("must be") != std::string_view::npos);
}

// Reference for SelfHealCrashLogMaxSize, written independently of the parser.
bool size_ok(std::string_view a, uint64_t* out) {
  a = c_str(a);
  if (cfg::iequals(a, "unlimited")) {
    *out = 0;
    return true;
  }
  size_t i = 0;
  while (i < a.size() && a[i] >= '0' && a[i] <= '9') ++i;
  if (i == 0) return false;
  std::string_view digits = a.substr(0, i);
  while (digits.size() > 1 && digits[0] == '0') digits.remove_prefix(1);  // leading zeros
  if (digits.size() > 19) return false;  // > 1T whatever the suffix
  long double n = std::stold(std::string(digits));
  std::string_view suf = a.substr(i);
  long double mult = 1;
  if (!suf.empty()) {
    char c = static_cast<char>(suf[0] | 0x20);
    if (c == 'k')
      mult = 1024.0L;
    else if (c == 'm')
      mult = 1048576.0L;
    else if (c == 'g')
      mult = 1073741824.0L;
    else
      return false;
    suf.remove_prefix(1);
    if (!suf.empty() && (suf[0] == 'b' || suf[0] == 'B')) suf.remove_prefix(1);
    if (!suf.empty()) return false;
  }
  long double v = n * mult;
  if (v < 65536.0L || v > 1099511627776.0L) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const unsigned which = data[0] % 7;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> args;
  for (int k = 0; k < 2; ++k) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    args.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  args.push_back(rest);
  const std::string_view a0 = args[0];

  switch (which) {
    case 0:
    case 1: {  // SelfHealRedact, SelfHealCrashCapture
      const char* d = which ? "SelfHealCrashCapture" : "SelfHealRedact";
      bool v = false;
      std::string msg = dargs::on_off(d, a0, &v);
      const bool on = cfg::iequals(c_str(a0), "on"), off = cfg::iequals(c_str(a0), "off");
      FUZZ_CHECK(msg.empty() == (on || off));
      if (msg.empty())
        FUZZ_CHECK(v == on);
      else
        refused(msg, d);
      break;
    }
    case 2: {  // SelfHealCrashLog
      std::string msg = dargs::crash_log_path("SelfHealCrashLog", a0);
      const std::string_view p = c_str(a0);
      FUZZ_CHECK(msg.empty() == (!p.empty() && p[0] != '|'));
      if (!msg.empty()) refused(msg, "SelfHealCrashLog");
      break;
    }
    case 3: {  // SelfHealCrashLogMaxSize
      uint64_t got = 1, want = 1;
      std::string msg = dargs::log_size("SelfHealCrashLogMaxSize", a0, &got);
      const bool ok = size_ok(a0, &want);
      FUZZ_CHECK(msg.empty() == ok);
      if (ok) {
        FUZZ_CHECK(got == want);
        FUZZ_CHECK(got == 0 || (got >= dargs::kMinLogBytes && got <= dargs::kMaxLogBytes));
        // The byte count it stands for parses back to itself.
        uint64_t again = 1;
        if (got)
          FUZZ_CHECK(dargs::log_size("X", std::to_string(got), &again).empty() && again == got);
      } else {
        refused(msg, "SelfHealCrashLogMaxSize");
      }
      break;
    }
    case 4: {  // SelfHealValidate / SelfHealProfile
      size_t idx = 99;
      std::string msg = dargs::one_of("SelfHealValidate", a0, {"warn", "enforce", "off"}, &idx);
      const std::string_view p = c_str(a0);
      const bool known =
          cfg::iequals(p, "warn") || cfg::iequals(p, "enforce") || cfg::iequals(p, "off");
      FUZZ_CHECK(msg.empty() == known);
      if (known)
        FUZZ_CHECK(idx < 3);
      else
        refused(msg, "SelfHealValidate");
      std::string m2 = dargs::one_of("SelfHealProfile", a0, {"safety", "hardening"});
      FUZZ_CHECK(m2.empty() == (cfg::iequals(p, "safety") || cfg::iequals(p, "hardening")));
      break;
    }
    case 5: {  // SelfHealSkip
      std::string msg = dargs::skip_rule("SelfHealSkip", a0);
      const std::string_view p = c_str(a0);
      const bool fam = p.size() > 2 && p.substr(p.size() - 2) == "-*" &&
                       cfg::is_rule_family(p.substr(0, p.size() - 2));
      FUZZ_CHECK(msg.empty() == (cfg::find_rule(p) != nullptr || fam));
      if (!msg.empty()) refused(msg, "SelfHealSkip");
      break;
    }
    case 6: {  // SelfHealRuleThreshold RULE NAME VALUE
      while (args.size() < 3) args.push_back({});
      double v = -1;
      std::string msg =
          dargs::rule_threshold("SelfHealRuleThreshold", args[0], args[1], args[2], &v);
      if (msg.empty()) {
        const cfg::Rule* r = cfg::find_rule(c_str(args[0]));
        FUZZ_CHECK(r != nullptr);
        bool in_range = false;
        for (const auto& t : r->thresholds)
          if (cfg::iequals(t.name, c_str(args[1])))
            in_range = std::isfinite(v) && v >= t.min && v <= t.max;
        FUZZ_CHECK(in_range);
      } else {
        refused(msg, "SelfHealRuleThreshold");
      }
      break;
    }
  }
  return 0;
}
