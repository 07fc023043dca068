// selfhealctl show ID|SIGNATURE [LOG...]: one crash record, or one group, in full.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "commands.h"
#include "crash_cli.h"
#include "output.h"
#include "records/grouping.h"
#include "records/reader.h"

namespace selfhealctl {

using namespace selfheal::records;

namespace {

constexpr const char* kUsage =
    "usage: selfhealctl show ID|SIGNATURE [LOG...] [--no-symbolize] [--json]\n"
    "  ID         a record id (\"<pid>-<time_us hex>\"): that crash in full\n"
    "  SIGNATURE  a signature or a unique prefix of one (4+ hex digits): the group, and its\n"
    "             latest crash in full\n";

bool is_hex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

void print_request(std::ostream& out, const Request& q, const char* indent) {
  out << q.method << " " << (q.path.empty() ? "(unreadable path)" : q.path);
  if (!q.query.empty()) out << "?" << q.query;
  if (!q.protocol.empty()) out << " " << q.protocol;
  out << "\n";
  std::string l;
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    l += (l.empty() ? "" : ", ") + k + " " + v;
  };
  add("host", q.host);
  add("vhost", q.vhost);
  if (!l.empty()) out << indent << l << "\n";
  l.clear();
  add("client", q.client);
  add("local", q.local);
  if (!l.empty()) out << indent << l << "\n";
  l.clear();
  add("handler", q.handler);
  add("phase", q.phase);
  if (q.age_ms >= 0) add("running", std::to_string(q.age_ms) + " ms");
  if (!l.empty()) out << indent << l << "\n";
  if (!q.filename.empty()) out << indent << "file " << q.filename << "\n";
  for (const auto& [k, v] : q.headers) out << indent << k << ": " << v << "\n";
}

struct BacktraceLine {
  size_t index;
  bool in_signature;
  const Symbolized* sym;
};

std::vector<BacktraceLine> symbolize_all(const CrashRecord& r, Symbolizer* sym) {
  std::vector<size_t> sig = signature_frames(r.frames);
  std::set<size_t> in_sig(sig.begin(), sig.end());
  std::vector<BacktraceLine> v;
  for (size_t i = 0; i < r.frames.size(); ++i)
    v.push_back({i, in_sig.count(i) > 0, sym ? &sym->symbolize(r.frames[i], i > 0) : nullptr});
  return v;
}

void print_backtrace(std::ostream& out, const CrashRecord& r, Symbolizer* sym) {
  auto lines = symbolize_all(r, sym);
  out << "Backtrace (" << r.frames.size() << " frame" << (r.frames.size() == 1 ? "" : "s")
      << (r.frames_truncated ? ", truncated: the stack was deeper" : "")
      << "; * marks the frames the signature is made of):\n";
  // Problems once per object, after the backtrace.
  std::map<std::string, std::pair<std::string, std::string>> missing;
  for (const BacktraceLine& b : lines) {
    const Frame& f = r.frames[b.index];
    std::string where =
        f.module ? basename_of(*f.module) + "+" + hex_u64(f.offset) : "pc " + hex_u64(f.pc);
    std::string head =
        "  #" + pad_right(std::to_string(b.index), 3) + (b.in_signature ? "* " : "  ");
    if (!b.sym || !b.sym->has_function || b.sym->chain.empty()) {
      out << head << pad_right(where, 28) << (f.module ? " ??" : " (in no loaded object)") << "\n";
    } else {
      for (size_t k = 0; k < b.sym->chain.size(); ++k) {
        const SourceFrame& s = b.sym->chain[k];
        out << (k == 0 ? head + pad_right(where, 28) : std::string(head.size() + 28, ' '))
            << (k == 0 ? " " : " inlined into ") << s.function;
        if (s.line > 0) out << " at " << s.file << ":" << s.line;
        out << (k + 1 < b.sym->chain.size() && k == 0 ? " (inlined)" : "") << "\n";
      }
    }
    if (b.sym && !b.sym->problem.empty() && f.module) {
      std::string key =
          basename_of(*f.module) + (f.build_id.empty() ? "" : " (build-id " + f.build_id + ")");
      missing.emplace(key, std::make_pair(b.sym->problem, b.sym->package_hint));
    }
  }
  if (!missing.empty()) {
    out << "\nSymbols missing or doubtful:\n";
    for (const auto& [obj, why] : missing) {
      out << "  " << obj << ":\n    " << why.first << "\n";
      if (!why.second.empty()) out << "    " << why.second << "\n";
    }
  }
}

void print_record(std::ostream& out, const CrashRecord& r, Symbolizer* sym) {
  out << "Crash " << r.id << " at " << r.time << "\n";
  out << "  read from   " << r.file << ":" << r.line << "\n";
  out << "  signal      " << r.signal.name;
  if (r.signal.number) out << " (" << r.signal.number << ")";
  if (!r.signal.code.empty()) out << " " << r.signal.code;
  if (!r.signal.address.empty()) out << ", fault address " << r.signal.address;
  if (r.signal.sender_pid) out << ", sent by pid " << *r.signal.sender_pid;
  out << "\n";
  out << "  signature   " << r.signature
      << (r.signature_computed ? " (recomputed from the frames)" : "") << "\n";
  out << "  process     pid " << r.pid << ", parent " << r.ppid << ", thread " << r.tid;
  if (!r.hostname.empty()) out << " on " << r.hostname;
  out << "\n";
  if (!r.httpd.empty() || !r.mpm.empty())
    out << "  server      " << r.httpd << (r.mpm.empty() ? "" : ", mpm " + r.mpm) << ", generation "
        << r.generation << "\n";
  std::string child;
  if (r.uptime_ms >= 0) child += "up " + std::to_string(r.uptime_ms) + " ms";
  if (r.requests_served >= 0)
    child += (child.empty() ? "" : ", ") + std::to_string(r.requests_served) + " requests started";
  if (r.rss_kb >= 0)
    child += (child.empty() ? "" : ", ") + std::string("rss ") + std::to_string(r.rss_kb) + " kB";
  if (!child.empty()) out << "  child       " << child << "\n";
  const char* ind = "              ";
  if (r.request) {
    out << "  request     ";
    print_request(out, *r.request, ind);
  } else {
    out << "  request     none in flight on the crashing thread\n";
  }
  if (r.connection && r.connection->is_object()) {
    out << "  connection  ";
    bool first = true;
    for (auto it = r.connection->begin(); it != r.connection->end(); ++it) {
      out << (first ? "" : ", ") << it.key() << " "
          << (it->is_string() ? it->get<std::string>() : it->dump());
      first = false;
    }
    out << "\n";
  }
  if (!r.in_flight.empty()) {
    out << "  in flight   " << r.in_flight.size() << " other request"
        << (r.in_flight.size() == 1 ? "" : "s") << " died with it:\n";
    for (const Request& q : r.in_flight) {
      out << ind << "tid " << q.tid << ": " << q.method << " " << q.path;
      if (!q.vhost.empty()) out << " (" << q.vhost << ")";
      if (!q.phase.empty()) out << ", phase " << q.phase;
      out << "\n";
    }
  }
  if (r.folded)
    out << "  folded      " << r.folded << " identical crashes folded into this record\n";
  if (r.truncated) out << "  note        the record was cut to stay under 64 KiB\n";
  out << "\n";
  print_backtrace(out, r, sym);
  if (!r.registers.empty()) {
    // x86-64 order as the handler writes them (the parsed object comes sorted by name).
    static const char* const kOrder[] = {"rip", "rsp", "rbp", "rax", "rbx", "rcx",
                                         "rdx", "rsi", "rdi", "r8",  "r9",  "r10",
                                         "r11", "r12", "r13", "r14", "r15", "eflags"};
    std::vector<std::pair<std::string, std::string>> regs;
    for (const char* k : kOrder)
      for (const auto& kv : r.registers)
        if (kv.first == k) regs.push_back(kv);
    for (const auto& kv : r.registers)
      if (std::find(std::begin(kOrder), std::end(kOrder), kv.first) == std::end(kOrder))
        regs.push_back(kv);
    out << "\nRegisters:\n";
    std::string line;
    for (size_t i = 0; i < regs.size(); ++i) {
      std::string cell = pad_right(regs[i].first, 7) + regs[i].second;
      line += i % 4 == 0 ? "  " + pad_right(cell, 26) : pad_right(cell, 26);
      if (i % 4 == 3 || i + 1 == regs.size()) {
        out << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
        line.clear();
      }
    }
  }
}

ojson record_json(const CrashRecord& r, Symbolizer* sym) {
  ojson j;
  j["record"] = r.raw.is_null() ? ojson(nullptr) : ojson::parse(r.raw.dump());
  j["file"] = r.file;
  j["line"] = r.line;
  j["signature"] = r.signature;
  j["signature_computed"] = r.signature_computed;
  ojson bt = ojson::array();
  for (const BacktraceLine& b : symbolize_all(r, sym)) {
    ojson f = frame_json(r.frames[b.index], b.sym);
    ojson e;
    e["index"] = b.index;
    e["pc"] = hex_u64(r.frames[b.index].pc);
    e["in_signature"] = b.in_signature;
    for (auto it = f.begin(); it != f.end(); ++it) e[it.key()] = *it;
    e["problem"] = b.sym && !b.sym->problem.empty() ? ojson(b.sym->problem) : ojson(nullptr);
    e["package_hint"] =
        b.sym && !b.sym->package_hint.empty() ? ojson(b.sym->package_hint) : ojson(nullptr);
    bt.push_back(e);
  }
  j["backtrace"] = bt;
  return j;
}

}  // namespace

int run_show(const std::vector<std::string>& args, CliEnv& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  bool as_json = false, symbolize = true;
  std::string what;
  std::vector<std::string> logs;
  for (const std::string& a : args) {
    if (a == "--json")
      as_json = true;
    else if (a == "--no-symbolize")
      symbolize = false;
    else if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      err << "selfhealctl show: unknown option " << a << "\n" << kUsage;
      return 2;
    } else if (what.empty())
      what = a;
    else
      logs.push_back(a);
  }
  if (what.empty()) {
    err << "selfhealctl show: which crash? give a record id or a signature\n" << kUsage;
    return 2;
  }
  std::string how;
  logs = choose_logs(logs, env, how);
  ReadOptions ro;
  ro.keep_raw = as_json;
  ReadResult rr = read_files(logs, ro);
  print_warnings(rr, err);
  if (!rr.errors.empty() && rr.records.empty()) return 2;

  std::unique_ptr<Symbolizer> sym;
  if (symbolize) sym = std::make_unique<Symbolizer>(env.symbolizer);

  const CrashRecord* rec = nullptr;
  for (const CrashRecord& r : rr.records)
    if (r.id == what) rec = &r;  // the last one wins if an id was written twice
  if (rec) {
    if (as_json) {
      ojson j = record_json(*rec, sym.get());
      j = ojson{{"kind", "record"}, {"crash", j}, {"skipped", skipped_json(rr.skipped)}};
      out << j.dump(2) << "\n";
    } else {
      print_record(out, *rec, sym.get());
    }
    return 0;
  }
  std::string prefix = what;
  for (char& c : prefix)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  std::vector<Group> groups;
  if (is_hex(prefix) && prefix.size() >= 4) {
    for (Group& g : group_records(rr.records))
      if (g.signature.rfind(prefix, 0) == 0) groups.push_back(std::move(g));
  }
  if (groups.empty()) {
    err << "selfhealctl show: no record id or signature '" << what << "' in";
    for (const auto& l : logs) err << " " << l;
    err << (is_hex(prefix) && prefix.size() < 4 ? " (a signature prefix needs 4+ hex digits)" : "")
        << "\n";
    return 1;
  }
  if (groups.size() > 1) {
    err << "selfhealctl show: '" << what << "' matches " << groups.size() << " signatures:";
    for (const Group& g : groups) err << " " << g.signature;
    err << "; give more digits\n";
    return 2;
  }
  const Group& g = groups.front();
  if (as_json) {
    ojson j{{"kind", "group"},
            {"group", group_json(g, sym.get())},
            {"latest", record_json(*g.latest, sym.get())},
            {"skipped", skipped_json(rr.skipped)}};
    out << j.dump(2) << "\n";
    return 0;
  }
  out << "Group " << g.signature << ": " << g.count << " crash" << (g.count == 1 ? "" : "es")
      << " (" << g.records << " record" << (g.records == 1 ? "" : "s");
  if (g.folded) out << ", " << g.folded << " folded";
  out << "), " << g.signal << "\n";
  out << "  first seen  " << format_time_us(g.first_us) << "\n";
  out << "  last seen   " << format_time_us(g.last_us) << "\n";
  out << "  processes   " << g.pids.size() << " (pid";
  for (size_t i = 0; i < g.pids.size(); ++i) out << (i ? ", " : " ") << g.pids[i];
  out << ")\n";
  if (!g.paths.empty()) out << "  paths       " << join_counted(g.paths, 10) << "\n";
  if (!g.vhosts.empty()) out << "  vhosts      " << join_counted(g.vhosts, 10) << "\n";
  if (g.no_request) out << "  no request  " << g.no_request << "\n";
  out << "  records     ";
  for (size_t i = 0; i < g.ids.size(); ++i)
    out << (i ? (i % 4 == 0 ? ",\n              " : ", ") : "") << g.ids[i];
  out << "\n\nLatest crash of the group:\n";
  print_record(out, *g.latest, sym.get());
  return 0;
}

int cmd_show(int argc, char** argv) {
  CliEnv env = process_env();
  return run_show(std::vector<std::string>(argv + 1, argv + argc), env);
}

}  // namespace selfhealctl
