#include "store/agent_store.h"

#include <charconv>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "partition/partition_hash.h"
#include "store/functions.h"
#include "store/keys.h"
#include "util/strings.h"
#include "util/when_all.h"

namespace presence::store {

namespace {

// Where a listing goes on: a partition, its HSCAN cursor and the last agent
// id the previous page returned from that HSCAN step ("" for none).
struct Cursor {
  uint32_t partition = 0;
  uint64_t scan = 0;
  std::string after;
};

// Parses one decimal part of a cursor and the ':' after it.
template <typename T>
bool ParsePart(std::string_view& text, T& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return false;
  text.remove_prefix(end - text.data());
  if (text.empty() || text.front() != ':') return false;
  text.remove_prefix(1);
  return true;
}

// A cursor is "PARTITION:SCAN:AFTER" (decimal, decimal, an agent id or
// nothing; ids never hold ':'); empty is the start.
std::optional<Cursor> ParseCursor(const std::string& text, uint32_t partitions) {
  if (text.empty()) return Cursor{};
  Cursor cursor;
  std::string_view rest = text;
  // The Functions take integers of at most 15 digits (parse_int); an HSCAN
  // cursor never comes near that, so a longer one was not made by us.
  constexpr uint64_t kMaxScan = 999'999'999'999'999;
  if (!ParsePart(rest, cursor.partition) || !ParsePart(rest, cursor.scan) ||
      cursor.partition >= partitions || cursor.scan > kMaxScan ||
      rest.find(':') != std::string_view::npos) {
    return std::nullopt;
  }
  cursor.after = std::string(rest);
  return cursor;
}

}  // namespace

AgentStore::AgentStore(RedisClient& redis, AgentStoreOptions options)
    : redis_(redis), options_(options) {}

Task<Result<nlohmann::json>> AgentStore::Put(const PutAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options_.partitions);
  co_return co_await Call(
      p, c.tenant, c.agent, "presence_agent_put",
      Strings(keys::Agents(p), keys::Tombstones(p), keys::RosterRevision(p), keys::Events(p)),
      Strings(c.tenant, c.agent, c.source, c.graph_user_id, c.labels_json, c.seq.value_or(""),
              c.if_match.value_or(""), std::to_string(options_.events_maxlen)),
      c.idempotency);
}

Task<Result<nlohmann::json>> AgentStore::Delete(const DeleteAgentCommand& c) {
  uint32_t p = partition::PartitionOf(c.tenant, c.agent, options_.partitions);
  co_return co_await Call(
      p, c.tenant, c.agent, "presence_agent_delete",
      Strings(keys::Agents(p), keys::Tombstones(p), keys::RosterRevision(p), keys::Events(p)),
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

Task<Result<nlohmann::json>> AgentStore::PushBatch(PresenceBatchCommand c) {
  // The item indexes of each partition, in item order.
  std::map<uint32_t, std::vector<size_t>> by_partition;
  for (size_t i = 0; i < c.items.size(); ++i) {
    by_partition[partition::PartitionOf(c.tenant, c.items[i].agent, options_.partitions)].push_back(
        i);
  }
  std::vector<Task<Result<nlohmann::json>>> calls;
  for (const auto& [p, indexes] : by_partition) {
    auto args = Strings("", "", std::to_string(options_.events_maxlen), "push", "");
    args.reserve(args.size() + 5 * indexes.size());
    for (size_t i : indexes) {
      const PresenceBatchItem& item = c.items[i];
      for (auto& value : Strings(c.tenant, item.agent, item.availability, item.activity,
                                 std::to_string(item.observed_at_ms))) {
        args.push_back(std::move(value));
      }
    }
    calls.push_back(CallFunction(
        redis_, "presence_apply",
        Strings(keys::Agents(p), keys::Events(p), keys::Lease(p), keys::Job(p)), std::move(args)));
  }
  std::vector<Result<nlohmann::json>> answers = co_await WhenAll(std::move(calls));

  nlohmann::json out = {{"ok", true}};
  for (const char* count :
       {"changed", "unchanged", "missing", "wrong_source", "stale_observation", "unreadable"}) {
    out[count] = 0;
  }
  auto results = nlohmann::json::array();
  results.get_ref<nlohmann::json::array_t&>().resize(c.items.size());
  size_t call = 0;
  for (const auto& [p, indexes] : by_partition) {
    Result<nlohmann::json>& answer = answers[call++];
    if (!answer.ok()) co_return answer.error();
    if (!answer->value("ok", false)) co_return *answer;  // a refusal: a bug, reported as is
    for (auto& [name, value] : out.items()) {
      if (value.is_number()) value = value.get<uint64_t>() + answer->value(name, uint64_t{0});
    }
    const nlohmann::json& items = (*answer)["results"];
    for (size_t k = 0; k < indexes.size() && k < items.size(); ++k) {
      nlohmann::json result = {{"agent", c.items[indexes[k]].agent},
                               {"outcome", items[k].value("outcome", "")}};
      results[indexes[k]] = std::move(result);
    }
  }
  out["results"] = std::move(results);
  co_return out;
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

  // Walk the partitions in order, each one's agents in hash order (HSCAN).
  auto agents = nlohmann::json::array();
  nlohmann::json next = nullptr;
  Cursor at = *position;
  while (at.partition < options_.partitions) {
    auto remaining = limit - static_cast<uint32_t>(agents.size());
    auto page = co_await CallFunction(
        redis_, "presence_agent_list", Strings(keys::Agents(at.partition)),
        Strings(tenant, std::to_string(at.scan), at.after, std::to_string(remaining)));
    if (!page) co_return page.error();
    if (!page->value("ok", false)) co_return *page;
    for (auto& agent : (*page)["agents"]) agents.push_back(std::move(agent));
    if (page->value("done", true)) {
      at = Cursor{at.partition + 1, 0, ""};
    } else {
      at.scan = std::strtoull(page->value("cursor", "0").c_str(), nullptr, 10);
      at.after = page->value("after", "");
    }
    if (agents.size() >= limit) {
      if (at.partition < options_.partitions) {
        next = fmt::format("{}:{}:{}", at.partition, at.scan, at.after);
      }
      break;
    }
  }
  co_return nlohmann::json{{"ok", true}, {"agents", std::move(agents)}, {"next", next}};
}

}  // namespace presence::store
