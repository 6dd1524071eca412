#include "partition/partition_hash.h"

#include <string>
#include <vector>

#include <xxhash.h>

#include <catch2/catch.hpp>

namespace presence::partition {
namespace {

TEST_CASE("the hash is xxHash XXH3_64bits with seed 0", "[partition]") {
  // The reference value of XXH3_64bits for empty input, from the xxHash spec.
  CHECK(XXH3_64bits("", 0) == 0x2D06800538D394C2ULL);
}

TEST_CASE("PartitionOf gives the pinned values for known agents", "[partition]") {
  // Computed once with XXH3_64bits("tenant/agent"); a change here moves every
  // agent of every deployment to another partition.
  CHECK(PartitionOf("contoso", "alice", 64) == 55);
  CHECK(PartitionOf("contoso", "bob", 64) == 52);
  CHECK(PartitionOf("fabrikam", "agent-1", 64) == 1);
  CHECK(PartitionOf("t", "a", 64) == 6);
  CHECK(PartitionOf("tenant-42", "user@example.com", 64) == 14);
  CHECK(PartitionOf("contoso", "alice", 4096) == 695);
  CHECK(PartitionOf("contoso", "bob", 4096) == 3636);
  CHECK(PartitionOf("tenant-42", "user@example.com", 7) == 3);
}

TEST_CASE("PartitionOf is stable across calls", "[partition]") {
  for (int i = 0; i < 100; ++i) {
    const std::string agent = "agent-" + std::to_string(i);
    CHECK(PartitionOf("contoso", agent, 64) == PartitionOf("contoso", agent, 64));
  }
}

TEST_CASE("PartitionOf separates tenant and agent with a slash", "[partition]") {
  const std::string joined = "contoso/alice";
  const uint64_t hash = XXH3_64bits(joined.data(), joined.size());
  CHECK(PartitionOf("contoso", "alice", 1000) == hash % 1000);
}

TEST_CASE("PartitionOf stays in range", "[partition]") {
  for (uint32_t partitions : {1u, 2u, 7u, 64u, 4096u}) {
    for (int i = 0; i < 1000; ++i) {
      const uint32_t p = PartitionOf("tenant", "agent-" + std::to_string(i), partitions);
      REQUIRE(p < partitions);
    }
  }
  CHECK(PartitionOf("any", "agent", 1) == 0);
}

TEST_CASE("PartitionOf spreads 10000 agents roughly evenly over 64 partitions", "[partition]") {
  constexpr uint32_t kPartitions = 64;
  constexpr int kAgents = 10000;
  std::vector<int> counts(kPartitions, 0);
  for (int i = 0; i < kAgents; ++i) {
    ++counts[PartitionOf("tenant-" + std::to_string(i % 10), "agent-" + std::to_string(i),
                         kPartitions)];
  }

  // 156.25 per partition expected, standard deviation about 12.4: allow 4 sigma.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    INFO("partition " << p << " holds " << counts[p]);
    CHECK(counts[p] > 106);
    CHECK(counts[p] < 206);
  }

  // And overall: a chi-squared statistic far below what a skewed hash gives
  // (63 degrees of freedom: mean 63, the 99.9th percentile is about 104).
  double chi_squared = 0;
  const double expected = static_cast<double>(kAgents) / kPartitions;
  for (int count : counts) chi_squared += (count - expected) * (count - expected) / expected;
  CHECK(chi_squared < 104);
}

}  // namespace
}  // namespace presence::partition
