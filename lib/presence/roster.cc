#include "presence/roster.h"

#include <algorithm>
#include <iterator>
#include <tuple>
#include <unordered_set>

#include "graph/presence_values.h"
#include "util/json_fields.h"
#include "util/strings.h"

namespace presence::jobs {

std::optional<GuidBytes> GuidToBytes(std::string_view text) {
  if (!graph::IsGuid(text)) return std::nullopt;
  GuidBytes bytes{};
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    int high = HexDigitValue(text[i]);
    int low = HexDigitValue(text[++i]);
    bytes[n++] = static_cast<uint8_t>(high * 16 + low);
  }
  return bytes;
}

std::string GuidToText(const GuidBytes& guid) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (size_t i = 0; i < guid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kDigits[guid[i] >> 4]);
    text.push_back(kDigits[guid[i] & 15]);
  }
  return text;
}

const std::string* Intern(std::string_view text) {
  // Node-based: an element never moves, so the pointers stay valid.
  static std::unordered_set<std::string> strings;
  return &*strings.emplace(text).first;
}

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
  roster.agents.reserve(agents->size());
  for (const auto& row : *agents) {
    if (!row.is_array() || row.size() < 5) {
      return MakeError("bad_roster", "presence_roster: a row is not [tenant,agent,id,av,act]");
    }
    for (size_t i = 0; i < 5; ++i) {
      if (!row[i].is_string()) return MakeError("bad_roster", "presence_roster: non-string field");
    }
    auto guid = GuidToBytes(row[2].get_ref<const std::string&>());
    if (!guid) {
      ++roster.skipped;
      continue;
    }
    RosterEntry entry;
    entry.tenant = Intern(row[0].get_ref<const std::string&>());
    entry.agent = row[1].get<std::string>();
    entry.graph_user_id = *guid;
    entry.availability = Intern(row[3].get_ref<const std::string&>());
    entry.activity = Intern(row[4].get_ref<const std::string&>());
    roster.agents.push_back(std::move(entry));
  }
  return roster;
}

void AddRosterPage(PartitionRoster& roster, RosterPage page, bool first) {
  if (first) {
    roster.revision = page.revision;
    roster.agents.clear();
    roster.skipped = 0;
  }
  roster.skipped += page.skipped;
  std::move(page.agents.begin(), page.agents.end(), std::back_inserter(roster.agents));
}

void FinishRoster(PartitionRoster& roster) {
  // HSCAN may return a record twice when the hash was resized during the scan.
  auto key = [](const RosterEntry& e) { return std::tie(*e.tenant, e.agent); };
  std::sort(roster.agents.begin(), roster.agents.end(),
            [&](const RosterEntry& a, const RosterEntry& b) { return key(a) < key(b); });
  auto last =
      std::unique(roster.agents.begin(), roster.agents.end(),
                  [&](const RosterEntry& a, const RosterEntry& b) { return key(a) == key(b); });
  roster.agents.erase(last, roster.agents.end());
  roster.agents.shrink_to_fit();
}

}  // namespace presence::jobs
