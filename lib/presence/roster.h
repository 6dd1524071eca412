#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace presence::jobs {

// One Graph-tracked agent of a partition as its owner last saw it.
struct RosterEntry {
  std::string tenant;
  std::string agent;
  std::string graph_user_id;
  std::string availability;
  std::string activity;
};

// The owner's cache of one partition's Graph-tracked agents, read with the
// presence_roster Function and read again whenever the partition's roster
// revision moves. A cache: losing it costs one read.
struct PartitionRoster {
  uint64_t revision = 0;
  std::vector<RosterEntry> agents;
};

// One page of presence_roster (one HSCAN step over the partition's records):
// the revision when it was read, the cursor of the next page ("0": the last)
// and the registered Graph agents among the records it passed.
struct RosterPage {
  uint64_t revision = 0;
  std::string cursor = "0";
  std::vector<RosterEntry> agents;
};

// Parses an answer of presence_roster; errors name what was malformed.
Result<RosterPage> ParseRosterPage(const nlohmann::json& answer);

// Adds a page to a roster being read page by page; the revision is the
// first page's. A change during the read moves the revision, so the next
// round reads the roster again.
void AddRosterPage(PartitionRoster& roster, RosterPage page, bool first);

// Ends a paged read: sorts by tenant and agent and keeps once an agent that
// HSCAN returned twice.
void FinishRoster(PartitionRoster& roster);

}  // namespace presence::jobs
