#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "store/agent_store.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::api {

// What the agent routes need from the store: the methods of
// store::AgentStore, behind an interface so that the routes can be tested
// with a fake. Answers are the Functions' JSON as documented in
// docs/redis-layout.md; a failed Result means Redis could not be asked.
class AgentCommands {
 public:
  virtual ~AgentCommands() = default;

  virtual Task<Result<nlohmann::json>> Put(const store::PutAgentCommand& command) = 0;
  virtual Task<Result<nlohmann::json>> Delete(const store::DeleteAgentCommand& command) = 0;
  virtual Task<Result<nlohmann::json>> Get(const std::string& tenant, const std::string& agent) = 0;
  virtual Task<Result<nlohmann::json>> PushPresence(const store::PushPresenceCommand& command) = 0;
  virtual Task<Result<nlohmann::json>> PushBatch(store::PresenceBatchCommand command) = 0;
  virtual Task<Result<nlohmann::json>> List(const std::string& tenant, const std::string& cursor,
                                            uint32_t limit) = 0;
};

// AgentCommands served by a store::AgentStore, which must outlive it.
class StoreAgentCommands final : public AgentCommands {
 public:
  explicit StoreAgentCommands(store::AgentStore& store) : store_(store) {}

  Task<Result<nlohmann::json>> Put(const store::PutAgentCommand& command) override;
  Task<Result<nlohmann::json>> Delete(const store::DeleteAgentCommand& command) override;
  Task<Result<nlohmann::json>> Get(const std::string& tenant, const std::string& agent) override;
  Task<Result<nlohmann::json>> PushPresence(const store::PushPresenceCommand& command) override;
  Task<Result<nlohmann::json>> PushBatch(store::PresenceBatchCommand command) override;
  Task<Result<nlohmann::json>> List(const std::string& tenant, const std::string& cursor,
                                    uint32_t limit) override;

 private:
  store::AgentStore& store_;
};

}  // namespace presence::api
