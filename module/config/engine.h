// Rule engine: rule registry, settings (profile, suppression, thresholds),
// findings, and the environment the rules look at (filesystem, run-user
// access, sockets, clock, limits) behind an interface so tests can fake it.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/model.h"

namespace selfheal::cfg {

enum class Severity { info = 0, warning = 1, error = 2 };
enum class Profile { safety = 0, hardening = 1 };
const char* severity_name(Severity s);  // "error", "warning", "info"
std::optional<Severity> parse_severity(std::string_view s);

struct Finding {
  std::string rule;
  Severity severity = Severity::warning;
  std::string file;
  int line = 0;
  std::string vhost;  // label, empty for the main server
  std::string message;
  std::string hint;
};
std::string finding_json(const Finding& f);  // one line of JSON
std::string finding_text(
    const Finding& f);  // "file:line: error TLS-001 [vhost] message (fix: hint)"

struct FileInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_reg = false;
  unsigned mode = 0;
  long uid = -1, gid = -1;
  int err = 0;  // errno of stat() when !exists
};

enum class BindResult { ok, in_use_by_us, in_use, not_local, unknown };

class Environment {
 public:
  virtual ~Environment() = default;
  virtual FileInfo stat(std::string_view path) = 0;
  virtual bool readonly_fs(const std::string& path) = 0;
  // access() as this process (root in httpd's parent).
  virtual bool access(const std::string& path, int mode) = 0;
  // access() as the run User/Group; nullopt when it cannot be determined.
  virtual std::optional<bool> user_access(std::string_view path, int mode) = 0;
  // Batch the run-user checks (one helper process for all of them).
  // (path, access() mode) pairs; the paths need only live through the call.
  using AccessQueries = std::vector<std::pair<std::string_view, int>>;
  virtual void prefetch_user_access(const AccessQueries& q) { (void)q; }
  virtual std::optional<std::string> read_file(const std::string& path) = 0;
  virtual std::vector<std::string> list_dir(const std::string& path) = 0;  // subdirectory names
  virtual BindResult try_bind(const std::string& host, int port, const std::string& pid_file) = 0;
  virtual std::time_t now() = 0;
  virtual long open_file_limit() = 0;    // soft RLIMIT_NOFILE, -1 unknown
  virtual long long memory_bytes() = 0;  // physical memory, -1 unknown
  virtual std::optional<std::string> find_in_path(const std::string& program) = 0;
};

// A fast string hash for the rule caches (paths, names): eight bytes per multiply, the
// tail as one overlapping load, no call. Not for untrusted input flooding (the keys are
// the operator's own configuration).
inline size_t key_hash(std::string_view k) {
  const char* p = k.data();
  size_t n = k.size();
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  auto mix = [&](uint64_t x) {
    h = (h ^ x) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  };
  if (n >= 8) {
    const char* end = p + n;
    for (; end - p > 8; p += 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      mix(x);
    }
    uint64_t x;
    std::memcpy(&x, end - 8, 8);  // the last 1..8 bytes (overlapping the previous load)
    mix(x);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    mix((uint64_t{a} << 32) | b);
  } else if (n) {
    mix((uint64_t{static_cast<unsigned char>(p[0])} << 16) |
        (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
        static_cast<unsigned char>(p[n - 1]));
  }
  h *= 0x94d049bb133111ebull;
  return static_cast<size_t>(h ^ (h >> 29));
}

// Open-addressing map from string keys (copied into an arena, or borrowed when the
// caller promises they are stable) to values with stable addresses (a deque). No
// per-entry allocation: 10,000 vhosts make 10,000s of entries.
template <class V>
class PathMap {
 public:
  V* find(std::string_view k) {
    if (slots_.empty()) return nullptr;
    const size_t h = key_hash(k);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.hash == h && s.key == k) return &values_[s.value];
    }
  }
  // {value, inserted}; a new value is V{}. `stored` (optional) receives the map's own
  // copy of the key, valid as long as the map.
  std::pair<V*, bool> try_emplace(std::string_view k, bool borrow = false,
                                  std::string_view* stored = nullptr) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t h = key_hash(k);
    size_t i = h & (slots_.size() - 1);
    for (;; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (!s.used) break;
      if (s.hash == h && s.key == k) {
        if (stored) *stored = s.key;
        return {&values_[s.value], false};
      }
    }
    values_.emplace_back();
    slots_[i] = {h, borrow ? k : keys_.copy(k), values_.size() - 1, true};
    if (stored) *stored = slots_[i].key;
    ++size_;
    return {&values_.back(), true};
  }
  size_t size() const { return size_; }
  // Room for n keys without rehashing.
  void reserve(size_t n) {
    size_t want = 64;
    while (want < 2 * n + 2) want *= 2;
    if (want > slots_.size()) rehash(want);
  }

 private:
  struct Slot {
    size_t hash = 0;
    std::string_view key;
    size_t value = 0;
    bool used = false;
  };
  void grow() { rehash(std::max<size_t>(64, slots_.size() * 2)); }
  void rehash(size_t n) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(n, Slot{});
    for (const Slot& s : old) {
      if (!s.used) continue;
      size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].used) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::deque<V> values_;
  Arena keys_;
  size_t size_ = 0;
};

// The real thing: caches every answer (10,000 vhosts sharing a DocumentRoot cost
// one stat), runs all run-user checks in one forked helper that switches to
// the run user (setgroups/setgid/setuid) and reports access() over a pipe.
class SystemEnvironment : public Environment {
 public:
  SystemEnvironment(std::string user, long uid, long gid);
  // The run user, when it is known only after the environment was made (see prestat()).
  void set_run_user(std::string user, long uid, long gid);
  // stat()s ahead every absolute, literal DocumentRoot and <Directory> path of the model
  // into the cache the rules read. The glue runs it in a thread while httpd still
  // processes its configuration, so the rules find the answers instead of waiting for
  // the syscalls (10,000 vhosts: 10,000 stats).
  void prestat(const Model& m);
  FileInfo stat(std::string_view path) override;
  bool readonly_fs(const std::string& path) override;
  bool access(const std::string& path, int mode) override;
  std::optional<bool> user_access(std::string_view path, int mode) override;
  void prefetch_user_access(const AccessQueries& q) override;
  std::optional<std::string> read_file(const std::string& path) override;
  std::vector<std::string> list_dir(const std::string& path) override;
  BindResult try_bind(const std::string& host, int port, const std::string& pid_file) override;
  std::time_t now() override;
  long open_file_limit() override;
  long long memory_bytes() override;
  std::optional<std::string> find_in_path(const std::string& program) override;

 private:
  // Hash/equality that look up std::string keys by std::string_view (no copies).
  struct SvHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return key_hash(s); }
  };
  template <class V>
  using Cache = std::unordered_map<std::string, V, SvHash, std::equal_to<>>;
  // Run-user answers per path, by access() mode 0..7: -2 not asked, -1 unknown, 0/1.
  using UserAnswers = std::array<signed char, 8>;

  // What is known about one path: stat(), run-user answers, search permission.
  struct PathFacts {
    FileInfo fi;
    bool stat_done = false;
    signed char search = -2;  // search_verdict(): -2 not computed
    UserAnswers user{-2, -2, -2, -2, -2, -2, -2, -2};
  };
  const FileInfo& stat_ref(std::string_view path);
  // The record of `path`. Rules hand the same model views (a DocumentRoot's argument)
  // to several calls: a direct-mapped cache on the view's address, checked against the
  // stored key's bytes, skips hashing the path for most of them.
  PathFacts& facts(std::string_view path);
  struct Recent {
    const char* ptr = nullptr;
    size_t len = 0;
    std::string_view key;  // paths_'s copy
    PathFacts* facts = nullptr;
  };
  std::vector<Recent> recent_;
  void size_recent(size_t n);
  const FileInfo& stat_of(PathFacts& f, std::string_view path);
  std::optional<bool> by_mode(std::string_view path, int mode, PathFacts& f);
  signed char search_verdict(std::string_view dir);
  std::string user_;
  long uid_, gid_;
  PathMap<PathFacts> paths_;
  std::string last_search_dir_;  // search_verdict()'s last directory and its answer
  signed char last_search_ = -2;
  Cache<bool> ro_cache_;
  Cache<bool> access_cache_;  // key: path '\0' mode
  Cache<std::optional<std::string>> file_cache_;
};

// ---- rules -------------------------------------------------------------------

enum class Phase {
  check_config,  // runs under -t, at start and at every restart
  post_config,   // needs open logs/listeners: live post-config (and -t, which has none)
};

struct Threshold {
  const char* name;
  double value;  // default
  double min, max;
};

class Context;
using RuleFn = void (*)(Context&);

struct Rule {
  const char* id;
  Severity severity;  // the highest severity it reports
  Profile profile;
  Phase phase;
  const char* title;
  const char* hint;  // default fix hint
  std::vector<Threshold> thresholds;
  RuleFn fn;
  bool config_test_only = false;  // e.g. bind checks: the live server holds the ports
};

const std::vector<Rule>& all_rules();
const Rule* find_rule(std::string_view id);
bool is_rule_family(std::string_view prefix);  // "TLS" for "TLS-*"

struct Settings {
  Profile profile = Profile::safety;
  std::unordered_set<std::string> skip;                                 // rule ids or "FAM-*"
  std::map<std::string, double> thresholds;                             // "RULE-ID:name" -> value
  std::unordered_map<int, std::unordered_set<std::string>> vhost_skip;  // vhost -> ids
};
bool skip_matches(const std::unordered_set<std::string>& skip, std::string_view rule_id);

struct RunOptions {
  bool config_test = false;  // httpd -t: everything runs at check-config
  Phase phase = Phase::check_config;
  std::optional<Profile> profile;  // overrides SelfHealProfile (selfhealctl lint --profile)
};

// Reads SelfHealProfile / SelfHealSkip / SelfHealRuleThreshold from the tree.
Settings settings_from_model(const Model& m);
// Runs every applicable rule; findings sorted by file, line, rule.
std::vector<Finding> run_rules(const Model& m, Environment& env, const RunOptions& opt);

class Context {
 public:
  Context(const Model& m, Environment& env, const Settings& s, const RunOptions& o);
  const Model& m;
  Environment& env;
  const Settings& settings;
  const RunOptions& opt;

  double threshold(std::string_view name) const;  // for the current rule
  // Report at directive d (file:line, vhost from d). Severity defaults to the rule's.
  void report(int d, std::string message, std::optional<Severity> sev = std::nullopt,
              std::string hint = {});
  // Report for vhost v at directive d (when d is not inside the vhost).
  void report_vhost(int v, int d, std::string message, std::optional<Severity> sev = std::nullopt,
                    std::string hint = {});

  // Report at a file that is not part of the tree (e.g. an .htaccess file).
  void report_at(const std::string& file, int line, int v, std::string message,
                 std::optional<Severity> sev = std::nullopt, std::string hint = {});

  // Helpers shared by the rules.
  const Directive& dir(int d) const { return m.dirs[static_cast<size_t>(d)]; }
  std::string_view arg(int d, size_t i) const;  // "" when absent

  const Rule* rule = nullptr;
  std::vector<Finding> findings;
  std::unordered_set<std::string> seen;  // de-duplicates identical findings

  // Shared by the rules of one run, built on first use.
  // The log directives (ErrorLog, CustomLog, TransferLog, GlobalLog, ForensicLog, each
  // in document order), their first argument, and a number shared by equal arguments
  // (LOG-002 checks each distinct file once, RES-001 counts them).
  struct LogTarget {
    int dir;
    std::string_view target;
    int id;
    bool forensic;
  };
  const std::vector<LogTarget>& log_targets();
  size_t distinct_log_targets();

 private:
  bool suppressed(int vhost) const;
  std::vector<LogTarget> log_targets_;
  size_t distinct_log_targets_ = 0;
  bool log_targets_done_ = false;
  void emit(int v, int d, const std::string* file, int line, std::string message,
            std::optional<Severity> sev, std::string hint);
};

// Rule tables by family, one file each in config/rules/.
void add_tls_rules(std::vector<Rule>& out);
void add_logging_rules(std::vector<Rule>& out);
void add_network_rules(std::vector<Rule>& out);
void add_docroot_rules(std::vector<Rule>& out);
void add_mapping_rules(std::vector<Rule>& out);
void add_htaccess_rules(std::vector<Rule>& out);
void add_modules_rules(std::vector<Rule>& out);
void add_limits_rules(std::vector<Rule>& out);
void add_syntax_rules(std::vector<Rule>& out);
void add_security_rules(std::vector<Rule>& out);
void add_crash_rules(std::vector<Rule>& out);
// Paths the run-user rules will ask about (for one batched helper run).
// The run-user checks the rules will ask for, to batch them into one helper process.
// Absolute paths are views of the model; relative ones are resolved into `store`.
Environment::AccessQueries user_access_queries(const Model& m, Arena& store);

}  // namespace selfheal::cfg
