#pragma once

// An AgentCommands that answers from canned JSON and records what it was asked.

#include <optional>
#include <string>
#include <vector>

#include "api/agent_commands.h"

namespace presence::api::testing {

class FakeAgentCommands : public AgentCommands {
 public:
  // The next answer of every method; a failed Result simulates Redis being down.
  Result<nlohmann::json> answer = nlohmann::json{{"ok", true}};
  std::vector<std::string> calls;  // "put", "delete", ...
  std::optional<store::PutAgentCommand> last_put;
  std::optional<store::DeleteAgentCommand> last_delete;
  std::optional<store::PushPresenceCommand> last_push;
  std::optional<store::PresenceBatchCommand> last_batch;
  std::string last_cursor;
  uint32_t last_limit = 0;

  Task<Result<nlohmann::json>> Put(const store::PutAgentCommand& command) override {
    calls.push_back("put");
    last_put = command;
    co_return answer;
  }
  Task<Result<nlohmann::json>> Delete(const store::DeleteAgentCommand& command) override {
    calls.push_back("delete");
    last_delete = command;
    co_return answer;
  }
  Task<Result<nlohmann::json>> Get(const std::string&, const std::string&) override {
    calls.push_back("get");
    co_return answer;
  }
  Task<Result<nlohmann::json>> PushPresence(const store::PushPresenceCommand& command) override {
    calls.push_back("push");
    last_push = command;
    co_return answer;
  }
  Task<Result<nlohmann::json>> PushBatch(store::PresenceBatchCommand command) override {
    calls.push_back("push_batch");
    last_batch = command;
    co_return answer;
  }
  Task<Result<nlohmann::json>> List(const std::string&, const std::string& cursor,
                                    uint32_t limit) override {
    calls.push_back("list");
    last_cursor = cursor;
    last_limit = limit;
    co_return answer;
  }
};

// A stored record as presence_agent_put writes it.
inline nlohmann::json Record(uint64_t version, const char* seq = nullptr) {
  nlohmann::json record = {
      {"tenant", "contoso"},
      {"agent", "alice"},
      {"state", "registered"},
      {"version", version},
      {"source", "push"},
      {"graph_user_id", ""},
      {"labels", "{\"team\":\"x\"}"},
      {"created_at", 1714564800000ull},
      {"updated_at", 1714564801000ull},
      {"availability", "PresenceUnknown"},
      {"activity", "PresenceUnknown"},
      {"presence_at", 0},
      {"observed_at", 0},
      {"presence_source", "push"},
  };
  if (seq) record["seq"] = seq;
  return record;
}

}  // namespace presence::api::testing
