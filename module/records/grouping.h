// Grouping crash records by signature, with filters (selfhealctl crashes/show, benchmarks).
//
// A group is every record with the same `signature` (the field as written by the crash
// handler; recomputed with selfheal::crash_signature from the frames when absent, so both
// sides use one rule). A record that says `folded: N` stands for N + 1 crashes.
// NOT async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "records/reader.h"

namespace selfheal::records {

struct Filter {
  std::optional<int64_t> since_us, until_us;  // inclusive bounds on time_us
  std::string signal;                         // normalized "SIGSEGV"; empty: any
  std::string vhost;  // matches vhost, its host part, or the Host header (case-insensitive)
  std::string path;   // prefix of the request path
  bool matches(const CrashRecord& r) const;
};

// "SIGSEGV", "segv", "11" -> "SIGSEGV"; empty when not a signal name or number.
std::string normalize_signal(std::string_view s);

struct Counted {
  std::string value;
  size_t count = 0;
};

struct Group {
  std::string signature;
  size_t count = 0;    // crashes: records + their `folded`
  size_t records = 0;  // records read
  size_t folded = 0;
  int64_t first_us = 0, last_us = 0;
  std::string signal;                   // the signal (part of the signature, so one per group)
  std::vector<Frame> top_frames;        // the frames the signature was made of (latest record)
  std::vector<size_t> top_index;        // their indexes in latest->frames (0: the faulting pc)
  std::vector<Counted> paths;           // most frequent request paths first (ties: by value)
  std::vector<Counted> vhosts;          // most frequent vhosts first
  std::vector<std::string> ids;         // record ids, oldest first
  std::vector<int64_t> pids;            // distinct pids, ascending
  size_t no_request = 0;                // crashes with no request in flight
  const CrashRecord* latest = nullptr;  // points into the records passed to group_records
};

// Indexes of the frames the signature rule takes from `frames`: the first kSignatureFrames that are
// not skipped, or the raw top frames when everything is skipped (same as crash_signature).
std::vector<size_t> signature_frames(const std::vector<Frame>& frames);

// Groups the records that pass `filter`. Sorted by count (desc), then last seen (desc), then
// signature. `records` must outlive the result (Group::latest).
std::vector<Group> group_records(const std::vector<CrashRecord>& records,
                                 const Filter& filter = {});

}  // namespace selfheal::records
