// selfhealctl crashes [LOG...]: crash groups by signature (see README "## selfhealctl").
#include <strings.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "crash_cli.h"
#include "output.h"
#include "records/grouping.h"
#include "records/reader.h"

namespace selfhealctl {

using namespace selfheal::records;

namespace {

constexpr const char* kUsage =
    "usage: selfhealctl crashes [LOG...] [--since T] [--until T] [--signal SIG] [--vhost HOST]\n"
    "                           [--path PREFIX] [--top N] [--no-symbolize] [--json]\n"
    "  LOG            crash logs to read (default: the crash log of the local config)\n"
    "  --since/--until T   ISO-8601 time (UTC unless an offset is given) or relative: 30m, 1h, 2d\n"
    "  --signal SIG   SIGSEGV, SEGV or 11      --vhost HOST   vhost, its host name, or Host "
    "header\n"
    "  --path PREFIX  request path prefix      --top N        paths/vhosts shown per group (3)\n"
    "  --no-symbolize leave frames as module+offset   --json   machine-readable output\n";

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// ${APACHE_LOG_DIR} as Debian's envvars sets it (environment first).
std::string apache_log_dir(const CliEnv& env) {
  if (env.getenv)
    if (const char* v = env.getenv("APACHE_LOG_DIR"); v && *v) return v;
  std::ifstream in(env.apache_root + "/envvars");
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    if (line.rfind("APACHE_LOG_DIR=", 0) != 0) continue;
    std::string v = line.substr(15);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    if (auto p = v.find("$SUFFIX"); p != std::string::npos) v.erase(p, 7);
    if (auto p = v.find("${SUFFIX}"); p != std::string::npos) v.erase(p, 9);
    if (v.find('$') == std::string::npos && !v.empty()) return v;
  }
  return "/var/log/apache2";
}

}  // namespace

int64_t now_us(const CliEnv& env) {
  if (env.now_us) return env.now_us;
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

CliEnv process_env() {
  CliEnv env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.getenv = [](const char* n) -> const char* { return std::getenv(n); };
  return env;
}

LogChoice default_crash_log(const CliEnv& env) {
  if (env.getenv)
    if (const char* v = env.getenv("SELFHEAL_CRASH_LOG"); v && *v)
      return {v, "from $SELFHEAL_CRASH_LOG"};
  std::ifstream in(env.selfheal_conf);
  if (in) {
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      std::string t = trim(line);
      if (t.empty() || t[0] == '#') continue;
      std::istringstream ss(t);
      std::string name, arg;
      ss >> name;
      if (strcasecmp(name.c_str(), "SelfHealCrashLog") != 0) continue;
      std::getline(ss, arg);
      arg = trim(arg);
      if (arg.size() >= 2 && arg.front() == '"' && arg.back() == '"')
        arg = arg.substr(1, arg.size() - 2);
      for (const char* var : {"${APACHE_LOG_DIR}", "$APACHE_LOG_DIR"})
        if (auto p = arg.find(var); p != std::string::npos)
          arg.replace(p, std::strlen(var), apache_log_dir(env));
      if (arg.empty() || arg[0] == '|') break;
      if (arg[0] != '/') arg = env.apache_root + "/" + arg;
      return {arg, "from SelfHealCrashLog at " + env.selfheal_conf + ":" + std::to_string(n)};
    }
  }
  return {"/var/log/apache2/selfheal_crash.log", "the Debian default; no SelfHealCrashLog in " +
                                                     env.selfheal_conf +
                                                     " (set $SELFHEAL_CRASH_LOG or name the log)"};
}

std::optional<int64_t> parse_time_arg(std::string_view s, int64_t now) {
  if (s.empty()) return std::nullopt;
  if (auto t = parse_iso8601(s)) return t;
  size_t i = 0;
  int64_t n = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    n = n * 10 + (s[i] - '0');
    if (n > 100000000) return std::nullopt;
  }
  if (i == 0 || i + 1 != s.size()) return std::nullopt;
  int64_t unit;
  switch (s[i]) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      return std::nullopt;
  }
  return now - n * unit * 1000000;
}

std::vector<std::string> choose_logs(const std::vector<std::string>& given, const CliEnv& env,
                                     std::string& how) {
  if (!given.empty()) {
    how = "given on the command line";
    return given;
  }
  LogChoice c = default_crash_log(env);
  how = c.how;
  return {c.path};
}

int run_crashes(const std::vector<std::string>& args, CliEnv& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  Filter filter;
  bool as_json = false, symbolize = true;
  size_t top = 3;
  std::vector<std::string> logs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= args.size()) {
        err << "selfhealctl crashes: " << a << " needs a value\n" << kUsage;
        return false;
      }
      v = args[++i];
      return true;
    };
    std::string v;
    if (a == "--json") {
      as_json = true;
    } else if (a == "--no-symbolize") {
      symbolize = false;
    } else if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    } else if (a == "--since" || a == "--until") {
      if (!value(v)) return 2;
      auto t = parse_time_arg(v, now_us(env));
      if (!t) {
        err << "selfhealctl crashes: " << a << " '" << v
            << "' is neither ISO-8601 (2026-11-24T07:00:00Z) nor relative (30m, 1h, 2d)\n";
        return 2;
      }
      (a == "--since" ? filter.since_us : filter.until_us) = *t;
    } else if (a == "--signal") {
      if (!value(v)) return 2;
      filter.signal = normalize_signal(v);
      if (filter.signal.empty()) {
        err << "selfhealctl crashes: --signal '" << v << "' is not a signal (SIGSEGV, SEGV, 11)\n";
        return 2;
      }
    } else if (a == "--vhost") {
      if (!value(filter.vhost)) return 2;
    } else if (a == "--path") {
      if (!value(filter.path)) return 2;
    } else if (a == "--top") {
      if (!value(v)) return 2;
      top = static_cast<size_t>(std::strtoul(v.c_str(), nullptr, 10));
      if (top == 0) top = 1;
    } else if (a.size() > 1 && a[0] == '-') {
      err << "selfhealctl crashes: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      logs.push_back(a);
    }
  }
  std::string how;
  bool defaulted = logs.empty();
  logs = choose_logs(logs, env, how);
  ReadOptions ro;
  ro.summary = true;  // modules and registers are for `show`
  ReadResult rr = read_files(logs, ro);
  print_warnings(rr, err);
  // A default log that does not exist yet just means no crash was recorded.
  bool missing_default = defaulted && rr.errors.size() == 1 && rr.records.empty();
  if (!rr.errors.empty() && !missing_default) return 2;

  std::vector<Group> groups = group_records(rr.records, filter);
  size_t matched = 0;
  for (const Group& g : groups) matched += g.records;
  std::unique_ptr<Symbolizer> sym;
  if (symbolize) sym = std::make_unique<Symbolizer>(env.symbolizer);

  if (as_json) {
    ojson j;
    j["files"] = logs;
    j["records"] = rr.records.size();
    j["matched"] = matched;
    ojson ga = ojson::array();
    for (const Group& g : groups) ga.push_back(group_json(g, sym.get()));
    j["groups"] = ga;
    j["skipped"] = skipped_json(rr.skipped);
    out << j.dump(2) << "\n";
    return 0;
  }

  for (const auto& l : logs) out << "Crash log: " << l << " (" << how << ")\n";
  if (missing_default) out << "No crash log there yet: no crash has been recorded.\n";
  size_t crashes = 0;
  for (const Group& g : groups) crashes += g.count;
  out << rr.records.size() << " record" << (rr.records.size() == 1 ? "" : "s") << " read";
  if (!rr.skipped.empty())
    out << ", " << rr.skipped.size() << " damaged line" << (rr.skipped.size() == 1 ? "" : "s")
        << " skipped (see warnings)";
  out << "\n";
  bool filtered = filter.since_us || filter.until_us || !filter.signal.empty() ||
                  !filter.vhost.empty() || !filter.path.empty();
  if (filtered) {
    out << "Filter:";
    if (filter.since_us) out << " since " << format_time_us(*filter.since_us);
    if (filter.until_us) out << " until " << format_time_us(*filter.until_us);
    if (!filter.signal.empty()) out << " signal " << filter.signal;
    if (!filter.vhost.empty()) out << " vhost " << filter.vhost;
    if (!filter.path.empty()) out << " path " << filter.path << "*";
    out << " (" << matched << " of " << rr.records.size() << " records match)\n";
  }
  if (groups.empty()) {
    out << (filtered ? "No crashes match.\n" : "No crashes.\n");
    return 0;
  }
  out << crashes << " crash" << (crashes == 1 ? "" : "es") << " in " << groups.size() << " group"
      << (groups.size() == 1 ? "" : "s") << "\n\n";
  out << "SIGNATURE         COUNT  FIRST SEEN            LAST SEEN             SIGNAL   PIDS\n";
  size_t unsymbolized = 0;
  for (const Group& g : groups) {
    out << g.signature << pad_left(std::to_string(g.count), 7) << "  " << table_time(g.first_us)
        << "  " << table_time(g.last_us) << "  " << pad_right(g.signal, 7) << " "
        << pad_left(std::to_string(g.pids.size()), 5) << "\n";
    for (size_t k = 0; k < g.top_frames.size(); ++k) {
      const Symbolized* s = sym ? &sym->symbolize(g.top_frames[k], g.top_index[k] > 0) : nullptr;
      if (s && !s->has_function) ++unsymbolized;
      out << "    #" << g.top_index[k] << " " << frame_line(g.top_frames[k], s) << "\n";
    }
    if (!g.paths.empty()) out << "    paths   " << join_counted(g.paths, top) << "\n";
    if (!g.vhosts.empty()) out << "    vhosts  " << join_counted(g.vhosts, top) << "\n";
    if (g.no_request) out << "    no request in flight: " << g.no_request << "\n";
    if (g.folded) out << "    folded  " << g.folded << " identical crashes not written out\n";
    out << "\n";
  }
  if (unsymbolized)
    out << unsymbolized << " frame" << (unsymbolized == 1 ? " has" : "s have")
        << " no symbols; `selfhealctl show SIGNATURE` says why and which package has them.\n";
  return 0;
}

int cmd_crashes(int argc, char** argv) {
  CliEnv env = process_env();
  return run_crashes(std::vector<std::string>(argv + 1, argv + argc), env);
}

}  // namespace selfhealctl
