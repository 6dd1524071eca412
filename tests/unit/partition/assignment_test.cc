#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "partition/assignment.h"

using presence::partition::Assignment;
using presence::partition::ComputeAssignment;
using presence::partition::CountMoves;

namespace {

std::map<std::string, uint32_t> Counts(const Assignment& a) {
  std::map<std::string, uint32_t> counts;
  for (const auto& owner : a) ++counts[owner];
  return counts;
}

void RequireBalanced(const Assignment& a, uint32_t partitions, size_t members) {
  auto counts = Counts(a);
  REQUIRE(counts.size() == members);
  for (const auto& [owner, n] : counts) {
    REQUIRE(!owner.empty());
    REQUIRE(n >= partitions / members);
    REQUIRE(n <= (partitions + members - 1) / members);
  }
}

}  // namespace

TEST_CASE("every member gets the floor or ceiling of P/N", "[assignment]") {
  for (uint32_t partitions : {1u, 7u, 16u, 64u, 100u}) {
    for (size_t n = 1; n <= 7 && n <= partitions; ++n) {
      std::vector<std::string> members;
      for (size_t i = 0; i < n; ++i) members.push_back("m" + std::to_string(i));
      RequireBalanced(ComputeAssignment(partitions, members, {}), partitions, n);
    }
  }
}

TEST_CASE("a member that leaves moves only its own partitions", "[assignment]") {
  auto before = ComputeAssignment(64, {"a", "b", "c", "d"}, {});
  auto after = ComputeAssignment(64, {"a", "b", "d"}, before);
  RequireBalanced(after, 64, 3);
  REQUIRE(CountMoves(before, after) == 16);  // exactly c's share
  for (size_t p = 0; p < 64; ++p) {
    if (before[p] != "c") REQUIRE(after[p] == before[p]);
  }
}

TEST_CASE("a member that joins takes about P/N partitions and no more", "[assignment]") {
  auto before = ComputeAssignment(64, {"a", "b", "c"}, {});
  auto after = ComputeAssignment(64, {"a", "b", "c", "d"}, before);
  RequireBalanced(after, 64, 4);
  REQUIRE(CountMoves(before, after) == 16);
  REQUIRE(Counts(after)["d"] == 16);
}

TEST_CASE("the same inputs give the same assignment on every instance", "[assignment]") {
  auto one = ComputeAssignment(64, {"a", "b", "c"}, {});
  auto two = ComputeAssignment(64, {"a", "b", "c"}, {});
  REQUIRE(one == two);
  REQUIRE(ComputeAssignment(64, {"a", "b", "c"}, one) == one);
}

TEST_CASE("no members leaves every partition without a target", "[assignment]") {
  auto a = ComputeAssignment(8, {}, {});
  REQUIRE(std::all_of(a.begin(), a.end(), [](const auto& o) { return o.empty(); }));
}
