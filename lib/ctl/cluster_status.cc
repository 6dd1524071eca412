#include "ctl/cluster_status.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "store/keys.h"

namespace presence::ctl {
namespace {

constexpr uint32_t kWindow = 256;  // partitions per pipelined round trip

using Hash = std::map<std::string, std::string>;

Error ReplyError(const RedisConnection& redis, const std::string& what,
                 const store::RedisReply& reply) {
  return MakeError("redis_error",
                   fmt::format("redis {}: {}: {}", redis.endpoint().ToString(), what, reply.str));
}

int64_t ToInt(const std::string& text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Hash ToHash(const store::RedisReply& reply) {
  Hash hash;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    hash[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return hash;
}

std::string Get(const Hash& hash, const std::string& field) {
  auto it = hash.find(field);
  return it == hash.end() ? std::string() : it->second;
}

// Fills one partition from its four replies: lease, job, HLEN, ZCARD.
PartitionStatus ToStatus(uint32_t p, int64_t now, const Hash& assignment,
                         const store::RedisReply* replies) {
  PartitionStatus status;
  status.partition = p;
  Hash lease = ToHash(replies[0]);
  Hash job = ToHash(replies[1]);
  status.lease_holder = Get(lease, "instance");
  status.epoch = ToInt(Get(lease, "epoch"));
  if (!lease.empty()) {
    status.lease_expires_in_ms = ToInt(Get(lease, "expires_at")) - now;
    if (*status.lease_expires_in_ms > 0) status.owner = status.lease_holder;
  }
  status.agents = std::max<int64_t>(0, replies[2].integer - replies[3].integer);
  if (int64_t polled = ToInt(Get(job, "last_poll_at")); polled > 0) {
    status.last_poll_age_ms = now - polled;
  }
  status.last_poll_agents = ToInt(Get(job, "last_poll_agents"));
  status.target = Get(assignment, fmt::format("p{}", p));
  return status;
}

}  // namespace

Result<int64_t> RedisTimeMs(RedisConnection& redis) {
  Result<store::RedisReply> reply = redis.Command({"TIME"});
  if (!reply) return reply.error();
  if (reply->is_error() || reply->elements.size() != 2) return ReplyError(redis, "TIME", *reply);
  return ToInt(reply->elements[0].str) * 1000 + ToInt(reply->elements[1].str) / 1000;
}

Result<ClusterStatus> ReadClusterStatus(RedisConnection& redis, uint32_t partitions) {
  ClusterStatus status;
  Result<int64_t> now = RedisTimeMs(redis);
  if (!now) return now.error();
  status.now_ms = *now;
  Result<store::RedisReply> assignment_reply =
      redis.Command({"HGETALL", store::keys::Assignment()});
  if (!assignment_reply) return assignment_reply.error();
  if (assignment_reply->is_error()) return ReplyError(redis, "HGETALL", *assignment_reply);
  Hash assignment = ToHash(*assignment_reply);
  status.assignment_generation = ToInt(Get(assignment, "generation"));

  for (uint32_t begin = 0; begin < partitions; begin += kWindow) {
    uint32_t end = std::min(partitions, begin + kWindow);
    for (uint32_t p = begin; p < end; ++p) {
      for (const auto& command :
           std::vector<std::vector<std::string>>{{"HGETALL", store::keys::Lease(p)},
                                                 {"HGETALL", store::keys::Job(p)},
                                                 {"HLEN", store::keys::Agents(p)},
                                                 {"ZCARD", store::keys::Tombstones(p)}}) {
        if (Status queued = redis.Append(command); !queued) return queued.error();
      }
    }
    for (uint32_t p = begin; p < end; ++p) {
      store::RedisReply replies[4];
      for (auto& reply : replies) {
        Result<store::RedisReply> read = redis.ReadReply();
        if (!read) return read.error();
        reply = std::move(*read);
      }
      // All four replies are read first, so the next partition starts in step.
      for (const auto& reply : replies) {
        if (reply.is_error()) return ReplyError(redis, fmt::format("partition {}", p), reply);
      }
      status.partitions.push_back(ToStatus(p, status.now_ms, assignment, replies));
    }
  }
  return status;
}

std::map<std::string, int> OwnerCounts(const ClusterStatus& status) {
  std::map<std::string, int> counts;
  for (const PartitionStatus& p : status.partitions) ++counts[p.owner];
  return counts;
}

std::string FormatOwnerSummary(const ClusterStatus& status) {
  std::map<std::string, int> counts = OwnerCounts(status);
  std::string owners;
  int unowned = 0;
  for (const auto& [owner, count] : counts) {
    if (owner.empty()) {
      unowned = count;
      continue;
    }
    owners += fmt::format("{}{}={}", owners.empty() ? "" : " ", owner, count);
  }
  if (owners.empty()) owners = "none";
  return fmt::format("owners: {}, unowned={}", owners, unowned);
}

}  // namespace presence::ctl
