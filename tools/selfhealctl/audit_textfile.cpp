#include "audit_textfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

namespace selfhealctl {
namespace {

using selfheal::cfg::Finding;
using selfheal::cfg::Severity;

// Prometheus label values: backslash, double quote and newline are escaped.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string audit_textfile(const std::vector<Finding>* findings, std::time_t now) {
  std::string t;
  t += "# HELP selfheal_audit_success 1 if the last configuration audit could judge the "
       "configuration, 0 if httpd could not parse it.\n"
       "# TYPE selfheal_audit_success gauge\n";
  t += findings ? "selfheal_audit_success 1\n" : "selfheal_audit_success 0\n";
  t += "# HELP selfheal_audit_last_run_timestamp_seconds When the last configuration audit ran.\n"
       "# TYPE selfheal_audit_last_run_timestamp_seconds gauge\n"
       "selfheal_audit_last_run_timestamp_seconds " +
       std::to_string(static_cast<long long>(now)) + "\n";
  if (!findings) return t;
  size_t by_severity[3] = {0, 0, 0};
  std::map<std::pair<std::string, std::string>, size_t> by_rule;
  for (const Finding& f : *findings) {
    ++by_severity[static_cast<int>(f.severity)];
    ++by_rule[{f.rule, selfheal::cfg::severity_name(f.severity)}];
  }
  t += "# HELP selfheal_audit_findings Findings of the last configuration audit, by severity.\n"
       "# TYPE selfheal_audit_findings gauge\n";
  for (Severity s : {Severity::error, Severity::warning, Severity::info})
    t += std::string("selfheal_audit_findings{severity=\"") + selfheal::cfg::severity_name(s) +
         "\"} " + std::to_string(by_severity[static_cast<int>(s)]) + "\n";
  t += "# HELP selfheal_audit_rule_findings Findings of the last configuration audit, by rule.\n"
       "# TYPE selfheal_audit_rule_findings gauge\n";
  for (const auto& [k, n] : by_rule)
    t += "selfheal_audit_rule_findings{rule=\"" + label(k.first) + "\",severity=\"" +
         label(k.second) + "\"} " + std::to_string(n) + "\n";
  return t;
}

bool write_textfile(const std::string& path, const std::string& text, std::string& err) {
  const size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    err = "cannot create " + dir + ": " + std::strerror(errno);
    return false;
  }
  // The collector reads only *.prom, so the temporary name is never collected.
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    off += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced) {
    err = "cannot write " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace selfhealctl
