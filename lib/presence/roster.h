#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace presence::jobs {

// A Graph user id as its 16 bytes: an owner keeps one per Graph agent, so
// at a million agents the text form (36 characters on the heap) would cost
// about 80 bytes more each.
using GuidBytes = std::array<uint8_t, 16>;

// The bytes of a GUID written 8-4-4-4-12 in hex digits of any case, or
// nullopt; and back to lower-case text.
std::optional<GuidBytes> GuidToBytes(std::string_view text);
std::string GuidToText(const GuidBytes& guid);

// Text that many roster entries share (tenant ids, presence values), stored
// once for the life of the process; entries hold the pointer. Grows with the
// number of distinct tenants and values, not agents. Single-threaded.
const std::string* Intern(std::string_view text);

// One Graph-tracked agent of a partition as its owner last saw it.
struct RosterEntry {
  const std::string* tenant = nullptr;
  std::string agent;
  GuidBytes graph_user_id{};
  const std::string* availability = nullptr;
  const std::string* activity = nullptr;
};

// The owner's cache of one partition's Graph-tracked agents, read with the
// presence_roster Function and read again whenever the partition's roster
// revision moves. A cache: losing it costs one read.
struct PartitionRoster {
  uint64_t revision = 0;
  std::vector<RosterEntry> agents;
  size_t skipped = 0;  // rows whose graph_user_id is not a GUID: they cannot be polled
};

// One page of presence_roster (one HSCAN step over the partition's records):
// the revision when it was read, the cursor of the next page ("0": the last)
// and the registered Graph agents among the records it passed.
struct RosterPage {
  uint64_t revision = 0;
  std::string cursor = "0";
  std::vector<RosterEntry> agents;
  size_t skipped = 0;
};

// Parses an answer of presence_roster; errors name what was malformed.
Result<RosterPage> ParseRosterPage(const nlohmann::json& answer);

// Adds a page to a roster being read page by page; the revision is the
// first page's. A change during the read moves the revision, so the next
// round reads the roster again.
void AddRosterPage(PartitionRoster& roster, RosterPage page, bool first);

// Ends a paged read: sorts by tenant and agent, keeps once an agent that
// HSCAN returned twice, and gives back the spare capacity of the pages.
void FinishRoster(PartitionRoster& roster);

}  // namespace presence::jobs
