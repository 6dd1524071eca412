#include <catch2/catch.hpp>

#include "presence/roster.h"

using nlohmann::json;
using presence::jobs::AddRosterPage;
using presence::jobs::FinishRoster;
using presence::jobs::ParseRosterPage;
using presence::jobs::PartitionRoster;

namespace {

json Row(const std::string& tenant, const std::string& agent) {
  return json::array(
      {tenant, agent, "0f0e0d0c-0b0a-4909-8807-060504030201", "Available", "Available"});
}

}  // namespace

TEST_CASE("a roster page carries its revision, cursor and rows") {
  auto page = ParseRosterPage(
      json{{"ok", true}, {"rev", 7}, {"cursor", "1536"}, {"agents", json::array({Row("t", "a")})}});
  REQUIRE(page.ok());
  CHECK(page->revision == 7);
  CHECK(page->cursor == "1536");
  REQUIRE(page->agents.size() == 1);
  CHECK(page->agents[0].agent == "a");
}

TEST_CASE("an answer of a library without pages is one last page") {
  auto page = ParseRosterPage(json{{"ok", true}, {"rev", 2}, {"agents", json::array()}});
  REQUIRE(page.ok());
  CHECK(page->cursor == "0");
}

TEST_CASE("a roster page with a malformed cursor or row is refused") {
  CHECK(!ParseRosterPage(json{{"ok", true}, {"rev", 1}, {"cursor", 5}, {"agents", json::array()}})
             .ok());
  CHECK(!ParseRosterPage(json{{"ok", true}, {"rev", 1}, {"cursor", ""}, {"agents", json::array()}})
             .ok());
  CHECK(!ParseRosterPage(
             json{{"ok", true}, {"rev", 1}, {"agents", json::array({json::array({"t"})})}})
             .ok());
  CHECK(!ParseRosterPage(json{{"ok", false}}).ok());
}

TEST_CASE("pages make one roster with the first page's revision, each agent once") {
  PartitionRoster roster;
  roster.agents.push_back({"old", "gone", "", "", ""});
  auto first = ParseRosterPage(json{{"ok", true},
                                    {"rev", 3},
                                    {"cursor", "9"},
                                    {"agents", json::array({Row("t", "b"), Row("t", "a")})}});
  auto second = ParseRosterPage(json{{"ok", true},
                                     {"rev", 4},
                                     {"cursor", "0"},
                                     {"agents", json::array({Row("t", "a"), Row("s", "z")})}});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  AddRosterPage(roster, std::move(*first), true);
  AddRosterPage(roster, std::move(*second), false);
  FinishRoster(roster);
  // Revision 3: the change during the read moved it to 4, so the next round reads again.
  CHECK(roster.revision == 3);
  REQUIRE(roster.agents.size() == 3);
  CHECK(roster.agents[0].tenant == "s");
  CHECK(roster.agents[1].agent == "a");
  CHECK(roster.agents[2].agent == "b");
}
