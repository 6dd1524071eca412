#include "ctl/event_tail.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "ctl/output.h"
#include "store/keys.h"

namespace presence::ctl {
namespace {

constexpr size_t kBatch = 500;      // entries per XRANGE/XREVRANGE while filtering
constexpr int64_t kBlockMs = 5000;  // XREAD BLOCK; the loop simply asks again
constexpr uint32_t kWindow = 256;   // partitions per pipelined round trip

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Error ReplyError(const RedisConnection& redis, const std::string& what,
                 const store::RedisReply& reply) {
  return MakeError("redis_error",
                   fmt::format("redis {}: {}: {}", redis.endpoint().ToString(), what, reply.str));
}

// One stream entry [id, [field, value, ...]] as an Event.
Event ToEvent(uint32_t partition, const store::RedisReply& entry) {
  Event event;
  event.partition = partition;
  if (entry.elements.size() < 2) return event;
  event.id = StreamId::Parse(entry.elements[0].str).value_or(StreamId{});
  const auto& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "type") event.type = value;
    if (name == "tenant") event.tenant = value;
    if (name == "agent") event.agent = value;
    if (name == "version") event.version = value;
    if (name == "at") event.at = value;
    if (name == "data") event.data = value;
  }
  return event;
}

bool Matches(const EventQuery& query, const Event& event) {
  return query.tenant.empty() || event.tenant == query.tenant;
}

// Reads up to `wanted` matching events of one partition, starting with the
// reply already in hand and paging on with single commands. `reverse` reads
// newest first (XREVRANGE).
Status CollectPartition(RedisConnection& redis, const EventQuery& query, uint32_t p, bool reverse,
                        store::RedisReply first, std::vector<Event>& out) {
  size_t found = 0;
  store::RedisReply reply = std::move(first);
  while (true) {
    if (reply.is_error()) return ReplyError(redis, store::keys::Events(p), reply);
    for (const auto& entry : reply.elements) {
      Event event = ToEvent(p, entry);
      if (!Matches(query, event)) continue;
      out.push_back(std::move(event));
      if (++found == query.count) return Ok{};
    }
    // A short page is the end of the stream; a filter may need more pages.
    if (reply.elements.size() < kBatch || query.tenant.empty()) return Ok{};
    std::string last = "(" + reply.elements.back().elements[0].str;
    std::vector<std::string> command =
        reverse ? std::vector<std::string>{"XREVRANGE", store::keys::Events(p), last, "-",
                                           "COUNT",     std::to_string(kBatch)}
                : std::vector<std::string>{"XRANGE", store::keys::Events(p), last, "+",
                                           "COUNT",  std::to_string(kBatch)};
    Result<store::RedisReply> next = redis.Command(command);
    if (!next) return next.error();
    reply = std::move(*next);
  }
}

// The first page of every partition (pipelined per window), then paging for
// filtered reads. `range(p)` gives the first command of partition p.
Result<std::vector<Event>> Collect(RedisConnection& redis, const EventQuery& query, bool reverse,
                                   const std::function<std::vector<std::string>(uint32_t)>& range,
                                   std::vector<StreamId>* newest) {
  std::vector<Event> events;
  for (uint32_t begin = 0; begin < query.partitions; begin += kWindow) {
    uint32_t end = std::min(query.partitions, begin + kWindow);
    for (uint32_t p = begin; p < end; ++p) {
      if (Status queued = redis.Append(range(p)); !queued) return queued.error();
    }
    std::vector<store::RedisReply> firsts;
    for (uint32_t p = begin; p < end; ++p) {
      Result<store::RedisReply> reply = redis.ReadReply();
      if (!reply) return reply.error();
      firsts.push_back(std::move(*reply));
    }
    for (uint32_t p = begin; p < end; ++p) {
      store::RedisReply& first = firsts[p - begin];
      if (newest != nullptr && !first.elements.empty() && !first.elements[0].elements.empty()) {
        (*newest)[p] = StreamId::Parse(first.elements[0].elements[0].str).value_or(StreamId{});
      }
      if (Status read = CollectPartition(redis, query, p, reverse, std::move(first), events);
          !read) {
        return read.error();
      }
    }
  }
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.id < b.id; });
  return events;
}

size_t FirstPage(const EventQuery& query) {
  return query.tenant.empty() ? std::max<size_t>(query.count, 1) : kBatch;
}

}  // namespace

std::optional<StreamId> StreamId::Parse(std::string_view text) {
  size_t dash = text.find('-');
  std::optional<uint64_t> ms = ParseU64(text.substr(0, dash));
  std::optional<uint64_t> seq =
      dash == std::string_view::npos ? std::optional<uint64_t>(0) : ParseU64(text.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return StreamId{*ms, *seq};
}

std::string StreamId::ToString() const { return fmt::format("{}-{}", ms, seq); }

StreamId StreamId::Previous() const {
  if (seq > 0) return {ms, seq - 1};
  if (ms > 0) return {ms - 1, std::numeric_limits<uint64_t>::max()};
  return {0, 0};
}

nlohmann::json Event::ToJson() const {
  nlohmann::json data_json = nlohmann::json::parse(data, nullptr, false);
  if (data_json.is_discarded()) data_json = data;
  nlohmann::json object = {{"id", id.ToString()}, {"partition", partition}, {"type", type},
                           {"tenant", tenant},    {"agent", agent},         {"data", data_json}};
  object["version"] =
      ParseU64(version) ? nlohmann::json(*ParseU64(version)) : nlohmann::json(version);
  object["at"] = ParseU64(at) ? nlohmann::json(*ParseU64(at)) : nlohmann::json(at);
  return object;
}

std::string Event::ToLine() const {
  return fmt::format("{}  p{}  {}  {}/{}  v{}  {}", id.ToString(), partition, type, tenant, agent,
                     version, data);
}

Result<std::vector<Event>> ReadLastEvents(RedisConnection& redis, const EventQuery& query,
                                          std::vector<StreamId>& last_ids) {
  last_ids.assign(query.partitions, StreamId{});
  std::string page = std::to_string(FirstPage(query));
  Result<std::vector<Event>> events = Collect(
      redis, query, /*reverse=*/true,
      [&](uint32_t p) {
        return std::vector<std::string>{"XREVRANGE", store::keys::Events(p), "+", "-", "COUNT",
                                        page};
      },
      &last_ids);
  if (!events) return events;
  if (events->size() > query.count) {
    events->erase(events->begin(), events->end() - static_cast<ptrdiff_t>(query.count));
  }
  return events;
}

Result<std::vector<Event>> ReadEventsFrom(RedisConnection& redis, const EventQuery& query,
                                          StreamId from) {
  std::string page = std::to_string(FirstPage(query));
  Result<std::vector<Event>> events = Collect(
      redis, query, /*reverse=*/false,
      [&](uint32_t p) {
        return std::vector<std::string>{
            "XRANGE", store::keys::Events(p), from.ToString(), "+", "COUNT", page};
      },
      nullptr);
  if (!events) return events;
  if (events->size() > query.count) events->resize(query.count);
  return events;
}

Status FollowEvents(RedisConnection& redis, const EventQuery& query, std::vector<StreamId> after,
                    const std::function<bool(const Event&)>& sink) {
  if (Status set = redis.SetTimeout(std::chrono::milliseconds(kBlockMs + 5000)); !set) return set;
  std::unordered_map<std::string, uint32_t> partition_of;
  for (uint32_t p = 0; p < query.partitions; ++p) partition_of[store::keys::Events(p)] = p;

  while (true) {
    std::vector<std::string> command = {
        "XREAD", "COUNT", "1000", "BLOCK", std::to_string(kBlockMs), "STREAMS"};
    for (uint32_t p = 0; p < query.partitions; ++p) command.push_back(store::keys::Events(p));
    for (uint32_t p = 0; p < query.partitions; ++p) command.push_back(after[p].ToString());
    Result<store::RedisReply> reply = redis.Command(command);
    if (!reply) return reply.error();
    if (reply->is_error()) return ReplyError(redis, "XREAD", *reply);

    // [[key, [entry...]]...]; nil when the block timed out.
    std::vector<Event> batch;
    for (const auto& stream : reply->elements) {
      if (stream.elements.size() < 2) continue;
      auto it = partition_of.find(stream.elements[0].str);
      if (it == partition_of.end()) continue;
      for (const auto& entry : stream.elements[1].elements) {
        Event event = ToEvent(it->second, entry);
        after[it->second] = std::max(after[it->second], event.id);
        if (Matches(query, event)) batch.push_back(std::move(event));
      }
    }
    std::sort(batch.begin(), batch.end(),
              [](const Event& a, const Event& b) { return a.id < b.id; });
    for (const Event& event : batch) {
      if (!sink(event)) return Ok{};
    }
  }
}

}  // namespace presence::ctl
