#include "store/agent_store.h"

#include <charconv>

#include "partition/partition_hash.h"
#include "store/functions.h"
#include "store/keys.h"
#include "util/strings.h"

namespace presence::store {

namespace {

struct Cursor {
  uint32_t partition = 0;
  std::string after;
};

// A cursor is "PARTITION:LAST_AGENT"; ids never contain ':'.
std::optional<Cursor> ParseCursor(const std::string& text, uint32_t partitions) {
  if (text.empty()) return Cursor{};
  auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  Cursor cursor;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, cursor.partition);
  if (ec != std::errc() || end != text.data() + colon || cursor.partition >= partitions) {
    return std::nullopt;
  }
  cursor.after = text.substr(colon + 1);
  return cursor;
}

}  // namespace

AgentStore::AgentStore(RedisClient& redis, AgentStoreOptions options)
    : redis_(redis), options_(options) {}

Task<Result<nlohmann::json>> AgentStore::Put(const PutAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options_.partitions);
  co_return co_await Call(
      p, c.tenant, c.agent, "presence_agent_put",
      Strings(keys::Agents(p), keys::TenantIndex(p, c.tenant), keys::Tombstones(p),
              keys::RosterRevision(p), keys::Events(p)),
      Strings(c.tenant, c.agent, c.source, c.graph_user_id, c.labels_json, c.seq.value_or(""),
              c.if_match.value_or(""), std::to_string(options_.events_maxlen)),
      c.idempotency);
}

Task<Result<nlohmann::json>> AgentStore::Delete(const DeleteAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options_.partitions);
  co_return co_await Call(
      p, c.tenant, c.agent, "presence_agent_delete",
      Strings(keys::Agents(p), keys::TenantIndex(p, c.tenant), keys::Tombstones(p),
              keys::RosterRevision(p), keys::Events(p)),
      Strings(c.tenant, c.agent, c.seq.value_or(""), c.if_match.value_or(""),
              std::to_string(options_.events_maxlen), std::to_string(options_.tombstone_ms)),
      c.idempotency);
}

Task<Result<nlohmann::json>> AgentStore::Get(const std::string& tenant, const std::string& agent) {
  uint32_t p = partition::PartitionOf(tenant, agent, options_.partitions);
  co_return co_await CallFunction(redis_, "presence_agent_get", Strings(keys::Agents(p)),
                                  Strings(tenant, agent));
}

Task<Result<nlohmann::json>> AgentStore::PushPresence(const PushPresenceCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options_.partitions);
  co_return co_await Call(
      p, c.tenant, c.agent, "presence_push",
      Strings(keys::Agents(p), keys::Events(p), keys::Lease(p), keys::Job(p)),
      Strings(c.if_match.value_or(""), std::to_string(options_.events_maxlen), c.tenant, c.agent,
              c.availability, c.activity, std::to_string(c.observed_at_ms)),
      c.idempotency);
}

Task<Result<nlohmann::json>> AgentStore::Call(uint32_t partition, const std::string& tenant,
                                              const std::string& agent, std::string function,
                                              std::vector<std::string> keys,
                                              std::vector<std::string> args,
                                              const std::optional<Idempotency>& idempotency) {
  if (!idempotency) co_return co_await CallFunction(redis_, function, keys, args);

  // presence_once KEYS: its own key first; ARGV: command, fingerprint, retention first.
  keys.insert(keys.begin(), keys::Idempotency(partition, tenant, agent, idempotency->key));
  auto prefix =
      Strings(function, idempotency->fingerprint, std::to_string(options_.idempotency_ms));
  args.insert(args.begin(), prefix.begin(), prefix.end());
  co_return co_await CallFunction(redis_, "presence_once", std::move(keys), std::move(args));
}

Task<Result<nlohmann::json>> AgentStore::List(const std::string& tenant, const std::string& cursor,
                                              uint32_t limit) {
  auto position = ParseCursor(cursor, options_.partitions);
  if (!position) {
    co_return nlohmann::json{{"ok", false},
                             {"code", "bad_cursor"},
                             {"message", "cursor '" + cursor + "' is not one this API returned"}};
  }

  // Walk the partitions in order, each one's tenant index in id order.
  auto agents = nlohmann::json::array();
  nlohmann::json next = nullptr;
  for (uint32_t p = position->partition; p < options_.partitions; ++p) {
    auto remaining = limit - static_cast<uint32_t>(agents.size());
    auto after = p == position->partition ? position->after : std::string();
    auto page = co_await CallFunction(redis_, "presence_agent_list",
                                      Strings(keys::TenantIndex(p, tenant), keys::Agents(p)),
                                      Strings(after, std::to_string(remaining)));
    if (!page) co_return page.error();
    for (auto& agent : (*page)["agents"]) agents.push_back(std::move(agent));
    if (agents.size() >= limit) {
      bool more = page->value("more", false) || p + 1 < options_.partitions;
      if (more && !agents.empty()) {
        next = std::to_string(p) + ":" + agents.back().value("agent", "");
      }
      break;
    }
  }
  co_return nlohmann::json{{"ok", true}, {"agents", std::move(agents)}, {"next", next}};
}

}  // namespace presence::store
