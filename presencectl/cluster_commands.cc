// presencectl partitions and presencectl members: who owns what.
#include <iostream>

#include <fmt/format.h>

#include "cli_context.h"
#include "ctl/cluster_status.h"
#include "ctl/deployment.h"
#include "ctl/output.h"
#include "store/keys.h"

namespace presence::ctl {
namespace {

std::string OptionalText(const std::optional<int64_t>& value) {
  return value ? std::to_string(*value) : "-";
}

nlohmann::json OptionalJson(const std::optional<int64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

nlohmann::json ToJson(const PartitionStatus& p) {
  return {{"partition", p.partition},
          {"owner", p.owner.empty() ? nlohmann::json() : nlohmann::json(p.owner)},
          {"lease_holder", p.lease_holder},
          {"epoch", p.epoch},
          {"lease_expires_in_ms", OptionalJson(p.lease_expires_in_ms)},
          {"agents", p.agents},
          {"last_poll_age_ms", OptionalJson(p.last_poll_age_ms)},
          {"last_poll_agents", p.last_poll_agents},
          {"target", p.target.empty() ? nlohmann::json() : nlohmann::json(p.target)}};
}

Result<ClusterStatus> ReadStatus(CliContext& context) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return redis.error();
  Result<uint32_t> partitions = RequirePartitionCount(**redis);
  if (!partitions) return partitions.error();
  return ReadClusterStatus(**redis, *partitions);
}

int RunPartitions(CliContext& context) {
  Result<ClusterStatus> status = ReadStatus(context);
  if (!status) return context.Fail(status.error());

  if (context.options.json) {
    nlohmann::json partitions = nlohmann::json::array();
    for (const PartitionStatus& p : status->partitions) partitions.push_back(ToJson(p));
    nlohmann::json owners = nlohmann::json::object();
    int unowned = 0;
    for (const auto& [owner, count] : OwnerCounts(*status)) {
      if (owner.empty())
        unowned = count;
      else
        owners[owner] = count;
    }
    context.PrintJson({{"ok", true},
                       {"now", status->now_ms},
                       {"assignment_generation", status->assignment_generation},
                       {"partitions", partitions},
                       {"owners", owners},
                       {"unowned", unowned}});
    return kExitOk;
  }

  Table table({"PARTITION", "OWNER", "EPOCH", "LEASE_EXPIRES_IN_MS", "AGENTS", "LAST_POLL_AGE_MS",
               "TARGET"});
  for (const PartitionStatus& p : status->partitions) {
    table.AddRow({std::to_string(p.partition), p.owner.empty() ? "-" : p.owner,
                  std::to_string(p.epoch), OptionalText(p.lease_expires_in_ms),
                  std::to_string(p.agents), OptionalText(p.last_poll_age_ms),
                  p.target.empty() ? "-" : p.target});
  }
  table.Print(std::cout);
  std::cout << FormatOwnerSummary(*status) << std::endl;
  return kExitOk;
}

int RunMembers(CliContext& context) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<uint32_t> partitions = RequirePartitionCount(**redis);
  if (!partitions) return context.Fail(partitions.error());
  FunctionClient functions(**redis);
  Result<nlohmann::json> answer =
      functions.Call({"presence_members", {store::keys::Members()}, {}, /*read_only=*/true});
  if (!answer) return context.Fail(answer.error());
  if (!answer->value("ok", false)) {
    return context.Fail(MakeError(answer->value("code", "refused"),
                                  "presence_members: " + answer->value("message", "")));
  }

  // Partitions owned: unexpired leases held by the member, as Redis sees them.
  Result<ClusterStatus> status = ReadClusterStatus(**redis, *partitions);
  if (!status) return context.Fail(status.error());
  std::map<std::string, int> owned = OwnerCounts(*status);
  int64_t now = FieldInt(*answer, "now", status->now_ms);

  nlohmann::json members = nlohmann::json::array();
  Table table({"ID", "ALIVE", "HEARTBEAT_AGE_MS", "PARTITIONS_OWNED", "ADDR"});
  for (nlohmann::json member : (*answer)["members"]) {
    std::string id = FieldText(member, "id");
    int64_t heartbeat = FieldInt(member, "heartbeat_at");
    member["heartbeat_age_ms"] = heartbeat > 0 ? nlohmann::json(now - heartbeat) : nlohmann::json();
    member["partitions_owned"] = owned.count(id) ? owned[id] : 0;
    member.erase("token");  // an incarnation secret, not for display
    table.AddRow({id, FieldText(member, "alive"), FieldText(member, "heartbeat_age_ms"),
                  FieldText(member, "partitions_owned"), FieldText(member, "addr")});
    members.push_back(std::move(member));
  }

  if (context.options.json) {
    context.PrintJson({{"ok", true}, {"now", now}, {"members", members}});
  } else {
    table.Print(std::cout);
  }
  return kExitOk;
}

}  // namespace

void AddPartitionsCommand(CLI::App& app, CliContext& context) {
  CLI::App* command =
      app.add_subcommand("partitions", "Show every partition's owner, lease, agents and poll");
  command->callback(
      [&context] { context.SetAction([&context] { return RunPartitions(context); }); });
}

void AddMembersCommand(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("members", "Show the presenced instances");
  command->callback([&context] { context.SetAction([&context] { return RunMembers(context); }); });
}

}  // namespace presence::ctl
