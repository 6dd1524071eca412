#pragma once

#include <cstdint>
#include <string_view>

namespace presence::partition {

// The partition of an agent: XXH3_64bits(tenant + "/" + agent) mod partitions.
// Stable across versions and machines; documented in docs/redis-layout.md.
// Precondition: partitions > 0.
uint32_t PartitionOf(std::string_view tenant, std::string_view agent, uint32_t partitions);

}  // namespace presence::partition
