// presencectl status (the deployment on one screen) and config check FILE.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_context.h"
#include "config/config.h"
#include "ctl/cluster_status.h"
#include "ctl/deployment.h"
#include "ctl/output.h"
#include "store/functions_source.h"
#include "store/keys.h"
#include "store/library_version.h"

namespace presence::ctl {
namespace {

using Hash = std::map<std::string, std::string>;

Hash ToHash(const store::RedisReply& reply) {
  Hash hash;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    hash[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return hash;
}

int64_t ToInt(const std::string& text) {
  try {
    return text.empty() ? 0 : std::stoll(text);
  } catch (const std::exception&) {
    return 0;
  }
}

Result<store::RedisReply> Ask(RedisConnection& redis, const std::vector<std::string>& command) {
  Result<store::RedisReply> reply = redis.Command(command);
  if (!reply) return reply.error();
  if (reply->is_error()) {
    return MakeError("redis_error", fmt::format("redis {}: {}: {}", redis.endpoint().ToString(),
                                                command[0], reply->str));
  }
  return reply;
}

std::string RedisVersion(const std::string& info) {
  const std::string marker = "redis_version:";
  size_t at = info.find(marker);
  if (at == std::string::npos) return "";
  size_t end = info.find_first_of("\r\n", at);
  return info.substr(at + marker.size(), end - at - marker.size());
}

struct MemberLine {
  std::string id;
  bool alive = false;
  bool draining = false;
  std::string last_error;
};

// Members read straight from their keys: status changes nothing, not even
// the Functions library.
Result<std::vector<MemberLine>> ReadMemberLines(RedisConnection& redis, int64_t now) {
  Result<store::RedisReply> ids =
      Ask(redis, {"ZRANGE", store::keys::Members(), "0", "-1", "WITHSCORES"});
  if (!ids) return ids.error();
  std::vector<MemberLine> lines;
  for (size_t i = 0; i + 1 < ids->elements.size(); i += 2) {
    MemberLine line;
    line.id = ids->elements[i].str;
    line.alive = ToInt(ids->elements[i + 1].str) > now;
    Result<store::RedisReply> hash = Ask(redis, {"HGETALL", store::keys::Member(line.id)});
    if (!hash) return hash.error();
    Hash fields = ToHash(*hash);
    Result<store::RedisReply> drained = Ask(redis, {"SISMEMBER", store::keys::Draining(), line.id});
    if (!drained) return drained.error();
    line.draining = fields["draining"] == "1" || drained->integer == 1;
    line.last_error = fields["last_error"];
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end(),
            [](const MemberLine& a, const MemberLine& b) { return a.id < b.id; });
  return lines;
}

int RunStatus(CliContext& context) {
  Result<std::unique_ptr<RedisConnection>> connected = context.Connect();
  if (!connected) return context.Fail(connected.error());
  RedisConnection& redis = **connected;
  Result<store::RedisReply> info = Ask(redis, {"INFO", "server"});
  if (!info) return context.Fail(info.error());
  Result<store::RedisReply> loaded = redis.Command({"FCALL_RO", "presence_version", "0"});
  if (!loaded) return context.Fail(loaded.error());
  std::string loaded_version = loaded->is_error() ? "" : loaded->str;
  std::string binary_version = store::LibraryVersionOf(store::FunctionsSource());
  Result<uint32_t> partitions = RequirePartitionCount(redis);
  if (!partitions) return context.Fail(partitions.error());
  Result<ClusterStatus> cluster = ReadClusterStatus(redis, *partitions);
  if (!cluster) return context.Fail(cluster.error());
  Result<std::vector<MemberLine>> members = ReadMemberLines(redis, cluster->now_ms);
  if (!members) return context.Fail(members.error());
  Result<store::RedisReply> leader_reply = Ask(redis, {"HGETALL", store::keys::Leader()});
  if (!leader_reply) return context.Fail(leader_reply.error());
  Hash leader = ToHash(*leader_reply);
  bool leading = !leader["instance"].empty() && !leader["token"].empty() &&
                 ToInt(leader["expires_at"]) > cluster->now_ms;

  std::vector<std::string> alive, draining, dead;
  nlohmann::json member_json = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  for (const MemberLine& m : *members) {
    (m.alive ? alive : dead).push_back(m.id);
    if (m.alive && m.draining) draining.push_back(m.id);
    member_json.push_back({{"id", m.id}, {"alive", m.alive}, {"draining", m.draining}});
    if (!m.last_error.empty()) errors.push_back({{"instance", m.id}, {"error", m.last_error}});
  }
  std::vector<uint32_t> unowned;
  for (const PartitionStatus& p : cluster->partitions) {
    if (p.owner.empty()) unowned.push_back(p.partition);
  }
  std::string redis_version = RedisVersion(info->str);
  nlohmann::json leader_json =
      leading ? nlohmann::json{{"instance", leader["instance"]},
                               {"epoch", ToInt(leader["epoch"])},
                               {"expires_in_ms", ToInt(leader["expires_at"]) - cluster->now_ms}}
              : nlohmann::json();

  if (context.options.json) {
    nlohmann::json out = {
        {"ok", true},
        {"redis", {{"address", redis.endpoint().ToString()}, {"version", redis_version}}},
        {"functions",
         {{"loaded", loaded_version.empty() ? nlohmann::json() : nlohmann::json(loaded_version)},
          {"binary", binary_version},
          {"current", loaded_version == binary_version}}},
        {"partitions", *partitions},
        {"members", member_json},
        {"alive", alive.size()},
        {"draining", draining.size()},
        {"leader", leader_json},
        {"assignment_generation", cluster->assignment_generation},
        {"unowned", unowned.size()},
        {"unowned_partitions", unowned},
        {"owners", nlohmann::json::object()}};
    for (const auto& [owner, count] : OwnerCounts(*cluster)) {
      if (!owner.empty()) out["owners"][owner] = count;
    }
    if (!errors.empty()) out["errors"] = errors;
    context.PrintJson(out);
    return kExitOk;
  }

  auto list = [](const std::vector<std::string>& ids) {
    return ids.empty() ? std::string() : fmt::format(" ({})", fmt::join(ids, ", "));
  };
  std::cout << fmt::format("redis       {} (redis {})\n", redis.endpoint().ToString(),
                           redis_version.empty() ? "?" : redis_version);
  std::cout << fmt::format("functions   loaded {}, this binary {}{}\n",
                           loaded_version.empty() ? "none" : loaded_version, binary_version,
                           loaded_version == binary_version ? "" : " (differs)");
  std::cout << fmt::format("partitions  {}\n", *partitions);
  std::cout << fmt::format("members     {} alive{}, {} draining{}, {} dead{}\n", alive.size(),
                           list(alive), draining.size(), list(draining), dead.size(), list(dead));
  std::cout << (leading ? fmt::format("leader      {} (epoch {})\n", leader["instance"],
                                      leader["epoch"])
                        : std::string("leader      none\n"));
  std::cout << fmt::format("assignment  generation {}\n", cluster->assignment_generation);
  std::cout << fmt::format("unowned     {} partitions{}\n", unowned.size(),
                           unowned.empty() ? "" : fmt::format(" (p{})", fmt::join(unowned, ", p")));
  for (const nlohmann::json& error : errors) {
    std::cout << fmt::format("error       {}: {}\n", error["instance"].get<std::string>(),
                             error["error"].get<std::string>());
  }
  std::cout.flush();
  return kExitOk;
}

int RunConfigCheck(CliContext& context, const std::string& file) {
  Result<config::Config> loaded = config::LoadConfig(file);
  if (!loaded) {
    if (context.options.json) {
      context.PrintJson({{"ok", false},
                         {"file", file},
                         {"code", loaded.error().code},
                         {"message", loaded.error().message}});
    }
    std::cerr << loaded.error().message << std::endl;
    return kExitFailure;
  }
  if (context.options.json) {
    context.PrintJson({{"ok", true}, {"file", file}});
  } else {
    std::cout << file << ": ok" << std::endl;
  }
  return kExitOk;
}

}  // namespace

void AddStatusCommand(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("status", "Show the deployment on one screen");
  command->callback([&context] { context.SetAction([&context] { return RunStatus(context); }); });
}

void AddConfigCommands(CLI::App& app, CliContext& context) {
  CLI::App* config = app.add_subcommand("config", "Presenced configuration files");
  config->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  CLI::App* check = config->add_subcommand("check", "Check a presenced TOML file");
  check->add_option("FILE", *file, "The file")->required();
  check->callback([&context, file] {
    context.SetAction([&context, file] { return RunConfigCheck(context, *file); });
  });
}

}  // namespace presence::ctl
