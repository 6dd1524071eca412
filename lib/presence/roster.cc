#include "presence/roster.h"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "util/json_fields.h"

namespace presence::jobs {

Result<RosterPage> ParseRosterPage(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.value("ok", false)) {
    return MakeError("bad_roster", "presence_roster: refused or not an object");
  }
  RosterPage roster;
  roster.revision = FieldUint(answer, "rev");
  auto cursor = answer.find("cursor");
  if (cursor != answer.end()) {
    if (!cursor->is_string() || cursor->get_ref<const std::string&>().empty()) {
      return MakeError("bad_roster", "presence_roster: cursor is not a non-empty string");
    }
    roster.cursor = cursor->get<std::string>();
  }
  auto agents = answer.find("agents");
  if (agents == answer.end() || !(agents->is_array() || agents->is_object())) {
    return MakeError("bad_roster", "presence_roster: no agents array");
  }
  for (const auto& row : *agents) {
    if (!row.is_array() || row.size() < 5) {
      return MakeError("bad_roster", "presence_roster: a row is not [tenant,agent,id,av,act]");
    }
    RosterEntry entry;
    for (size_t i = 0; i < 5; ++i) {
      if (!row[i].is_string()) return MakeError("bad_roster", "presence_roster: non-string field");
    }
    entry.tenant = row[0].get<std::string>();
    entry.agent = row[1].get<std::string>();
    entry.graph_user_id = row[2].get<std::string>();
    entry.availability = row[3].get<std::string>();
    entry.activity = row[4].get<std::string>();
    roster.agents.push_back(std::move(entry));
  }
  return roster;
}

void AddRosterPage(PartitionRoster& roster, RosterPage page, bool first) {
  if (first) {
    roster.revision = page.revision;
    roster.agents.clear();
  }
  std::move(page.agents.begin(), page.agents.end(), std::back_inserter(roster.agents));
}

void FinishRoster(PartitionRoster& roster) {
  // HSCAN may return a record twice when the hash was resized during the scan.
  auto key = [](const RosterEntry& e) { return std::tie(e.tenant, e.agent); };
  std::sort(roster.agents.begin(), roster.agents.end(),
            [&](const RosterEntry& a, const RosterEntry& b) { return key(a) < key(b); });
  auto last =
      std::unique(roster.agents.begin(), roster.agents.end(),
                  [&](const RosterEntry& a, const RosterEntry& b) { return key(a) == key(b); });
  roster.agents.erase(last, roster.agents.end());
}

}  // namespace presence::jobs
