#include "partition/partition_hash.h"

#include <string>

#include <xxhash.h>

namespace presence::partition {

uint32_t PartitionOf(std::string_view tenant, std::string_view agent, uint32_t partitions) {
  std::string input;
  input.reserve(tenant.size() + 1 + agent.size());
  input.append(tenant).append("/").append(agent);
  return static_cast<uint32_t>(XXH3_64bits(input.data(), input.size()) % partitions);
}

}  // namespace presence::partition
