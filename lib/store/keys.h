#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Names of every Redis key of the service; the layout is documented in
// docs/redis-layout.md. Keys of one partition share the hash tag {pN}.
namespace presence::store::keys {

std::string Meta();
std::string Members();
std::string Member(std::string_view instance_id);
std::string Leader();
std::string Assignment();
std::string Draining();   // set of instance ids drained by `presencectl drain`
std::string Rebalance();  // hash of the last `presencectl rebalance` request and its answer

std::string Lease(uint32_t partition);
std::string Agents(uint32_t partition);
std::string Tombstones(uint32_t partition);
std::string RosterRevision(uint32_t partition);
std::string Events(uint32_t partition);
std::string Job(uint32_t partition);
std::string Idempotency(uint32_t partition, std::string_view tenant, std::string_view agent,
                        std::string_view key);

std::string GraphToken(std::string_view tenant);
std::string GraphBudget(std::string_view tenant);

// The field of an agent in the partition's agents hash: "tenant/agent".
std::string AgentField(std::string_view tenant, std::string_view agent);

}  // namespace presence::store::keys
