// selfhealctl quarantine [list|lift KEY|lift --all] --url URL: the quarantine of a running
// httpd, through its status handler (SetHandler selfheal-status): GET URL?json to list,
// POST lift=... to lift (the sample config allows both from localhost only).
#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"

namespace selfhealctl {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: selfhealctl quarantine [list] [--url URL] [--json]\n"
    "       selfhealctl quarantine lift KEY|--all [--url URL] [--json]\n"
    "  list            the quarantined request keys (and the ones that crashed recently)\n"
    "  lift KEY        lift one quarantine: KEY is the key hash (16 hex digits, as listed) or\n"
    "                  the key text, e.g. 'GET www.example.com:443 /api/upload'\n"
    "  lift --all      lift every quarantine\n"
    "  --url URL       the status handler (default: $SELFHEAL_STATUS_URL, else\n"
    "                  http://127.0.0.1/selfheal-status)\n"
    "  --timeout S     give up after S seconds (default 10)\n"
    "exit: 0 done, 1 KEY not found, 2 usage or the server could not be asked\n";

struct Response {
  long status = 0;
  std::string body;
  std::string error;
};

size_t on_data(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

// One request; post_body null: GET.
Response fetch(const std::string& url, const char* post_body, long timeout_s) {
  Response r;
  CURL* c = curl_easy_init();
  if (!c) {
    r.error = "cannot initialise libcurl";
    return r;
  }
  char err[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "selfhealctl");
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (post_body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    r.error = err[0] ? err : curl_easy_strerror(rc);
  else
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

std::string with_json(const std::string& url) {
  const auto hash = url.find('#');
  std::string base = hash == std::string::npos ? url : url.substr(0, hash);
  return base + (base.find('?') == std::string::npos ? "?json" : "&json");
}

std::string form_escape(const std::string& s) {
  CURL* c = curl_easy_init();
  char* e = c ? curl_easy_escape(c, s.c_str(), static_cast<int>(s.size())) : nullptr;
  std::string out = e ? e : "";
  curl_free(e);
  if (c) curl_easy_cleanup(c);
  return out;
}

std::string str_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <class T>
T num_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<T>() : T{};
}

int fail(const std::string& url, const Response& r) {
  if (!r.error.empty())
    std::fprintf(stderr, "selfhealctl: %s: %s\n", url.c_str(), r.error.c_str());
  else
    std::fprintf(stderr, "selfhealctl: %s: HTTP %ld%s\n", url.c_str(), r.status,
                 r.status == 403   ? " (the status handler allows this host? the sample config "
                                     "says Require local)"
                 : r.status == 404 ? " (no SetHandler selfheal-status at this URL?)"
                                   : "");
  return 2;
}

int list(const std::string& url, bool as_json, long timeout) {
  const std::string u = with_json(url);
  Response r = fetch(u, nullptr, timeout);
  if (!r.error.empty() || r.status != 200) return fail(u, r);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::fprintf(stderr, "selfhealctl: %s: not the status handler's JSON\n", u.c_str());
    return 2;
  }
  json q = j.value("quarantine", json::array());
  if (as_json) {
    json out = {{"url", url},
                {"policy", j.value("policy", json())},
                {"refused_total", j.contains("counters") && j["counters"].is_object()
                                      ? j["counters"].value("quarantine_refused", 0)
                                      : 0},
                {"quarantine", q}};
    std::cout << out.dump() << "\n";
    return 0;
  }
  const json policy = j.value("policy", json());
  if (policy.is_object())
    std::printf("policy: %s, %u crashes in %us -> %us (doubling up to %us)\n",
                policy.value("enabled", false) ? "on" : "off", policy.value("threshold", 0u),
                policy.value("window_s", 0u), policy.value("duration_s", 0u),
                policy.value("cap_s", 0u));
  size_t active = 0;
  for (const auto& e : q) active += e.value("active", false);
  std::printf("%zu quarantined, %zu key(s) tracked (%s)\n\n", active, q.size(), url.c_str());
  if (q.empty()) return 0;
  std::printf("%-16s  %-6s  %7s  %7s  %8s  %-20s  %-20s  %s\n", "KEY HASH", "STATE", "CRASHES",
              "REFUSED", "RETRY(s)", "SINCE", "EXPIRES", "KEY");
  for (const auto& e : q) {
    const bool on = e.value("active", false);
    std::printf(
        "%-16s  %-6s  %7llu  %7llu  %8lld  %-20s  %-20s  %s\n", str_of(e, "key_hash").c_str(),
        on ? "active" : "-", static_cast<unsigned long long>(num_of<uint64_t>(e, "crashes")),
        static_cast<unsigned long long>(num_of<uint64_t>(e, "refused")),
        static_cast<long long>(num_of<int64_t>(e, "retry_after_s")), str_of(e, "since").c_str(),
        on ? str_of(e, "expires").c_str() : "", str_of(e, "key").c_str());
  }
  return 0;
}

int lift(const std::string& url, const std::string& key, bool all, bool as_json, long timeout) {
  const std::string u = with_json(url);
  const std::string body = "lift=" + (all ? std::string("all") : form_escape(key));
  Response r = fetch(u, body.c_str(), timeout);
  if (!r.error.empty() || (r.status != 200 && r.status != 404)) return fail(u, r);
  json j = json::parse(r.body, nullptr, false);
  const uint64_t lifted = j.is_object() ? j.value("lifted", uint64_t{0}) : 0;
  if (as_json) {
    std::cout << (j.is_object() ? j : json{{"lifted", 0}}).dump() << "\n";
  } else if (all) {
    std::printf("lifted %llu active quarantine(s)\n", static_cast<unsigned long long>(lifted));
  } else if (r.status == 404 || lifted == 0) {
    std::fprintf(stderr,
                 "selfhealctl: no quarantine entry for key '%s' (see selfhealctl "
                 "quarantine list)\n",
                 key.c_str());
  } else {
    std::printf("lifted the quarantine of %s\n", key.c_str());
  }
  return (!all && (r.status == 404 || lifted == 0)) ? 1 : 0;
}

}  // namespace

int cmd_quarantine(int argc, char** argv) {
  std::string url;
  if (const char* e = std::getenv("SELFHEAL_STATUS_URL"); e && *e) url = e;
  if (url.empty()) url = "http://127.0.0.1/selfheal-status";
  bool as_json = false, all = false;
  long timeout = 10;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "selfhealctl quarantine: %s needs a value\n%s", name, kUsage);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--all") {
      all = true;
    } else if (a == "--url") {
      const char* v = value("--url");
      if (!v) return 2;
      url = v;
    } else if (a.rfind("--url=", 0) == 0) {
      url = a.substr(6);
    } else if (a == "--timeout") {
      const char* v = value("--timeout");
      if (!v) return 2;
      char* end = nullptr;
      timeout = std::strtol(v, &end, 10);
      if (*end || timeout <= 0) {
        std::fprintf(stderr, "selfhealctl quarantine: --timeout '%s': use whole seconds\n", v);
        return 2;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "selfhealctl quarantine: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      pos.push_back(a);
    }
  }
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    std::fprintf(stderr, "selfhealctl quarantine: --url '%s': use http://HOST:PORT/PATH\n",
                 url.c_str());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = 2;
  const std::string verb = pos.empty() ? "list" : pos[0];
  if (verb == "list" && pos.size() <= 1 && !all) {
    rc = list(url, as_json, timeout);
  } else if (verb == "lift" && ((all && pos.size() == 1) || (!all && pos.size() == 2))) {
    rc = lift(url, all ? std::string() : pos[1], all, as_json, timeout);
  } else {
    std::fprintf(stderr, "selfhealctl quarantine: %s\n%s",
                 verb == "lift" ? "lift takes one KEY or --all" : "unknown arguments", kUsage);
  }
  curl_global_cleanup();
  return rc;
}

}  // namespace selfhealctl
