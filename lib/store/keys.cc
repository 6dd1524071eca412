#include "store/keys.h"

#include <fmt/format.h>

namespace presence::store::keys {

std::string Meta() { return "presence:{ctl}:meta"; }
std::string Members() { return "presence:{ctl}:members"; }
std::string Member(std::string_view id) { return fmt::format("presence:{{ctl}}:member:{}", id); }
std::string Leader() { return "presence:{ctl}:leader"; }
std::string Assignment() { return "presence:{ctl}:assignment"; }
std::string Draining() { return "presence:{ctl}:draining"; }
std::string Rebalance() { return "presence:{ctl}:rebalance"; }

std::string Lease(uint32_t p) { return fmt::format("presence:{{p{}}}:lease", p); }
std::string Agents(uint32_t p) { return fmt::format("presence:{{p{}}}:agents", p); }
std::string Tombstones(uint32_t p) { return fmt::format("presence:{{p{}}}:tombs", p); }
std::string RosterRevision(uint32_t p) { return fmt::format("presence:{{p{}}}:rev", p); }
std::string Events(uint32_t p) { return fmt::format("presence:{{p{}}}:events", p); }
std::string Job(uint32_t p) { return fmt::format("presence:{{p{}}}:job", p); }
std::string Idempotency(uint32_t p, std::string_view tenant, std::string_view agent,
                        std::string_view key) {
  return fmt::format("presence:{{p{}}}:idem:{}/{}:{}", p, tenant, agent, key);
}

std::string GraphToken(std::string_view t) { return fmt::format("presence:{{g:{}}}:token", t); }
std::string GraphBudget(std::string_view t) { return fmt::format("presence:{{g:{}}}:budget", t); }

std::string AgentField(std::string_view tenant, std::string_view agent) {
  return fmt::format("{}/{}", tenant, agent);
}

}  // namespace presence::store::keys
