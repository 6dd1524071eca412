#include "ctl/agent_calls.h"

#include "partition/partition_hash.h"
#include "store/keys.h"

namespace presence::ctl {
namespace keys = store::keys;

FunctionCall PutAgentCall(const AgentCallOptions& options, const store::PutAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options.partitions);
  return {"presence_agent_put",
          {keys::Agents(p), keys::Tombstones(p), keys::RosterRevision(p), keys::Events(p)},
          {c.tenant, c.agent, c.source, c.graph_user_id, c.labels_json, c.seq.value_or(""),
           c.if_match.value_or(""), std::to_string(options.events_maxlen)},
          false};
}

FunctionCall DeleteAgentCall(const AgentCallOptions& options, const store::DeleteAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options.partitions);
  return {"presence_agent_delete",
          {keys::Agents(p), keys::Tombstones(p), keys::RosterRevision(p), keys::Events(p)},
          {c.tenant, c.agent, c.seq.value_or(""), c.if_match.value_or(""),
           std::to_string(options.events_maxlen), std::to_string(options.tombstone_ms)},
          false};
}

FunctionCall GetAgentCall(uint32_t partitions, const std::string& tenant,
                          const std::string& agent) {
  uint32_t p = partition::PartitionOf(tenant, agent, partitions);
  return {"presence_agent_get", {keys::Agents(p)}, {tenant, agent}, true};
}

FunctionCall ListAgentsCall(uint32_t partition, const std::string& tenant,
                            const std::string& cursor, const std::string& after, uint32_t limit) {
  return {"presence_agent_list",
          {keys::Agents(partition)},
          {tenant, cursor, after, std::to_string(limit)},
          true};
}

std::string PutOutcome(const nlohmann::json& answer) {
  if (answer.value("created", false)) return "created";
  if (answer.value("changed", false)) return "updated";
  return "unchanged";
}

}  // namespace presence::ctl
