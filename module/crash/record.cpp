// The schema-1 crash record (see record.h). Async-signal-safe throughout.
#include "crash/record.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "crash/asfmt.h"
#include "crash/json_writer.h"
#include "crash/names.h"
#include "crash/request_json.h"
#include "crash/safe_read.h"
#include "crash/signature.h"

namespace selfheal::crash {
namespace {

void write_signal(JsonWriter& w, const RecordFacts& f) noexcept {
  const siginfo_t* si = f.info;
  w.key("signal");
  w.begin_object();
  w.key("name");
  w.str(signal_name(f.signo));
  w.key("number");
  w.i64(f.signo);
  w.key("code");
  w.str(si ? signal_code_name(f.signo, si->si_code) : nullptr);
  w.key("address");
  if (si && si->si_code > 0 && f.signo != SIGABRT) {
#ifdef si_call_addr
    if (f.signo == SIGSYS)
      w.hex(reinterpret_cast<uintptr_t>(si->si_call_addr));
    else
#endif
      w.hex(reinterpret_cast<uintptr_t>(si->si_addr));
  } else {
    w.null();
  }
  w.key("sender_pid");
  if (signal_has_sender(si))
    w.i64(si->si_pid);
  else
    w.null();
  w.end_object();
}

void reg(JsonWriter& w, const char* name, uint64_t v) noexcept {
  w.key(name);
  w.hex(v);
}

void write_registers(JsonWriter& w, const ucontext_t* uc) noexcept {
  w.key("registers");
  if (!uc) {
    w.null();
    return;
  }
  w.begin_object();
#if defined(__x86_64__)
  const greg_t* g = uc->uc_mcontext.gregs;
  static const struct {
    const char* name;
    int index;
  } kRegs[] = {{"rip", REG_RIP}, {"rsp", REG_RSP},   {"rbp", REG_RBP}, {"rax", REG_RAX},
               {"rbx", REG_RBX}, {"rcx", REG_RCX},   {"rdx", REG_RDX}, {"rsi", REG_RSI},
               {"rdi", REG_RDI}, {"r8", REG_R8},     {"r9", REG_R9},   {"r10", REG_R10},
               {"r11", REG_R11}, {"r12", REG_R12},   {"r13", REG_R13}, {"r14", REG_R14},
               {"r15", REG_R15}, {"eflags", REG_EFL}};
  for (const auto& r : kRegs) reg(w, r.name, static_cast<uint64_t>(g[r.index]));
#elif defined(__aarch64__)
  reg(w, "pc", uc->uc_mcontext.pc);
  reg(w, "sp", uc->uc_mcontext.sp);
  reg(w, "fp", uc->uc_mcontext.regs[29]);
  reg(w, "pstate", uc->uc_mcontext.pstate);
  static const char* const kX[] = {"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",
                                   "x8",  "x9",  "x10", "x11", "x12", "x13", "x14", "x15",
                                   "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23",
                                   "x24", "x25", "x26", "x27", "x28", "x29", "x30"};
  for (int i = 0; i < 31; ++i) reg(w, kX[i], uc->uc_mcontext.regs[i]);
#endif
  w.end_object();
}

void write_module_ref(JsonWriter& w, const ModuleInfo* m) noexcept {
  w.key("build_id");
  if (m && m->build_id_len)
    w.hex_bytes(m->build_id, m->build_id_len);
  else
    w.null();
}

// An array section whose elements are rolled back one by one when the record runs full.
// If even the opening does not fit, the section is written as [] from the reserve.
template <class Each>
void array_section(JsonWriter& w, const char* name, bool* truncated, Each each) noexcept {
  auto m = w.mark();
  w.key(name);
  w.begin_array();
  if (w.failed()) {
    w.rollback(m);
    *truncated = true;
    w.set_hard(true);
    w.key(name);
    w.begin_array();
    w.end_array();
    w.set_hard(false);
    return;
  }
  each();
  w.end_array();
}

// An element: rolled back (and the caller told to stop) when it does not fit.
template <class Write>
bool element(JsonWriter& w, bool* truncated, Write write) noexcept {
  auto m = w.mark();
  write();
  if (!w.failed()) return true;
  w.rollback(m);
  *truncated = true;
  return false;
}

void write_frames(JsonWriter& w, const Backtrace& bt, bool* truncated) noexcept {
  bool cut = false;
  array_section(w, "frames", truncated, [&]() noexcept {
    for (int i = 0; i < bt.n; ++i) {
      const Frame& fr = bt.frames[i];
      bool ok = element(w, truncated, [&]() noexcept {
        w.begin_object();
        w.key("pc");
        w.hex(fr.pc);
        w.key("module");
        w.str(fr.module ? fr.module->path : nullptr);
        w.key("offset");
        w.hex(fr.module ? fr.pc - fr.module->base : fr.pc);
        write_module_ref(w, fr.module);
        w.end_object();
      });
      if (!ok) {
        cut = true;
        break;
      }
    }
  });
  w.key("frames_truncated");
  w.boolean(bt.truncated || cut);
}

void write_modules(JsonWriter& w, bool* truncated) noexcept {
  array_section(w, "modules", truncated, [&]() noexcept {
    size_t n = modules_count();
    for (size_t i = 0; i < n; ++i) {
      const ModuleInfo* m = module_at(i);
      bool ok = element(w, truncated, [&]() noexcept {
        w.begin_object();
        w.key("path");
        w.str(m->path);
        w.key("base");
        w.hex(m->base);
        write_module_ref(w, m);
        w.end_object();
      });
      if (!ok) break;
    }
  });
}

void write_in_flight(JsonWriter& w, const RecordFacts& f, bool* truncated) noexcept {
  array_section(w, "in_flight", truncated, [&]() noexcept {
    int listed = 0;
    for (size_t i = 0; i < f.n_entries; ++i) {
      const ThreadEntry* e = &f.entries[i];
      if (e == f.self) continue;
      pid_t tid = e->tid.load(std::memory_order_relaxed);
      ConnSlot* slot = e->conn.load(std::memory_order_acquire);
      if (tid == 0 || !slot || !slot_has_request(slot)) continue;
      if (listed == kMaxInFlight) {
        *truncated = true;
        break;
      }
      bool ok = element(w, truncated, [&]() noexcept {
        write_request(w, slot, f.cfg->redact, f.time_us, tid, truncated);
      });
      if (!ok) break;
      ++listed;
    }
  });
}

void field_str(JsonWriter& w, const char* k, const char* v) noexcept {
  w.key(k);
  w.str(v);
}

void field_i64(JsonWriter& w, const char* k, int64_t v) noexcept {
  w.key(k);
  w.i64(v);
}

// The innermost hook runner of httpd on the stack names the phase (see PhaseRange).
// Async-signal-safe.
Phase phase_of(const Backtrace& bt, const Installed& cfg) noexcept {
  for (int i = 0; i < bt.n; ++i) {
    uintptr_t pc = bt.frames[i].pc;
    for (size_t k = 0; k < cfg.n_phase_ranges; ++k)
      if (pc >= cfg.phase_ranges[k].start && pc < cfg.phase_ranges[k].end)
        return cfg.phase_ranges[k].phase;
  }
  return Phase::kNone;
}

}  // namespace

long read_rss_kb(long page_size) noexcept {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "size resident shared ...": the second field.
  const char* p = buf;
  while (*p && *p != ' ') ++p;
  if (*p != ' ') return -1;
  ++p;
  long pages = 0;
  for (; *p >= '0' && *p <= '9'; ++p) pages = pages * 10 + (*p - '0');
  return pages * (page_size / 1024);
}

void format_record_id(long pid, int64_t time_us, char* out) noexcept {
  TextBuf b(out, 47);
  b.dec(pid);
  b.ch('-');
  char hex[24];
  size_t n = format_hex(static_cast<uint64_t>(time_us), hex);
  b.put(hex + 2, n - 2);  // without "0x"
  out[b.len] = '\0';
}

uint64_t backtrace_signature(int signo, const Backtrace& bt) noexcept {
  static SigFrame frames[kMaxFrames];
  size_t n = 0;
  for (int i = 0; i < bt.n; ++i, ++n) {
    const Frame& fr = bt.frames[i];
    frames[n].module = fr.module ? fr.module->path : nullptr;
    frames[n].offset = fr.module ? fr.pc - fr.module->base : fr.pc;
  }
  return crash_signature(signal_name(signo), frames, n);
}

size_t build_record(const RecordFacts& f, char* buf, size_t cap, bool* truncated) noexcept {
  bool cut = false;
  JsonWriter w(buf, cap - 1, kRecordReserve);  // - 1: room for the final newline
  const Installed& cfg = *f.cfg;
  char tmp[64];

  w.begin_object();
  field_i64(w, "schema", kSchema);
  field_str(w, "type", "crash");
  format_record_id(f.pid, f.time_us, tmp);
  field_str(w, "id", tmp);
  format_iso8601_utc(f.time_us, tmp);
  field_str(w, "time", tmp);
  field_i64(w, "time_us", f.time_us);
  field_i64(w, "pid", f.pid);
  field_i64(w, "ppid", f.ppid);
  field_i64(w, "tid", f.tid);
  {
    static struct utsname u;
    w.key("hostname");
    if (uname(&u) == 0)
      w.str(u.nodename, cstr_nlen(u.nodename, sizeof u.nodename), kMaxFieldBytes);
    else
      w.null();
  }
  field_str(w, "httpd", cfg.httpd_version);
  field_str(w, "mpm", cfg.mpm);
  field_i64(w, "generation", cfg.generation);
  w.key("uptime_ms");
  if (cfg.child_start_us > 0 && f.time_us >= cfg.child_start_us)
    w.i64((f.time_us - cfg.child_start_us) / 1000);
  else
    w.null();
  uint64_t served = 0;
  for (size_t i = 0; i < f.n_entries; ++i)
    served += f.entries[i].requests.load(std::memory_order_relaxed);
  w.key("requests_served");
  w.u64(served);
  long rss = read_rss_kb(cfg.page_size);
  w.key("rss_kb");
  if (rss >= 0)
    w.i64(rss);
  else
    w.null();
  write_signal(w, f);
  char sig[17];
  signature_hex(f.signature, sig);
  field_str(w, "signature", sig);
  write_registers(w, f.uc);
  if (f.bt) {
    write_frames(w, *f.bt, &cut);
  } else {
    array_section(w, "frames", &cut, []() noexcept {});
    w.key("frames_truncated");
    w.boolean(false);
  }

  ConnSlot* slot = f.self ? f.self->conn.load(std::memory_order_acquire) : nullptr;
  auto m = w.mark();
  w.key("request");
  write_request(w, slot, cfg.redact, f.time_us, -1, &cut,
                f.bt ? phase_of(*f.bt, cfg) : Phase::kNone);
  if (w.failed()) {
    w.rollback(m);
    cut = true;
    w.set_hard(true);
    w.key("request");
    w.null();
    w.set_hard(false);
  }
  m = w.mark();
  w.key("connection");
  write_connection(w, slot);
  if (w.failed()) {
    w.rollback(m);
    cut = true;
    w.set_hard(true);
    w.key("connection");
    w.null();
    w.set_hard(false);
  }
  write_modules(w, &cut);
  write_in_flight(w, f, &cut);

  w.set_hard(true);
  w.key("folded");
  w.u64(f.folded);
  w.key("truncated");
  w.boolean(cut);
  while (w.depth() > 0) w.end_object();  // only the record object is open here
  size_t len = w.size();
  buf[len++] = '\n';
  if (truncated) *truncated = cut;
  return len;
}

}  // namespace selfheal::crash
