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

// Parses the answer of presence_roster; errors name what was malformed.
Result<PartitionRoster> ParseRoster(const nlohmann::json& answer);

}  // namespace presence::jobs
