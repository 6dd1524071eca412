// presencectl rebuild [--repair]: the agents hashes against the events.
#include <iostream>

#include <fmt/format.h>

#include "cli_context.h"
#include "ctl/deployment.h"
#include "ctl/output.h"
#include "ctl/rebuild.h"

namespace presence::ctl {
namespace {

struct RebuildArgs {
  bool repair = false;
  uint64_t tombstone_ms = 24ull * 3600 * 1000;
};

std::string Summary(const RebuildReport& report, size_t trimmed) {
  std::map<std::string, int> kinds;
  for (const AgentDifference& d : report.differences) ++kinds[d.kind];
  return fmt::format(
      "rebuild: {} partitions, {} events, {} agents: {} differences ({} missing, {} extra, {} "
      "mismatch); {} partitions trimmed, {} agents not verifiable",
      report.partitions.size(), report.events, report.agents, report.differences.size(),
      kinds["missing"], kinds["extra"], kinds["mismatch"], trimmed, report.unverifiable);
}

int RunRebuild(CliContext& context, const RebuildArgs& args) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<uint32_t> partitions = RequirePartitionCount(**redis);
  if (!partitions) return context.Fail(partitions.error());
  Result<RebuildReport> report = Rebuild(**redis, {*partitions, args.tombstone_ms});
  if (!report) return context.Fail(report.error());

  nlohmann::json trimmed = nlohmann::json::array();
  for (const PartitionHistory& history : report->partitions) {
    if (!history.trimmed) continue;
    trimmed.push_back({{"partition", history.partition},
                       {"first_id", history.first_id},
                       {"unverifiable", history.unverifiable}});
    if (!context.options.json) {
      std::cerr << fmt::format(
                       "p{}: stream trimmed, events before {} are unknown: {} agents without an "
                       "event left are not verifiable",
                       history.partition, history.first_id.empty() ? "now" : history.first_id,
                       history.unverifiable)
                << std::endl;
    }
  }

  // Every difference, then the repairs asked for.
  FunctionClient functions(**redis);
  nlohmann::json differences = nlohmann::json::array();
  size_t repaired = 0, failed = 0;
  for (const AgentDifference& difference : report->differences) {
    nlohmann::json entry = ToJson(difference);
    if (!context.options.json) std::cout << ToLine(difference) << '\n';
    if (args.repair) {
      Status done = Repair(functions, difference);
      entry["repaired"] = static_cast<bool>(done);
      if (done) {
        ++repaired;
      } else {
        ++failed;
        if (!context.options.json) {
          std::cerr << "presencectl: error: " << done.error().message << std::endl;
        }
      }
    }
    differences.push_back(std::move(entry));
  }
  std::string summary = Summary(*report, trimmed.size());
  if (args.repair) summary += fmt::format("; {} repaired, {} not", repaired, failed);
  size_t left = args.repair ? failed : report->differences.size();

  if (context.options.json) {
    nlohmann::json out = {{"ok", left == 0},
                          {"partitions", report->partitions.size()},
                          {"events", report->events},
                          {"agents", report->agents},
                          {"unverifiable", report->unverifiable},
                          {"trimmed", trimmed},
                          {"differences", differences},
                          {"repair", args.repair},
                          {"repaired", repaired}};
    if (left > 0) {
      out["code"] = "differences";
      out["message"] = summary;
    }
    context.PrintJson(out);
  } else {
    std::cout << summary << std::endl;
  }
  return left == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddRebuildCommand(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<RebuildArgs>();
  CLI::App* command = app.add_subcommand(
      "rebuild", "Recompute registrations and presence from the events and report differences");
  command->add_flag("--repair", args->repair, "Write the recomputed records back");
  command
      ->add_option("--tombstone-ms", args->tombstone_ms,
                   "Tombstone retention of presenced, for a rebuilt tombstone's expiry")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->callback([&context, args] {
    context.SetAction([&context, args] { return RunRebuild(context, *args); });
  });
}

}  // namespace presence::ctl
