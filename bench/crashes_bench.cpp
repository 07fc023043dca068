// selfhealctl crashes: time to read and group 10,000 crash records without symbolization
// (target: under 1 s), beside baselines on the same file in the same run: counting lines
// (wc -l) and parsing each line with nlohmann::json and nothing else.
//
// usage: crashes_bench [RECORDS] [SELFHEALCTL]   (defaults: 10000, the built selfhealctl)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "records/grouping.h"
#include "records/reader.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// A record shaped like the handler's: ~60 loaded objects, ~20 frames, a request with headers.
std::string make_record(int i, std::mt19937_64& rng) {
  using nlohmann::ordered_json;
  static const char* kPaths[] = {
      "/api/upload",    "/api/v2/upload", "/index.php",     "/wp-login.php",
      "/static/app.js", "/search",        "/cart/checkout", "/"};
  static const char* kVhosts[] = {"www.example.com:443", "blog.example.com:443",
                                  "static.example.org:80", "shop.example.net:443"};
  int bug = static_cast<int>(rng() % 25);  // 25 distinct crash sites
  int64_t t = 1795158062000000LL + static_cast<int64_t>(i) * 37000000LL;
  int pid = 1000 + i;
  ordered_json r;
  r["schema"] = 1;
  r["type"] = "crash";
  char id[64];
  std::snprintf(id, sizeof id, "%d-%llx", pid, static_cast<unsigned long long>(t));
  r["id"] = id;
  r["time"] = selfheal::records::format_time_us(t);
  r["time_us"] = t;
  r["pid"] = pid;
  r["ppid"] = 999;
  r["tid"] = pid + 3;
  r["hostname"] = "web1";
  r["httpd"] = "Apache/2.4.71 (Debian)";
  r["mpm"] = "event";
  r["generation"] = 1;
  r["uptime_ms"] = 123456;
  r["requests_served"] = 4242;
  r["rss_kb"] = 18000;
  r["signal"] = {{"name", bug % 5 == 0 ? "SIGABRT" : "SIGSEGV"},
                 {"number", bug % 5 == 0 ? 6 : 11},
                 {"code", "SEGV_MAPERR"},
                 {"address", "0x0"},
                 {"sender_pid", nullptr}};
  ordered_json regs;
  for (const char* n : {"rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
                        "r10", "r11", "r12", "r13", "r14", "r15", "eflags"})
    regs[n] = "0x7ffd4c2e1a80";
  r["registers"] = regs;
  uint64_t slide = (rng() % 0x10000) << 28;
  ordered_json frames = ordered_json::array();
  for (int k = 0; k < 20; ++k) {
    int m = k < 3 ? bug % 7 : k % 12;
    char mod[96], off[24], pc[24], bid[48];
    std::snprintf(mod, sizeof mod, "/usr/lib/apache2/modules/mod_bench%d.so", m);
    uint64_t o = 0x1000 + static_cast<uint64_t>(k < 3 ? bug * 0x40 + k : k * 0x100);
    std::snprintf(off, sizeof off, "0x%llx", static_cast<unsigned long long>(o));
    std::snprintf(pc, sizeof pc, "0x%llx",
                  static_cast<unsigned long long>(0x7f0000000000ull + slide + o));
    std::snprintf(bid, sizeof bid, "%040d", m);
    frames.push_back({{"pc", pc}, {"module", mod}, {"offset", off}, {"build_id", bid}});
  }
  r["frames"] = frames;
  r["frames_truncated"] = false;
  ordered_json mods = ordered_json::array();
  for (int m = 0; m < 60; ++m) {
    char path[96], base[24], bid[48];
    std::snprintf(path, sizeof path, "/usr/lib/x86_64-linux-gnu/libbench-object-%02d.so.1", m);
    std::snprintf(base, sizeof base, "0x%llx",
                  static_cast<unsigned long long>(0x7f0000000000ull + slide + m * 0x100000ull));
    std::snprintf(bid, sizeof bid, "%040d", m);
    mods.push_back({{"path", path}, {"base", base}, {"build_id", bid}});
  }
  r["modules"] = mods;
  const char* path = kPaths[(bug + rng() % 2) % 8];
  const char* vhost = kVhosts[bug % 4];
  r["request"] = {{"method", "GET"},
                  {"path", path},
                  {"protocol", "HTTP/1.1"},
                  {"host", "www.example.com"},
                  {"vhost", vhost},
                  {"client", "203.0.113.7:51234"},
                  {"local", "192.0.2.10:443"},
                  {"handler", "php-fpm"},
                  {"filename", std::string("/var/www/html") + path},
                  {"phase", "handler"},
                  {"age_ms", 12},
                  {"connection", {{"id", 17}, {"keepalives", 1}}},
                  {"headers",
                   {{"Host", "www.example.com"},
                    {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"},
                    {"Accept", "*/*"},
                    {"Cookie", "[redacted]"}}}};
  r["connection"] = {
      {"id", 17}, {"client", "203.0.113.7:51234"}, {"local", "192.0.2.10:443"}, {"keepalives", 1}};
  r["in_flight"] = ordered_json::array();
  r["folded"] = 0;
  r["truncated"] = false;
  return r.dump();
}

double best_of(int runs, const std::function<void()>& f) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  std::string ctl = argc > 2 ? argv[2] : std::string(SELFHEAL_BUILD_DIR) + "/selfhealctl";
  char tmpl[] = "/tmp/selfheal-crashes-bench-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return 1;
  std::string file = tmpl;
  {
    std::mt19937_64 rng(7);
    std::string all;
    for (int i = 0; i < n; ++i) all += make_record(i, rng) + "\n";
    if (write(fd, all.data(), all.size()) != static_cast<ssize_t>(all.size())) return 1;
    close(fd);
  }
  const size_t bytes = slurp(file).size();
  const int runs = 3;

  size_t lines = 0;
  double t_wc = best_of(runs, [&] {
    int f = open(file.c_str(), O_RDONLY);
    static char buf[1 << 20];
    lines = 0;
    for (ssize_t r; (r = read(f, buf, sizeof buf)) > 0;)
      for (const char* p = buf; (p = static_cast<const char*>(memchr(p, '\n', buf + r - p))); ++p)
        ++lines;
    close(f);
  });
  size_t parsed = 0;
  double t_parse = best_of(runs, [&] {
    std::string s = slurp(file);
    parsed = 0;
    size_t start = 0;
    for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) {
      auto j = nlohmann::json::parse(std::string_view(s).substr(start, nl - start), nullptr, false);
      parsed += !j.is_discarded();
    }
  });
  size_t records = 0;
  double t_read =
      best_of(runs, [&] { records = selfheal::records::read_files({file}).records.size(); });
  selfheal::records::ReadOptions summary;
  summary.summary = true;
  size_t summaries = 0;
  double t_summary = best_of(
      runs, [&] { summaries = selfheal::records::read_files({file}, summary).records.size(); });
  size_t groups = 0;
  double t_group = best_of(runs, [&] {
    auto rr = selfheal::records::read_files({file}, summary);
    groups = selfheal::records::group_records(rr.records).size();
  });
  double t_cli = -1;
  if (access(ctl.c_str(), X_OK) == 0) {
    t_cli = best_of(runs, [&] {
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
      const char* args[] = {ctl.c_str(), "crashes", file.c_str(), "--no-symbolize", nullptr};
      pid_t pid;
      if (posix_spawn(&pid, ctl.c_str(), &fa, nullptr, const_cast<char* const*>(args), environ) ==
          0) {
        int st;
        waitpid(pid, &st, 0);
      }
      posix_spawn_file_actions_destroy(&fa);
    });
  }
  unlink(file.c_str());

  std::printf("crashes_bench: %d records, %.1f MB (%.1f KB/record), best of %d runs\n\n", n,
              bytes / 1e6, bytes / 1e3 / n, runs);
  std::printf("%-52s %10s %10s %8s\n", "what", "time (ms)", "MB/s", "records");
  auto row = [&](const char* what, double ms, size_t count) {
    if (ms < 0) {
      std::printf("%-52s %10s %10s %8s\n", what, "n/a", "", "");
      return;
    }
    std::printf("%-52s %10.1f %10.0f %8zu\n", what, ms, bytes / 1e3 / ms, count);
  };
  row("baseline: read + count lines (wc -l)", t_wc, lines);
  row("baseline: read + nlohmann::json::parse per line", t_parse, parsed);
  row("read_files (parse + decode into CrashRecord)", t_read, records);
  row("read_files, summary (no modules/registers)", t_summary, summaries);
  row("read_files summary + group_records (crashes' path)", t_group, records);
  row("selfhealctl crashes --no-symbolize (process, text)", t_cli, records);
  std::printf("\n%zu groups. Target: read + group %d records in < 1000 ms: %s\n", groups, n,
              t_group < 1000 ? "met" : "NOT MET");
  return t_group < 1000 ? 0 : 1;
}
