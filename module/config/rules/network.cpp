// NET-* rules: listeners and virtual-host addressing.

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "config/rules/common.h"

namespace selfheal::cfg {
namespace {

void net001(Context& c) {
  const std::string pid = c.m.effective_pid_file();
  std::set<std::pair<std::string_view, int>> done;
  for (const Listen& l : c.m.listens) {
    if (!done.insert({l.host, l.port}).second) continue;
    const BindResult r = c.env.try_bind(std::string(l.host), l.port, pid);
    const std::string where =
        (l.host.empty() ? std::string_view("*") : l.host) + ":" + std::to_string(l.port);
    if (r == BindResult::in_use)
      c.report(l.dir,
               "cannot bind " + where + ": the address is in use by another process (AH00072)",
               std::nullopt, "stop the other process or choose another port");
    else if (r == BindResult::not_local)
      c.report(l.dir, "cannot bind " + where + ": not an address of this machine", std::nullopt,
               "listen on a local address");
  }
}

void net002(Context& c) {
  if (c.m.listens.empty()) return;
  // What the Listen lines cover, by port (a Listen covers an address when the ports
  // agree and it listens on every address, the address is a wildcard, or the hosts agree).
  struct PortListens {
    bool any_address = false;  // Listen without a host, or *, 0.0.0.0, ::
    std::unordered_set<std::string_view> hosts;
  };
  std::unordered_map<int, PortListens> by_port;
  for (const Listen& l : c.m.listens) {
    PortListens& p = by_port[l.port];
    if (l.host.empty() || l.host == "*" || l.host == "0.0.0.0" || l.host == "::")
      p.any_address = true;
    else
      p.hosts.insert(l.host);
  }
  for (int v = 0; v < static_cast<int>(c.m.vhosts.size()); ++v) {
    const VHost& vh = c.m.vhosts[static_cast<size_t>(v)];
    for (const Address& a : vh.addrs) {
      if (a.port == 0) continue;
      auto it = by_port.find(a.port);
      const bool ok = it != by_port.end() &&
                      (it->second.any_address || a.wildcard() || it->second.hosts.count(a.host));
      if (!ok)
        c.report_vhost(v, vh.dir,
                       "no Listen for " + a.host + ":" + std::to_string(a.port) +
                           ": this virtual host never receives a request",
                       std::nullopt,
                       "add Listen " + std::to_string(a.port) + " or fix the address");
    }
  }
}

void net003(Context& c) {
  std::map<int, std::pair<int, int>> ports;  // port -> (first wildcard vhost, count)
  for (int v = 0; v < static_cast<int>(c.m.vhosts.size()); ++v)
    for (const Address& a : c.m.vhosts[static_cast<size_t>(v)].addrs)
      if (a.wildcard() && a.port != 0 && !ports.count(a.port)) ports[a.port] = {v, 0};
  for (int v = 0; v < static_cast<int>(c.m.vhosts.size()); ++v) {
    const VHost& vh = c.m.vhosts[static_cast<size_t>(v)];
    for (const Address& a : vh.addrs) {
      if (a.wildcard() || a.port == 0) continue;
      auto it = ports.find(a.port);
      if (it == ports.end()) continue;
      const Directive& other =
          c.m.dirs[static_cast<size_t>(c.m.vhosts[static_cast<size_t>(it->second.first)].dir)];
      c.report_vhost(
          v, vh.dir,
          "<VirtualHost " + a.host + ":" + std::to_string(a.port) + "> takes every request to " +
              a.host + ", also those meant for the *:" + std::to_string(a.port) +
              " sites (first at " + c.m.files[static_cast<size_t>(other.file)] + ":" +
              std::to_string(other.line) + "), default site included",
          std::nullopt, "use *:" + std::to_string(a.port) + " like the other virtual hosts");
    }
  }
}

void net004(Context& c) {
  // (address, name) -> first vhost. Addresses are few: number them; names (stable views
  // into the model) map to a chain of (address, vhost) entries. No string per name.
  std::unordered_map<std::string, size_t> addr_ids;
  std::vector<std::string> addr_keys;
  struct Entry {
    size_t addr;
    int vhost;
    int next;  // index into entries, -1 = end
  };
  std::vector<Entry> entries;
  entries.reserve(c.m.vhosts.size() * 2);
  PathMap<int> heads;  // name -> first entry + 1 (0 = none)
  {
    size_t names = 0;
    for (const VHost& vh : c.m.vhosts) names += 1 + vh.aliases.size();
    heads.reserve(names);
  }
  std::string key;
  std::string_view last_host;
  int last_port = -1;
  size_t last_addr = 0;
  for (int v = 0; v < static_cast<int>(c.m.vhosts.size()); ++v) {
    const VHost& vh = c.m.vhosts[static_cast<size_t>(v)];
    for (const Address& a : vh.addrs) {
      const std::string_view host = a.wildcard() ? std::string_view("*") : a.host;
      if (host != last_host || a.port != last_port) {  // consecutive vhosts share addresses
        key.assign(host);
        key += ':';
        key += std::to_string(a.port);
        auto [ait, fresh_addr] = addr_ids.try_emplace(key, addr_keys.size());
        if (fresh_addr) addr_keys.push_back(key);
        last_addr = ait->second;
        last_host = host;
        last_port = a.port;
      }
      const size_t addr = last_addr;
      auto check = [&](std::string_view name, int d) {
        int& head = *heads.try_emplace(name, true).first;
        int owner = -1;
        for (int e = head - 1; e >= 0; e = entries[static_cast<size_t>(e)].next)
          if (entries[static_cast<size_t>(e)].addr == addr) {
            owner = entries[static_cast<size_t>(e)].vhost;
            break;
          }
        if (owner < 0) {
          entries.push_back({addr, v, head - 1});
          head = static_cast<int>(entries.size());
          return;
        }
        if (owner == v) return;
        const VHost& first = c.m.vhosts[static_cast<size_t>(owner)];
        const Directive& fd = c.m.dirs[static_cast<size_t>(first.dir)];
        c.report(d,
                 "name " + name + " on " + addr_keys[addr] +
                     " is already served by the virtual host at " +
                     c.m.files[static_cast<size_t>(fd.file)] + ":" + std::to_string(fd.line) +
                     ": this one never gets its requests",
                 std::nullopt, "remove the duplicate name or merge the virtual hosts");
      };
      if (!vh.server_name.empty()) check(vh.server_name, vh.server_name_dir);
      for (const auto& [name, d] : vh.aliases) check(name, d);
    }
  }
}

}  // namespace

void add_network_rules(std::vector<Rule>& out) {
  const auto S = Profile::safety;
  const auto P = Phase::check_config;
  Rule n1{"NET-001",
          Severity::error,
          S,
          P,
          "Listen address cannot be bound",
          "free the port or change Listen",
          {},
          net001};
  n1.config_test_only = true;
  out.push_back(n1);
  out.push_back({"NET-002",
                 Severity::warning,
                 S,
                 P,
                 "virtual host port without Listen",
                 "add the Listen",
                 {},
                 net002});
  out.push_back({"NET-003",
                 Severity::warning,
                 S,
                 P,
                 "IP-specific vhost beside *:port vhosts",
                 "use the same address form for every vhost on a port",
                 {},
                 net003});
  out.push_back({"NET-004",
                 Severity::warning,
                 S,
                 P,
                 "duplicate ServerName/ServerAlias on one address",
                 "remove the duplicate",
                 {},
                 net004});
}

}  // namespace selfheal::cfg
