// Per-request cost of the quarantine look-up (the request path's promise: lock-free, O(1), no
// system call, within the 1% instruction budget): quarantine_key_hash + quarantine_check against an
// empty baseline, in the states the request path meets. Prints Google Benchmark's table, then a
// side-by-side summary.
//
//   build-*/bench/quarantine_bench [--benchmark_min_time=0.2s]
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstdio>
#include <string>
#include <vector>

#include "shm/quarantine.h"
#include "shm/table.h"

namespace {

using namespace selfheal;

constexpr int64_t kNow = 1'800'000'000'000'000;
const char* const kMethod = "GET";
const char* const kVhost = "www.example.com:443";
const char* const kPath = "/api/v1/items/12345/details";  // a typical 27-byte path
const char* const kPoison = "/api/v1/crash";

enum class State { kIdle, kBusy, kRefused };

// One table per state, built once (a MAP_SHARED mapping as in httpd).
ShmTable* table_for(State st) {
  static ShmTable* tables[3] = {};
  ShmTable*& t = tables[static_cast<int>(st)];
  if (t) return t;
  ShmLayout l;  // defaults: 256 quarantine slots
  size_t bytes = shm_table_bytes(l);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) std::abort();
  t = shm_table_init(mem, bytes, l);
  auto crash = [&](const std::string& key, int64_t at) {
    crash::CrashSummary s;
    s.signo = SIGSEGV;
    s.signature = 1;
    s.key_hash = quarantine_key_hash_text(key.c_str());
    s.time_us = at;
    s.record_written = true;
    shm_record_crash(t, s, key.c_str());
  };
  if (st == State::kBusy) {  // 100 keys seen crashing, 20 of them quarantined, not ours
    for (int k = 0; k < 100; ++k) {
      std::string key = std::string("GET ") + kVhost + " /other/" + std::to_string(k);
      for (int i = 0; i < (k < 20 ? 3 : 1); ++i) crash(key, kNow - 10'000'000 + i);
    }
  }
  if (st == State::kRefused) {
    std::string key = std::string("GET ") + kVhost + " " + kPoison;
    for (int i = 0; i < 3; ++i) crash(key, kNow - 10'000'000 + i);
  }
  return t;
}

void BM_Baseline(benchmark::State& state) {
  const char* m = kMethod;
  const char* v = kVhost;
  const char* p = kPath;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Baseline);

void BM_KeyHash(benchmark::State& state) {
  const char* m = kMethod;
  const char* v = kVhost;
  const char* p = kPath;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(quarantine_key_hash(m, v, p));
  }
}
BENCHMARK(BM_KeyHash);

void check_loop(benchmark::State& state, State st, const char* path) {
  ShmTable* t = table_for(st);
  const char* m = kMethod;
  const char* v = kVhost;
  const char* p = path;
  int64_t now = kNow;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(now);
    QuarantineVerdict verdict = quarantine_check(t, quarantine_key_hash(m, v, p), now);
    benchmark::DoNotOptimize(verdict);
  }
}

// Nothing quarantined: the common case, one load of the table-wide "latest until".
void BM_HashCheck_Idle(benchmark::State& s) {
  check_loop(s, State::kIdle, kPath);
}
BENCHMARK(BM_HashCheck_Idle);
BENCHMARK(BM_HashCheck_Idle)->Threads(2);
// 20 other keys quarantined: the request's key is probed (<= 8 slots) and not found.
void BM_HashCheck_Busy(benchmark::State& s) {
  check_loop(s, State::kBusy, kPath);
}
BENCHMARK(BM_HashCheck_Busy);
BENCHMARK(BM_HashCheck_Busy)->Threads(2);
// The request's own key is quarantined: the 503 path (counts the refusal).
void BM_HashCheck_Refused(benchmark::State& s) {
  check_loop(s, State::kRefused, kPoison);
}
BENCHMARK(BM_HashCheck_Refused);
BENCHMARK(BM_HashCheck_Refused)->Threads(2);

// Collects the runs to print them side by side after Google Benchmark's own table.
class SideBySide : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Iteration && !r.error_occurred)
        rows_.push_back({r.benchmark_name(), r.GetAdjustedCPUTime()});
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double base = 0;
    for (const auto& r : rows_)
      if (r.name.rfind("BM_Baseline", 0) == 0) base = r.ns;
    std::printf("\nQuarantine look-up per request (CPU ns; 'added' = over the empty baseline)\n");
    std::printf("%-40s %10s %10s\n", "case", "ns/req", "added");
    for (const auto& r : rows_)
      std::printf("%-40s %10.2f %10.2f\n", r.name.c_str(), r.ns, r.ns - base);
    std::printf("For scale: 1%% of a 20 us static request is 200 ns.\n");
  }

 private:
  struct Row {
    std::string name;
    double ns;
  };
  std::vector<Row> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SideBySide reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
