#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::store {

struct AgentStoreOptions {
  uint32_t partitions = 64;
  uint64_t events_maxlen = 1000000;               // per partition stream, approximate
  uint64_t tombstone_ms = 24ull * 3600 * 1000;    // how long a deregistration is remembered
  uint64_t idempotency_ms = 24ull * 3600 * 1000;  // how long a first outcome is replayed
};

// An Idempotency-Key and the fingerprint of the request that carried it.
// Keys are scoped to the agent the request addresses.
struct Idempotency {
  std::string key;
  std::string fingerprint;
};

// A register or update, already validated by the caller.
struct PutAgentCommand {
  std::string tenant;
  std::string agent;
  std::string source;                   // "graph" or "push"
  std::string graph_user_id;            // lower-case GUID for "graph", empty for "push"
  std::string labels_json;              // canonical JSON object text, "{}" when none
  std::optional<std::string> seq;       // decimal u64
  std::optional<std::string> if_match;  // a version, decimal
  std::optional<Idempotency> idempotency;
};

struct DeleteAgentCommand {
  std::string tenant;
  std::string agent;
  std::optional<std::string> seq;
  std::optional<std::string> if_match;
  std::optional<Idempotency> idempotency;
};

struct PushPresenceCommand {
  std::string tenant;
  std::string agent;
  std::string availability;  // normalised, see presence/presence_values.h
  std::string activity;
  uint64_t observed_at_ms = 0;
  std::optional<std::string> if_match;  // a version, decimal
  std::optional<Idempotency> idempotency;
};

// One item of a presence batch: the tenant is the batch's.
struct PresenceBatchItem {
  std::string agent;
  std::string availability;  // normalised, see presence/presence_values.h
  std::string activity;
  uint64_t observed_at_ms = 0;
};

struct PresenceBatchCommand {
  std::string tenant;
  std::vector<PresenceBatchItem> items;
};

// The agent commands of the REST API, each one Function call on the agent's
// partition. A command with an Idempotency-Key goes through presence_once,
// which stores its first answer and replays it (with "replayed":true) for
// the same request, or refuses another request with the same key
// (code "idempotency_key_reused"). Every method returns the Function's JSON answer as documented in
// docs/redis-layout.md ({"ok":true,...} or {"ok":false,"code":...}); a failed
// Result means Redis could not be asked (code "redis_unavailable") and
// nothing is known to have changed.
class AgentStore {
 public:
  AgentStore(RedisClient& redis, AgentStoreOptions options);

  Task<Result<nlohmann::json>> Put(const PutAgentCommand& command);
  Task<Result<nlohmann::json>> Delete(const DeleteAgentCommand& command);
  Task<Result<nlohmann::json>> Get(const std::string& tenant, const std::string& agent);
  Task<Result<nlohmann::json>> PushPresence(const PushPresenceCommand& command);

  // Pushed presence for many agents of one tenant: one presence_apply per
  // partition the items fall in, all sent at once (one round trip with the
  // pipelined client). Answer: {"ok":true,"changed":N,"unchanged":N,
  // "missing":N,"wrong_source":N,"stale_observation":N,"unreadable":N,
  // "results":[{"agent","outcome","version"?}...]} in item order. A failed
  // Result when any partition's call failed; the other partitions may have
  // applied theirs, which is safe because a resent batch changes nothing more.
  Task<Result<nlohmann::json>> PushBatch(PresenceBatchCommand command);

  // One page of a tenant's agents, partition by partition, each in hash order
  // (HSCAN: an agent registered during the whole listing is listed, perhaps
  // twice if its partition grew meanwhile). `cursor` is empty for the first
  // page or the "next" value of the previous answer.
  // Answer: {"ok":true,"agents":[REC...],"next":"<cursor>"|null}; a malformed
  // cursor gives {"ok":false,"code":"bad_cursor"}.
  Task<Result<nlohmann::json>> List(const std::string& tenant, const std::string& cursor,
                                    uint32_t limit);

  uint32_t partitions() const { return options_.partitions; }

 private:
  // Calls the command's Function, or presence_once around it.
  Task<Result<nlohmann::json>> Call(uint32_t partition, const std::string& tenant,
                                    const std::string& agent, std::string function,
                                    std::vector<std::string> keys, std::vector<std::string> args,
                                    const std::optional<Idempotency>& idempotency);

  RedisClient& redis_;
  AgentStoreOptions options_;
};

}  // namespace presence::store
