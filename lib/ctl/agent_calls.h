#pragma once

#include <cstdint>
#include <string>

#include "ctl/function_client.h"
#include "store/agent_store.h"

// The Function calls of the agent commands, addressed to the agent's
// partition with the same keys and arguments as presenced uses
// (docs/redis-layout.md). Callers validate ids, GUIDs and seq first.
namespace presence::ctl {

// How presencectl writes: the same defaults as presenced.
struct AgentCallOptions {
  uint32_t partitions = 64;
  uint64_t events_maxlen = store::AgentStoreOptions{}.events_maxlen;
  uint64_t tombstone_ms = store::AgentStoreOptions{}.tombstone_ms;
};

FunctionCall PutAgentCall(const AgentCallOptions& options, const store::PutAgentCommand& command);
FunctionCall DeleteAgentCall(const AgentCallOptions& options,
                             const store::DeleteAgentCommand& command);
FunctionCall GetAgentCall(uint32_t partitions, const std::string& tenant, const std::string& agent);
// One page of a tenant's agents in one partition (presence_agent_list): from
// `cursor` and `after` ("0" and "" first, then the previous answer's).
FunctionCall ListAgentsCall(uint32_t partition, const std::string& tenant,
                            const std::string& cursor, const std::string& after, uint32_t limit);

// "created", "updated" or "unchanged" for an accepted put answer.
std::string PutOutcome(const nlohmann::json& answer);

}  // namespace presence::ctl
