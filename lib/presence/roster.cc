#include "presence/roster.h"

#include "util/json_fields.h"

namespace presence::jobs {

Result<PartitionRoster> ParseRoster(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.value("ok", false)) {
    return MakeError("bad_roster", "presence_roster: refused or not an object");
  }
  PartitionRoster roster;
  roster.revision = FieldUint(answer, "rev");
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

}  // namespace presence::jobs
