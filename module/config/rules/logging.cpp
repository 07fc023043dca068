// LOG-* and RUN-* rules: log destinations (files, piped loggers), LogLevel, and the
// PidFile directory.
#include <unistd.h>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

// Piped loggers among the log destinations (Context::log_targets()).
void log001(Context& c) {
  for (const Context::LogTarget& lt : c.log_targets()) {
    const int d = lt.dir;
    const std::string_view arg0 = lt.target;
    if (arg0.empty() || arg0[0] != '|') continue;
    std::string target(arg0);
    target.erase(0, target.size() > 1 && target[1] == '|' ? 2 : 1);
    const bool shell = !target.empty() && target[0] == '$';
    if (shell) target.erase(0, 1);
    const std::vector<std::string> words = split_args(target);
    if (words.empty()) continue;
    const std::string& prog = words[0];
    std::string problem;
    if (prog.front() == '/') {
      const FileInfo fi = c.env.stat(prog);
      if (!fi.exists)
        problem = "does not exist";
      else if (fi.is_dir || !c.env.access(prog, X_OK))
        problem = "is not executable";
    } else if (prog.find('/') != std::string::npos) {
      if (!c.env.access(c.m.resolve(prog), X_OK)) problem = "cannot be found";
    } else if (!c.env.find_in_path(prog) && !c.env.access(c.m.resolve(prog), X_OK)) {
      problem = "is not in PATH";
    }
    if (problem.empty()) continue;
    if (shell)
      c.report(d,
               "piped log program " + prog + " " + problem +
                   ": the shell starts but every log line is lost",
               Severity::warning);
    else
      c.report(d, "piped log program " + prog + " " + problem +
                      ": start and reload fail (AH00089/AH00104)");
  }
}

void log002(Context& c) {
  // target -> problem ("" = fine); 10,000 vhosts usually share a few log files.
  struct Memo {
    bool done = false;
    std::string problem;
  };
  std::vector<Memo> memo(c.distinct_log_targets());
  for (const Context::LogTarget& lt : c.log_targets()) {
    const int d = lt.dir;
    const std::string_view target = lt.target;
    if (target.empty() || target[0] == '|' ||
        ((target[0] == 's' || target[0] == 'S') && util::starts_with_i(target, "syslog")) ||
        target.find("%{") != std::string_view::npos)
      continue;
    Memo& seen = memo[static_cast<size_t>(lt.id)];
    if (seen.done) {
      if (!seen.problem.empty())
        c.report(d, "log file cannot be opened: " + seen.problem + "; start and reload fail");
      continue;
    }
    const std::string path = c.m.resolve(target);
    const std::string dir = util::parent_dir(path);
    const FileInfo fi = c.env.stat(path);
    const FileInfo di = c.env.stat(dir);
    std::string problem;
    if (fi.exists && fi.is_dir)
      problem = path + " is a directory";
    else if (!di.exists)
      problem = "directory " + dir + " does not exist";
    else if (!di.is_dir)
      problem = dir + " is not a directory";
    else if (c.env.readonly_fs(dir))
      problem = dir + " is on a read-only filesystem";
    else if (fi.exists ? !c.env.access(path, W_OK) : !c.env.access(dir, W_OK | X_OK))
      problem = path + " is not writable";
    seen.done = true;
    seen.problem = problem;
    if (!problem.empty())
      c.report(d, "log file cannot be opened: " + problem + "; start and reload fail");
  }
}

void log003(Context& c) {
  const int d = c.m.main_value("loglevel");
  if (d < 0) return;
  for (std::string_view a : c.m.dirs[static_cast<size_t>(d)].args) {
    if (a.find(':') != std::string_view::npos) continue;
    const std::string l = to_lower(a);
    if (l == "debug" || l.rfind("trace", 0) == 0)
      c.report(d, "LogLevel " + a + " globally: the error log grows fast and slows every request",
               std::nullopt, "LogLevel warn (raise single modules: LogLevel warn ssl:debug)");
  }
}

void run001(Context& c) {
  const std::string pid = c.m.effective_pid_file();
  if (pid.empty()) return;
  const int d = c.m.main_value("pidfile");
  const std::string dir = util::parent_dir(pid);
  const FileInfo di = c.env.stat(dir);
  std::string problem;
  if (!di.exists)
    problem = "directory " + dir + " does not exist";
  else if (!di.is_dir)
    problem = dir + " is not a directory";
  else if (c.env.readonly_fs(dir))
    problem = dir + " is on a read-only filesystem";
  else if (!c.env.access(dir, W_OK | X_OK))
    problem = dir + " is not writable";
  if (!problem.empty())
    c.report(d, "PidFile " + pid + " cannot be written: " + problem +
                    "; `-k start` returns 0, then the server exits");
}

}  // namespace

void add_logging_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  out.push_back({"LOG-001",
                 Severity::error,
                 S,
                 P,
                 "piped log program missing or not executable",
                 "install the program or fix its path",
                 {},
                 log001});
  out.push_back({"LOG-002",
                 Severity::error,
                 S,
                 P,
                 "log file cannot be opened",
                 "create the directory or point the log elsewhere",
                 {},
                 log002});
  out.push_back({"LOG-003",
                 Severity::warning,
                 S,
                 P,
                 "LogLevel debug/trace globally",
                 "LogLevel warn",
                 {},
                 log003});
  out.push_back({"RUN-001",
                 Severity::error,
                 S,
                 P,
                 "PidFile directory missing or not writable",
                 "create the directory (Debian: APACHE_RUN_DIR) or move PidFile",
                 {},
                 run001});
}

}  // namespace selfheal::cfg
