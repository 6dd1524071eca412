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
  CHECK(*page->agents[0].tenant == "t");
  CHECK(*page->agents[0].availability == "Available");
  CHECK(presence::jobs::GuidToText(page->agents[0].graph_user_id) ==
        "0f0e0d0c-0b0a-4909-8807-060504030201");
}

TEST_CASE("a GUID goes to 16 bytes and back in lower case") {
  auto bytes = presence::jobs::GuidToBytes("0F0E0D0C-0B0A-4909-8807-06050403020A");
  REQUIRE(bytes.has_value());
  CHECK((*bytes)[0] == 0x0f);
  CHECK((*bytes)[15] == 0x0a);
  CHECK(presence::jobs::GuidToText(*bytes) == "0f0e0d0c-0b0a-4909-8807-06050403020a");
  CHECK(!presence::jobs::GuidToBytes("0f0e0d0c0b0a4909880706050403020a").has_value());
  CHECK(!presence::jobs::GuidToBytes("0f0e0d0c-0b0a-4909-8807-06050403020g").has_value());
}

TEST_CASE("a roster row whose user id is not a GUID is counted and left out") {
  auto page = ParseRosterPage(
      json{{"ok", true},
           {"rev", 1},
           {"agents",
            json::array({Row("t", "a"), json::array({"t", "b", "not-a-guid", "Busy", "Busy"})})}});
  REQUIRE(page.ok());
  CHECK(page->agents.size() == 1);
  CHECK(page->skipped == 1);
}

TEST_CASE("interned text is stored once") {
  CHECK(presence::jobs::Intern("Busy") == presence::jobs::Intern(std::string("Bu") + "sy"));
  CHECK(*presence::jobs::Intern("Away") == "Away");
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
  roster.agents.push_back({presence::jobs::Intern("old"), "gone", {}, nullptr, nullptr});
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
  CHECK(*roster.agents[0].tenant == "s");
  CHECK(roster.agents[1].agent == "a");
  CHECK(roster.agents[2].agent == "b");
}
