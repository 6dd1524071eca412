#include "ctl/event_replay.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>
#include <regex>

#include <fmt/format.h>

#include "store/keys.h"

namespace presence::ctl {
namespace {

constexpr size_t kPage = 1000;  // entries per XRANGE

Error ReplyError(const RedisConnection& redis, const std::string& what,
                 const store::RedisReply& reply) {
  return MakeError("redis_error",
                   fmt::format("redis {}: {}: {}", redis.endpoint().ToString(), what, reply.str));
}

int ToInt(const std::string& text) { return text.empty() ? 0 : std::stoi(text); }

// RFC 3339 date-time to ms since the epoch.
std::optional<uint64_t> ParseRfc3339(std::string_view text) {
  static const std::regex kPattern(R"(^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?)"
                                   R"(([Zz]|([+-])(\d{2}):(\d{2}))$)");
  std::cmatch m;
  if (!std::regex_match(text.begin(), text.end(), m, kPattern)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = ToInt(m[1]) - 1900;
  tm.tm_mon = ToInt(m[2]) - 1;
  tm.tm_mday = ToInt(m[3]);
  tm.tm_hour = ToInt(m[4]);
  tm.tm_min = ToInt(m[5]);
  tm.tm_sec = ToInt(m[6]);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  int64_t seconds = timegm(&tm);
  if (m[9].matched) {
    int64_t offset = ToInt(m[10]) * 3600 + ToInt(m[11]) * 60;
    seconds -= m[9] == "+" ? offset : -offset;
  }
  int64_t ms = 0;
  if (m[7].matched) {
    std::string fraction = std::string(m[7]).substr(1) + "00";
    ms = ToInt(fraction.substr(0, 3));
  }
  if (seconds < 0) return std::nullopt;
  return static_cast<uint64_t>(seconds) * 1000 + static_cast<uint64_t>(ms);
}

}  // namespace

std::optional<StreamId> ParsePosition(std::string_view text, bool end) {
  if (std::optional<uint64_t> ms = ParseRfc3339(text)) {
    return StreamId{*ms, end ? std::numeric_limits<uint64_t>::max() : 0};
  }
  std::optional<StreamId> id = StreamId::Parse(text);
  if (id && end && text.find('-') == std::string_view::npos) {
    id->seq = std::numeric_limits<uint64_t>::max();
  }
  return id;
}

Result<GroupReplay> ReplayIntoGroup(RedisConnection& redis, uint32_t partitions,
                                    const std::string& group, StreamId from) {
  GroupReplay replay;
  replay.partitions = partitions;
  const std::string before = from.Previous().ToString();
  for (uint32_t p = 0; p < partitions; ++p) {
    std::string key = store::keys::Events(p);
    Result<store::RedisReply> created =
        redis.Command({"XGROUP", "CREATE", key, group, before, "MKSTREAM"});
    if (!created) return created.error();
    if (created->is_error() && created->str.rfind("BUSYGROUP", 0) == 0) {
      Result<store::RedisReply> moved = redis.Command({"XGROUP", "SETID", key, group, before});
      if (!moved) return moved.error();
      if (moved->is_error()) return ReplyError(redis, "XGROUP SETID " + key, *moved);
      ++replay.reset;
    } else if (created->is_error()) {
      return ReplyError(redis, "XGROUP CREATE " + key, *created);
    } else {
      ++replay.created;
    }

    // What the group will deliver: the entries from `from` on.
    std::string start = from.ToString();
    while (true) {
      Result<store::RedisReply> page =
          redis.Command({"XRANGE", key, start, "+", "COUNT", std::to_string(kPage)});
      if (!page) return page.error();
      if (page->is_error()) return ReplyError(redis, "XRANGE " + key, *page);
      replay.delivered += page->elements.size();
      if (page->elements.size() < kPage) break;
      start = "(" + page->elements.back().elements[0].str;
    }
  }
  return replay;
}

Status CheckReplayTarget(const std::string& stream) {
  constexpr std::string_view kService = "presence:";
  constexpr std::string_view kReplays = "presence:replay:";
  if (stream.empty()) return MakeError("bad_target", "--into needs a stream name");
  for (unsigned char c : stream) {
    if (c <= ' ' || c == 0x7f) {
      return MakeError("bad_target",
                       fmt::format("--into {:?} holds a space or control character", stream));
    }
  }
  if (stream.starts_with(kService) &&
      (!stream.starts_with(kReplays) || stream.size() == kReplays.size())) {
    return MakeError("bad_target",
                     fmt::format("--into {} is under presence:, where the service keeps its "
                                 "state; copy into presence:replay:NAME or a key of your own",
                                 stream));
  }
  return Ok{};
}

Result<CopyReplay> ReplayIntoStream(RedisConnection& redis, uint32_t partitions,
                                    const CopyRange& range, const std::string& stream) {
  struct Entry {
    StreamId id;
    uint32_t partition;
    std::vector<std::string> fields;
  };
  std::vector<Entry> selected;
  CopyReplay replay;
  replay.per_partition.assign(partitions, 0);
  const std::string end = range.to ? range.to->ToString() : "+";
  for (uint32_t p = 0; p < partitions; ++p) {
    std::string key = store::keys::Events(p);
    std::string start = range.from.ToString();
    while (true) {
      Result<store::RedisReply> page =
          redis.Command({"XRANGE", key, start, end, "COUNT", std::to_string(kPage)});
      if (!page) return page.error();
      if (page->is_error()) return ReplyError(redis, "XRANGE " + key, *page);
      for (const store::RedisReply& item : page->elements) {
        if (item.elements.size() < 2) continue;
        ++replay.scanned;
        Entry entry{StreamId::Parse(item.elements[0].str).value_or(StreamId{}), p, {}};
        std::string tenant;
        for (size_t i = 0; i + 1 < item.elements[1].elements.size(); i += 2) {
          const std::string& name = item.elements[1].elements[i].str;
          const std::string& value = item.elements[1].elements[i + 1].str;
          if (name == "tenant") tenant = value;
          entry.fields.push_back(name);
          entry.fields.push_back(value);
        }
        if (!range.tenant.empty() && tenant != range.tenant) continue;
        selected.push_back(std::move(entry));
      }
      if (page->elements.size() < kPage) break;
      start = "(" + page->elements.back().elements[0].str;
    }
  }
  std::sort(selected.begin(), selected.end(), [](const Entry& a, const Entry& b) {
    return a.id != b.id ? a.id < b.id : a.partition < b.partition;
  });

  // Pipelined in pages; the order of XADD is the order of the copy.
  for (size_t begin = 0; begin < selected.size(); begin += kPage) {
    size_t stop = std::min(selected.size(), begin + kPage);
    for (size_t i = begin; i < stop; ++i) {
      std::vector<std::string> command = {"XADD", stream, "*"};
      command.insert(command.end(), selected[i].fields.begin(), selected[i].fields.end());
      command.insert(command.end(), {"source_id", selected[i].id.ToString(), "partition",
                                     std::to_string(selected[i].partition)});
      if (Status queued = redis.Append(command); !queued) return queued.error();
    }
    for (size_t i = begin; i < stop; ++i) {
      Result<store::RedisReply> added = redis.ReadReply();
      if (!added) return added.error();
      if (added->is_error()) {
        return MakeError("redis_error",
                         fmt::format("redis {}: XADD {}: {} ({} of {} events copied)",
                                     redis.endpoint().ToString(), stream, added->str, replay.copied,
                                     selected.size()));
      }
      ++replay.copied;
      ++replay.per_partition[selected[i].partition];
    }
  }
  return replay;
}

}  // namespace presence::ctl
