// Grouping crash records by signature (see grouping.h).
#include "records/grouping.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "crash/names.h"
#include "crash/signature.h"

namespace selfheal::records {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

std::string host_part(std::string_view hostport) {
  if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
    size_t e = hostport.find(']');
    return std::string(hostport.substr(0, e == std::string_view::npos ? hostport.size() : e + 1));
  }
  size_t c = hostport.rfind(':');
  if (c != std::string_view::npos && hostport.find(':') == c)
    return std::string(hostport.substr(0, c));
  return std::string(hostport);
}

std::vector<Counted> most_frequent(const std::map<std::string, size_t>& counts) {
  std::vector<Counted> v;
  v.reserve(counts.size());
  for (const auto& [k, n] : counts) v.push_back({k, n});
  std::stable_sort(v.begin(), v.end(),
                   [](const Counted& a, const Counted& b) { return a.count > b.count; });
  return v;
}

struct Acc {
  Group g;
  std::map<std::string, size_t> paths, vhosts;
  std::set<int64_t> pids;
  std::vector<std::pair<int64_t, const CrashRecord*>> members;
};

}  // namespace

std::string normalize_signal(std::string_view s) {
  if (s.empty()) return {};
  bool numeric = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    if (s.size() > 3) return {};
    const char* name = crash::signal_name_or_null(std::atoi(std::string(s).c_str()));
    return name ? name : std::string();
  }
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (u.rfind("SIG", 0) != 0) u = "SIG" + u;
  for (char c : u.substr(3))
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return {};
  return u.size() > 3 ? u : std::string();
}

bool Filter::matches(const CrashRecord& r) const {
  if (since_us && r.time_us < *since_us) return false;
  if (until_us && r.time_us > *until_us) return false;
  if (!signal.empty() && r.signal.name != signal) return false;
  if (!vhost.empty()) {
    if (!r.request) return false;
    std::string want = lower(vhost);
    std::string v = lower(r.request->vhost), h = lower(r.request->host);
    if (want != v && want != host_part(v) && want != h && want != host_part(h)) return false;
  }
  if (!path.empty()) {
    if (!r.request || r.request->path.compare(0, path.size(), path) != 0) return false;
  }
  return true;
}

std::vector<size_t> signature_frames(const std::vector<Frame>& frames) {
  std::vector<size_t> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (static_cast<int>(out.size()) == kSignatureFrames) break;
    if (signature_skips_module(frames[i].module ? frames[i].module->c_str() : nullptr)) continue;
    out.push_back(i);
  }
  if (out.empty())
    for (size_t i = 0; i < frames.size() && static_cast<int>(i) < kSignatureFrames; ++i)
      out.push_back(i);
  return out;
}

std::vector<Group> group_records(const std::vector<CrashRecord>& records, const Filter& filter) {
  std::unordered_map<std::string, Acc> by_sig;
  for (const CrashRecord& r : records) {
    if (!filter.matches(r)) continue;
    Acc& a = by_sig[r.signature];
    Group& g = a.g;
    size_t n = 1 + static_cast<size_t>(std::max<int64_t>(0, r.folded));
    if (g.records == 0) {
      g.signature = r.signature;
      g.first_us = g.last_us = r.time_us;
      g.signal = r.signal.name;
    }
    g.records += 1;
    g.folded += n - 1;
    g.count += n;
    g.first_us = std::min(g.first_us, r.time_us);
    if (!g.latest || r.time_us >= g.last_us) g.latest = &r;
    g.last_us = std::max(g.last_us, r.time_us);
    a.members.emplace_back(r.time_us, &r);
    a.pids.insert(r.pid);
    if (r.request) {
      a.paths[r.request->path.empty() ? "(unreadable)" : r.request->path] += n;
      a.vhosts[r.request->vhost.empty() ? "(unknown)" : r.request->vhost] += n;
    } else {
      g.no_request += n;
    }
  }
  std::vector<Group> out;
  out.reserve(by_sig.size());
  for (auto& [sig, a] : by_sig) {
    Group& g = a.g;
    g.paths = most_frequent(a.paths);
    g.vhosts = most_frequent(a.vhosts);
    g.pids.assign(a.pids.begin(), a.pids.end());
    std::stable_sort(a.members.begin(), a.members.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    g.ids.reserve(a.members.size());
    for (const auto& m : a.members) g.ids.push_back(m.second->id);
    g.top_index = signature_frames(g.latest->frames);
    for (size_t i : g.top_index) g.top_frames.push_back(g.latest->frames[i]);
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.last_us != b.last_us) return a.last_us > b.last_us;
    return a.signature < b.signature;
  });
  return out;
}

}  // namespace selfheal::records
