// selfhealctl follow [LOG]: prints crashes as they land, across log rotation.
//
// Bounded polling (default every 250 ms): read what was appended; then stat the path:
//  - another inode at the path (rename + create): drain the old file, continue with the new
//    one from its start;
//  - the path is gone (renamed, not yet recreated): keep the old file, look again next time;
//  - the same file got shorter, or the bytes before our offset changed (copytruncate, and
//    written past our offset again since): start again from the beginning.
// SIGINT/SIGTERM set a flag that the loop checks at least every interval: clean exit 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>

#include "commands.h"
#include "crash_cli.h"
#include "output.h"
#include "records/grouping.h"
#include "records/reader.h"

namespace selfhealctl {

using namespace selfheal::records;

namespace {

constexpr const char* kUsage =
    "usage: selfhealctl follow [LOG] [--from-start] [--count N] [--timeout S] [--interval MS]\n"
    "                          [--no-symbolize] [--json]\n"
    "  prints each new crash as one line (--json: one JSON object per line) until interrupted\n"
    "  --from-start   print the records already in the log first\n"
    "  --count N      stop after N crashes        --timeout S   stop after S seconds (exit 1 if\n"
    "                                             --count was not reached)\n";

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

constexpr size_t kTail = 64;  // bytes before the offset remembered to detect copytruncate

struct Tail {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t offset = 0;
  std::string last;  // the last kTail bytes read

  ~Tail() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  bool open(const std::string& path, bool at_end) {
    close();
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      close();
      return false;
    }
    dev = st.st_dev;
    ino = st.st_ino;
    offset = 0;
    last.clear();
    if (at_end && st.st_size > 0) {
      // Start after the last complete line.
      offset = st.st_size;
      char c = 0;
      while (offset > 0 && ::pread(fd, &c, 1, offset - 1) == 1 && c != '\n') --offset;
      remember_before_offset();
    }
    return true;
  }
  void remember_before_offset() {
    size_t n = static_cast<size_t>(std::min<off_t>(offset, kTail));
    last.assign(n, '\0');
    if (n && ::pread(fd, last.data(), n, offset - static_cast<off_t>(n)) != static_cast<ssize_t>(n))
      last.clear();
  }
  // Reads what was appended; feeds the reader.
  void drain(LineReader& reader, ReadResult& rr) {
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::pread(fd, buf, sizeof buf, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      offset += n;
      std::string_view got(buf, static_cast<size_t>(n));
      last = (last + std::string(got.substr(got.size() > kTail ? got.size() - kTail : 0)));
      if (last.size() > kTail) last.erase(0, last.size() - kTail);
      reader.feed(got, rr);
    }
  }
  // The file was truncated (and maybe written again past our offset).
  bool truncated() const {
    struct stat st;
    if (::fstat(fd, &st) != 0) return false;
    if (st.st_size < offset) return true;
    if (last.empty()) return false;
    std::string now(last.size(), '\0');
    return ::pread(fd, now.data(), now.size(), offset - static_cast<off_t>(now.size())) !=
               static_cast<ssize_t>(now.size()) ||
           now != last;
  }
};

std::string one_line(const CrashRecord& r, Symbolizer* sym) {
  std::string s = r.time + "  " + pad_right(r.signal.name, 7) + "  " + r.signature + "  pid " +
                  std::to_string(r.pid);
  if (r.request)
    s += "  " + r.request->method + " " + r.request->vhost + r.request->path;
  else
    s += "  (no request)";
  std::vector<size_t> top = signature_frames(r.frames);
  if (!top.empty()) {
    const Frame& f = r.frames[top.front()];
    s += "  at " + frame_line(f, sym ? &sym->symbolize(f, top.front() > 0) : nullptr);
  }
  return s + "  id " + r.id;
}

ojson one_json(const CrashRecord& r, Symbolizer* sym) {
  ojson j;
  j["id"] = r.id;
  j["time"] = r.time;
  j["signal"] = r.signal.name;
  j["signature"] = r.signature;
  j["pid"] = r.pid;
  if (r.request)
    j["request"] = {
        {"method", r.request->method}, {"path", r.request->path}, {"vhost", r.request->vhost}};
  else
    j["request"] = nullptr;
  ojson frames = ojson::array();
  for (size_t i : signature_frames(r.frames))
    frames.push_back(frame_json(r.frames[i], sym ? &sym->symbolize(r.frames[i], i > 0) : nullptr));
  j["top_frames"] = frames;
  j["file"] = r.file;
  j["line"] = r.line;
  return j;
}

void sleep_ms(int ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000L
  };
  ::nanosleep(&ts, nullptr);  // EINTR (a stop signal) just ends the nap early
}

}  // namespace

int run_follow(const std::vector<std::string>& args, CliEnv& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  bool as_json = false, symbolize = true, from_start = false;
  long count = 0, interval_ms = 250;
  double timeout_s = 0;
  std::vector<std::string> logs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto num = [&](double& v) {
      if (i + 1 >= args.size()) return false;
      char* end = nullptr;
      v = std::strtod(args[++i].c_str(), &end);
      return end && *end == '\0' && v >= 0;
    };
    double v = 0;
    if (a == "--json")
      as_json = true;
    else if (a == "--no-symbolize")
      symbolize = false;
    else if (a == "--from-start")
      from_start = true;
    else if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    } else if (a == "--count" || a == "--timeout" || a == "--interval") {
      if (!num(v)) {
        err << "selfhealctl follow: " << a << " needs a non-negative number\n" << kUsage;
        return 2;
      }
      if (a == "--count")
        count = static_cast<long>(v);
      else if (a == "--timeout")
        timeout_s = v;
      else
        interval_ms = std::max(10L, static_cast<long>(v));
    } else if (a.size() > 1 && a[0] == '-') {
      err << "selfhealctl follow: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      logs.push_back(a);
    }
  }
  if (logs.size() > 1) {
    err << "selfhealctl follow: one log at a time\n";
    return 2;
  }
  std::string how;
  const std::string path = choose_logs(logs, env, how).front();
  std::unique_ptr<Symbolizer> sym;
  if (symbolize) sym = std::make_unique<Symbolizer>(env.symbolizer);

  err << "selfhealctl: following " << path << " (" << how << "); Ctrl-C to stop\n";
  const auto start = std::chrono::steady_clock::now();
  auto expired = [&] {
    return timeout_s > 0 &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
               timeout_s;
  };
  auto stopped = [&] { return (env.stop && *env.stop) || expired(); };

  Tail tail;
  ReadOptions ro;
  ro.summary = true;
  LineReader reader(path, ro);
  ReadResult rr;
  size_t printed = 0, warned = 0;
  bool waiting_said = false;
  auto flush = [&] {
    for (; warned < rr.skipped.size(); ++warned) {
      const Skipped& s = rr.skipped[warned];
      err << "selfhealctl: warning: " << s.file << ":" << s.line << ": skipped: " << s.reason
          << "\n";
    }
    for (; printed < rr.records.size(); ++printed) {
      if (count > 0 && static_cast<long>(printed) >= count) break;
      const CrashRecord& r = rr.records[printed];
      if (as_json)
        out << one_json(r, sym.get()).dump() << "\n";
      else
        out << one_line(r, sym.get()) << "\n";
    }
    out.flush();
  };
  bool first_open = true;
  while (!stopped() && !(count > 0 && static_cast<long>(printed) >= count)) {
    if (tail.fd < 0) {
      if (!tail.open(path, first_open && !from_start)) {
        if (!waiting_said)
          err << "selfhealctl: waiting for " << path << " to appear (" << std::strerror(errno)
              << ")\n";
        waiting_said = true;
        sleep_ms(static_cast<int>(interval_ms));
        first_open = false;
        continue;
      }
      first_open = false;
    }
    // Rotation first: bytes read after a copytruncate would be the middle of a new record.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (st.st_ino != tail.ino || st.st_dev != tail.dev) {
        tail.drain(reader, rr);  // the last records of the old file
        flush();
        err << "selfhealctl: " << path << " was rotated; following the new file\n";
        reader.restart(path, rr, "the log was rotated");
        if (!tail.open(path, false)) tail.close();
        continue;
      }
      if (tail.truncated()) {
        err << "selfhealctl: " << path << " was truncated (copytruncate); reading from its start\n";
        reader.restart(path, rr, "the log was truncated");
        tail.offset = 0;
        tail.last.clear();
      }
    }
    tail.drain(reader, rr);
    flush();
    if (count > 0 && static_cast<long>(printed) >= count) break;
    sleep_ms(static_cast<int>(interval_ms));
  }
  tail.drain(reader, rr);
  flush();
  if (count > 0 && static_cast<long>(printed) < count && expired()) return 1;
  return 0;
}

int cmd_follow(int argc, char** argv) {
  CliEnv env = process_env();
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the nap ends at once
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  env.stop = &g_stop;
  int rc = run_follow(std::vector<std::string>(argv + 1, argv + argc), env);
  if (g_stop) std::cerr << "selfhealctl: follow stopped\n";
  return rc;
}

}  // namespace selfhealctl
