#include "api/agent_commands.h"

namespace presence::api {

Task<Result<nlohmann::json>> StoreAgentCommands::Put(const store::PutAgentCommand& command) {
  co_return co_await store_.Put(command);
}

Task<Result<nlohmann::json>> StoreAgentCommands::Delete(const store::DeleteAgentCommand& command) {
  co_return co_await store_.Delete(command);
}

Task<Result<nlohmann::json>> StoreAgentCommands::Get(const std::string& tenant,
                                                     const std::string& agent) {
  co_return co_await store_.Get(tenant, agent);
}

Task<Result<nlohmann::json>> StoreAgentCommands::PushBatch(store::PresenceBatchCommand command) {
  co_return co_await store_.PushBatch(std::move(command));
}

Task<Result<nlohmann::json>> StoreAgentCommands::PushPresence(
    const store::PushPresenceCommand& command) {
  co_return co_await store_.PushPresence(command);
}

Task<Result<nlohmann::json>> StoreAgentCommands::List(const std::string& tenant,
                                                      const std::string& cursor, uint32_t limit) {
  co_return co_await store_.List(tenant, cursor, limit);
}

}  // namespace presence::api
