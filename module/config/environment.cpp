// SystemEnvironment: the real filesystem, sockets and clock, with caches, and
// the forked helper that checks access() as the run user.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/engine.h"
#include "config/rules/common.h"

namespace selfheal::cfg {

SystemEnvironment::SystemEnvironment(std::string user, long uid, long gid)
    : user_(std::move(user)), uid_(uid), gid_(gid) {}

void SystemEnvironment::set_run_user(std::string user, long uid, long gid) {
  user_ = std::move(user);
  uid_ = uid;
  gid_ = gid;
}

void SystemEnvironment::prestat(const Model& m) {
  auto ahead = [&](std::string_view p) {
    if (!p.empty() && p.front() == '/' && !util::dynamic_path(p)) stat_ref(p);
  };
  for (int d : m.all("documentroot")) {
    const Directive& x = m.dirs[static_cast<size_t>(d)];
    if (!x.args.empty()) ahead(x.args[0]);
  }
  for (int d : m.all("directory")) {
    const Directive& x = m.dirs[static_cast<size_t>(d)];
    if (x.section && !x.args.empty() && x.args[0] != "~") ahead(x.args[0]);
  }
}

// Room for about n paths (a power of two, 256 .. 65536 entries); forgets what it held.
void SystemEnvironment::size_recent(size_t n) {
  size_t want = 256;
  while (want < 2 * n && want < (size_t{1} << 16)) want *= 2;
  if (want != recent_.size()) recent_.assign(want, Recent{});
}

SystemEnvironment::PathFacts& SystemEnvironment::facts(std::string_view path) {
  if (recent_.empty()) size_recent(0);
  const uintptr_t a = reinterpret_cast<uintptr_t>(path.data());
  Recent& r = recent_[((a >> 3) ^ (a >> 17) ^ path.size()) & (recent_.size() - 1)];
  if (r.ptr == path.data() && r.len == path.size() &&
      std::memcmp(r.key.data(), path.data(), path.size()) == 0)
    return *r.facts;
  std::string_view stored;
  PathFacts& f = *paths_.try_emplace(path, false, &stored).first;
  r = {path.data(), path.size(), stored, &f};
  return f;
}

const FileInfo& SystemEnvironment::stat_ref(std::string_view path) {
  PathFacts& f = facts(path);
  return stat_of(f, path);
}

// stat() into the record `f` of `path` (once): callers that already hold the record
// do not hash the path again.
const FileInfo& SystemEnvironment::stat_of(PathFacts& f, std::string_view path) {
  if (f.stat_done) return f.fi;
  f.stat_done = true;
  struct stat st {};
  char buf[512];
  std::string long_path;
  const char* p = buf;
  if (path.size() < sizeof buf) {
    std::memcpy(buf, path.data(), path.size());
    buf[path.size()] = 0;
  } else {
    long_path.assign(path);
    p = long_path.c_str();
  }
  if (::stat(p, &st) == 0) {
    f.fi.exists = true;
    f.fi.is_dir = S_ISDIR(st.st_mode);
    f.fi.is_reg = S_ISREG(st.st_mode);
    f.fi.mode = st.st_mode;
    f.fi.uid = static_cast<long>(st.st_uid);
    f.fi.gid = static_cast<long>(st.st_gid);
  } else {
    f.fi.err = errno;
  }
  return f.fi;
}

FileInfo SystemEnvironment::stat(std::string_view path) {
  return stat_ref(path);
}

bool SystemEnvironment::readonly_fs(const std::string& path) {
  auto it = ro_cache_.find(path);
  if (it != ro_cache_.end()) return it->second;
  struct statvfs sv {};
  const bool ro = ::statvfs(path.c_str(), &sv) == 0 && (sv.f_flag & ST_RDONLY);
  ro_cache_.emplace(path, ro);
  return ro;
}

bool SystemEnvironment::access(const std::string& path, int mode) {
  std::string key = path;
  key += '\0';
  key += static_cast<char>('0' + mode);
  auto it = access_cache_.find(key);
  if (it != access_cache_.end()) return it->second;
  const bool ok = ::access(path.c_str(), mode) == 0;
  access_cache_.emplace(std::move(key), ok);
  return ok;
}

namespace {

std::optional<bool> decide(const FileInfo& fi, int want, long uid) {
  if (!fi.exists) return false;
  const unsigned bits =
      ((want & R_OK) ? 4u : 0u) | ((want & W_OK) ? 2u : 0u) | ((want & X_OK) ? 1u : 0u);
  const unsigned u = (fi.mode >> 6) & 7u, g = (fi.mode >> 3) & 7u, o = fi.mode & 7u;
  if ((u & bits) == bits && (g & bits) == bits && (o & bits) == bits && !(want & W_OK)) return true;
  if (fi.uid != uid && (g & bits) != bits && (o & bits) != bits) return false;
  return std::nullopt;
}

}  // namespace

// Search permission on every leading directory of `dir` and `dir` itself (the prefixes
// ending before each '/' past the first character, then dir): 0 refused somewhere,
// 1 granted everywhere, -1 not certain. Memoized: 10,000 DocumentRoots in one parent
// directory walk it once.
signed char SystemEnvironment::search_verdict(std::string_view dir) {
  // 10,000 DocumentRoots in one directory ask about the same parent in a row.
  if (last_search_ != -2 && dir == last_search_dir_) return last_search_;
  // One record per directory, looked up once (PathMap values never move).
  PathFacts& f = *paths_.try_emplace(dir).first;
  if (f.search != -2) {
    last_search_dir_.assign(dir);
    return last_search_ = f.search;
  }
  signed char up = 1;
  if (const size_t slash = dir.rfind('/'); slash != std::string_view::npos && slash >= 1)
    up = search_verdict(dir.substr(0, slash));
  signed char v = up;
  if (up != 0) {
    const std::optional<bool> r = decide(stat_of(f, dir), X_OK, uid_);
    v = (r && !*r) ? 0 : (!r ? -1 : up);
  }
  f.search = v;
  last_search_dir_.assign(dir);
  return last_search_ = v;
}

// Decides from permission bits alone when that is certain: every class (owner, group,
// other) grants the bits -> allowed (not for W_OK: a read-only mount still refuses);
// group and other lack them and the run user does not own the file -> refused. The
// common 0755 tree never needs the helper. (A POSIX ACL can only narrow what the
// group-class bits, its mask, allow, so "refused" stays certain.)
std::optional<bool> SystemEnvironment::by_mode(std::string_view path, int mode, PathFacts& f) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  signed char up = 1;
  if (const size_t slash = path.rfind('/'); slash != std::string_view::npos && slash >= 1)
    up = search_verdict(path.substr(0, slash));
  if (up == 0) return false;
  const std::optional<bool> r = decide(stat_of(f, path), mode, uid_);
  if (r && !*r) return false;
  if (up < 0 || !r) return std::nullopt;
  return true;
}

void SystemEnvironment::prefetch_user_access(const AccessQueries& queries) {
  constexpr signed char kQueued = -3;
  struct Todo {
    std::string_view path;
    int mode;
    signed char* slot;
  };
  std::vector<Todo> todo;
  const bool other_user = uid_ > 0 && static_cast<long>(::geteuid()) != uid_;
  if (queries.size() * 2 > recent_.size()) size_recent(queries.size());  // the rules ask again
  for (const auto& q : queries) {
    const int mode = q.second & 7;
    PathFacts& pf = facts(q.first);
    signed char& slot = pf.user[static_cast<size_t>(mode)];
    if (slot != -2) continue;  // answered or already queued
    if (other_user) {
      if (std::optional<bool> r = by_mode(q.first, q.second, pf)) {
        // by_mode() only adds stat entries: the slot reference stays valid.
        slot = *r ? 1 : 0;
        continue;
      }
    }
    slot = kQueued;  // PathMap values never move: the pointer stays valid
    todo.push_back({q.first, q.second, &slot});
  }
  if (todo.empty()) return;
  // access() wants C strings: every queued path, NUL-terminated, in one buffer.
  std::string paths;
  std::vector<size_t> starts;
  starts.reserve(todo.size());
  for (const Todo& t : todo) {
    starts.push_back(paths.size());
    paths.append(t.path);
    paths += '\0';
  }
  auto c_path = [&](size_t i) { return paths.c_str() + starts[i]; };
  auto mark_unknown = [&] {
    for (const Todo& t : todo) *t.slot = -1;
  };
  if (uid_ < 0 || gid_ < 0) return mark_unknown();
  if (static_cast<long>(::geteuid()) == uid_) {  // already the run user (unprivileged lint)
    for (size_t i = 0; i < todo.size(); ++i)
      *todo[i].slot = ::access(c_path(i), todo[i].mode) == 0 ? 1 : 0;
    return;
  }
  if (::geteuid() != 0) return mark_unknown();
  int fds[2];
  if (::pipe(fds) != 0) return mark_unknown();
  std::string answers(todo.size(), '?');  // allocated before fork
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return mark_unknown();
  }
  if (pid == 0) {  // helper: become the run user, answer, _exit (no cleanups)
    ::close(fds[0]);
    const gid_t g = static_cast<gid_t>(gid_);
    bool ok = user_.empty() ? ::setgroups(1, &g) == 0 : ::initgroups(user_.c_str(), g) == 0;
    ok = ok && ::setgid(g) == 0 && ::setuid(static_cast<uid_t>(uid_)) == 0 &&
         ::getuid() == static_cast<uid_t>(uid_) && (uid_ == 0 || ::setuid(0) != 0);
    if (!ok) ::_exit(3);
    for (size_t i = 0; i < todo.size(); ++i)
      answers[i] = ::access(c_path(i), todo[i].mode) == 0 ? '1' : '0';
    size_t off = 0;
    while (off < answers.size()) {
      const ssize_t w = ::write(fds[1], answers.data() + off, answers.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ::_exit(4);
      off += static_cast<size_t>(w);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[8192];
  while (true) {
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got.size() != todo.size())
    return mark_unknown();
  for (size_t i = 0; i < todo.size(); ++i) *todo[i].slot = got[i] == '1' ? 1 : 0;
}

std::optional<bool> SystemEnvironment::user_access(std::string_view path, int mode) {
  const size_t m = static_cast<size_t>(mode & 7);
  if (const PathFacts& f = facts(path); f.user[m] >= -1)
    return f.user[m] < 0 ? std::nullopt : std::optional<bool>(f.user[m] == 1);
  prefetch_user_access({{path, mode}});
  const PathFacts& f = facts(path);  // the record does not move: PathMap values are stable
  if (f.user[m] < 0) return std::nullopt;
  return f.user[m] == 1;
}

std::optional<std::string> SystemEnvironment::read_file(const std::string& path) {
  auto it = file_cache_.find(path);
  if (it != file_cache_.end()) return it->second;
  std::optional<std::string> out;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
  }
  file_cache_.emplace(path, out);
  return out;
}

std::vector<std::string> SystemEnvironment::list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) is_dir = stat(path + "/" + e->d_name).is_dir;
    if (is_dir) out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

namespace {

// Socket inodes listening on `port` (from /proc/net/tcp and tcp6).
std::vector<std::string> listening_inodes(int port) {
  std::vector<std::string> out;
  for (const char* f : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
      ls >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode;
      if (st != "0A") continue;  // LISTEN
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtol(local.c_str() + colon + 1, nullptr, 16) == port) out.push_back(inode);
    }
  }
  return out;
}

bool pid_owns_inode(long pid, const std::vector<std::string>& inodes) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  char target[128];
  while (const dirent* e = ::readdir(d)) {
    const std::string p = dir + "/" + e->d_name;
    const ssize_t n = ::readlink(p.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    std::string_view t(target, static_cast<size_t>(n));
    if (t.substr(0, 8) != "socket:[") continue;
    std::string_view ino = t.substr(8, t.size() - 9);
    for (const std::string& i : inodes)
      if (ino == i) found = true;
  }
  ::closedir(d);
  return found;
}

}  // namespace

BindResult SystemEnvironment::try_bind(const std::string& host, int port,
                                       const std::string& pid_file) {
  if (port <= 0 || port > 65535) return BindResult::unknown;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string h = (host.empty() || host == "*") ? std::string() : host;
  const std::string service = std::to_string(port);
  if (h.empty()) hints.ai_family = AF_INET;
  if (::getaddrinfo(h.empty() ? nullptr : h.c_str(), service.c_str(), &hints, &res) != 0 || !res)
    return BindResult::unknown;
  int err = 0;
  const int s = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s, res->ai_addr, res->ai_addrlen) != 0) err = errno;
    ::close(s);
  } else {
    err = errno;
  }
  ::freeaddrinfo(res);
  if (s < 0) return BindResult::unknown;
  if (err == 0) return BindResult::ok;
  if (err == EADDRNOTAVAIL) return BindResult::not_local;
  if (err != EADDRINUSE) return BindResult::unknown;
  // In use: by the running server we are about to replace (apachectl graceful)?
  if (!pid_file.empty()) {
    std::ifstream in(pid_file);
    long pid = 0;
    if (in >> pid && pid > 0 && pid_owns_inode(pid, listening_inodes(port)))
      return BindResult::in_use_by_us;
  }
  return BindResult::in_use;
}

std::time_t SystemEnvironment::now() {
  return std::time(nullptr);
}

long SystemEnvironment::open_file_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  return rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(rl.rlim_cur);
}

long long SystemEnvironment::memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<long long>(pages) * size : -1;
}

std::optional<std::string> SystemEnvironment::find_in_path(const std::string& program) {
  const char* p = std::getenv("PATH");
  std::string path = p && *p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string full = dir + "/" + program;
    if (::access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace selfheal::cfg
