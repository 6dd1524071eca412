// presencectl drain, undrain and rebalance: steering which instance holds
// which partition, through the leader and the normal lease handoff.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_context.h"
#include "ctl/cluster_status.h"
#include "ctl/deployment.h"
#include "ctl/output.h"
#include "ctl/rebalance_plan.h"
#include "store/keys.h"

namespace presence::ctl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(200);

struct OperationArgs {
  std::string instance;
  bool wait = true;
  double timeout_s = 60;
  bool force = false;
  bool dry_run = false;
};

struct Session {
  std::unique_ptr<RedisConnection> redis;
  std::unique_ptr<FunctionClient> functions;
  uint32_t partitions = 0;
};

Result<Session> Open(CliContext& context) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return redis.error();
  Session session;
  session.redis = std::move(*redis);
  session.functions = std::make_unique<FunctionClient>(*session.redis);
  Result<uint32_t> partitions = RequirePartitionCount(*session.redis);
  if (!partitions) return partitions.error();
  session.partitions = *partitions;
  return session;
}

Clock::time_point DeadlineAfter(double seconds) {
  return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

partition::Assignment TargetOf(const ClusterStatus& status) {
  partition::Assignment target;
  for (const PartitionStatus& p : status.partitions) target.push_back(p.target);
  return target;
}

int OwnedBy(const ClusterStatus& status, const std::string& instance) {
  return static_cast<int>(
      std::count_if(status.partitions.begin(), status.partitions.end(),
                    [&](const PartitionStatus& p) { return p.owner == instance; }));
}

// Checks that draining `id` leaves somebody to take its partitions.
Status CheckDrainable(const MembersView& view, const std::string& id, bool force) {
  if (force) return Ok{};
  auto member = std::find_if(view.members.begin(), view.members.end(),
                             [&](const MemberState& m) { return m.id == id; });
  if (member == view.members.end()) {
    std::string known;
    for (const MemberState& m : view.members) known += (known.empty() ? "" : ", ") + m.id;
    return MakeError("unknown_instance",
                     fmt::format("instance '{}' is not a member (members: {}); --force drains it "
                                 "anyway, before it starts",
                                 id, known.empty() ? "none" : known));
  }
  std::vector<std::string> left = AssignableMembers(view);
  left.erase(std::remove(left.begin(), left.end(), id), left.end());
  if (left.empty()) {
    return MakeError("last_member",
                     fmt::format("draining '{}' would leave no live member to own the partitions; "
                                 "--force drains it anyway",
                                 id));
  }
  return Ok{};
}

int RunDrain(CliContext& context, const OperationArgs& args, bool drain) {
  Result<Session> session = Open(context);
  if (!session) return context.Fail(session.error());
  if (drain) {
    Result<MembersView> view = ReadMembers(*session->functions);
    if (!view) return context.Fail(view.error());
    if (Status ok = CheckDrainable(*view, args.instance, args.force); !ok) {
      return context.Fail(ok.error());
    }
  }
  Result<nlohmann::json> answer = session->functions->Call(
      {"presence_drain", {store::keys::Draining()}, {args.instance, drain ? "1" : "0"}, false});
  if (!answer) return context.Fail(answer.error());
  if (!answer->value("ok", false)) {
    return context.Fail(MakeError(answer->value("code", "refused"),
                                  "presence_drain: " + answer->value("message", "")));
  }
  bool changed = answer->value("changed", false);
  const char* verb = drain ? "draining" : "undrained";
  context.Note(fmt::format("{} {}{}", verb, args.instance, changed ? "" : " (already)"));

  // Undrain, or drain without waiting: the request is in place.
  int owned = -1;
  auto started = Clock::now();
  if (drain && args.wait) {
    auto deadline = DeadlineAfter(args.timeout_s);
    int shown = -1;
    while (true) {
      Result<ClusterStatus> status = ReadClusterStatus(*session->redis, session->partitions);
      if (!status) return context.Fail(status.error());
      owned = OwnedBy(*status, args.instance);
      int unowned = OwnedBy(*status, "");
      if (owned != shown) {
        context.Note(fmt::format("drain {}: {} partitions left", args.instance, owned));
        shown = owned;
      }
      // Done when the others hold what it gave up, not merely when it let go.
      if (owned == 0 && unowned == 0) break;
      if (Clock::now() >= deadline) {
        return context.Fail(MakeError(
            "timeout", fmt::format("drain {}: still owns {} partitions after {:g} s; it stays "
                                   "drained (undrain {} to take it back)",
                                   args.instance, owned, args.timeout_s, args.instance)));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (context.options.json) {
    nlohmann::json out = {{"ok", true},
                          {"instance", args.instance},
                          {"draining", drain},
                          {"changed", changed},
                          {"drained_set", answer->value("draining", nlohmann::json::array())}};
    if (owned >= 0) {
      out["partitions_owned"] = owned;
      out["seconds"] = seconds;
    }
    context.PrintJson(out);
  } else if (!context.options.quiet && owned == 0) {
    std::cout << fmt::format("drained {}: 0 partitions owned, all owned by others after {:.1f} s",
                             args.instance, seconds)
              << std::endl;
  }
  return kExitOk;
}

std::string NewRequestId() {
  std::random_device device;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{:08x}",
                     std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), device());
}

// Waits until the leader acknowledges `request`; the generation it wrote.
Result<int64_t> WaitForAcknowledgement(RedisConnection& redis, const std::string& request,
                                       Clock::time_point deadline) {
  while (true) {
    Result<store::RedisReply> reply =
        redis.Command({"HMGET", store::keys::Rebalance(), "done", "generation"});
    if (!reply) return reply.error();
    if (!reply->is_error() && reply->elements.size() == 2 && reply->elements[0].str == request) {
      return std::stoll(reply->elements[1].str.empty() ? "0" : reply->elements[1].str);
    }
    if (Clock::now() >= deadline) {
      Result<store::RedisReply> leader = redis.Command({"HGET", store::keys::Leader(), "instance"});
      std::string name = leader && !leader->is_nil() ? leader->str : "";
      return MakeError("timeout",
                       fmt::format("rebalance request {} not acknowledged by a leader in time "
                                   "(leader lease names '{}'; is presenced running?)",
                                   request, name.empty() ? "nobody" : name));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Partitions whose current owner is not yet their target.
std::vector<uint32_t> Pending(const ClusterStatus& status) {
  std::vector<uint32_t> pending;
  for (const PartitionStatus& p : status.partitions) {
    if (!p.target.empty() && p.owner != p.target) pending.push_back(p.partition);
  }
  return pending;
}

int RunRebalance(CliContext& context, const OperationArgs& args) {
  Result<Session> session = Open(context);
  if (!session) return context.Fail(session.error());
  Result<MembersView> view = ReadMembers(*session->functions);
  if (!view) return context.Fail(view.error());
  Result<ClusterStatus> status = ReadClusterStatus(*session->redis, session->partitions);
  if (!status) return context.Fail(status.error());
  RebalancePlan plan =
      PlanRebalance(session->partitions, AssignableMembers(*view), TargetOf(*status));

  nlohmann::json out = {{"ok", true},
                        {"dry_run", args.dry_run},
                        {"members", plan.members},
                        {"generation", status->assignment_generation},
                        {"moves", MovesJson(plan.moves)}};
  if (!context.options.json) {
    std::cout << fmt::format("members: {}; {} of {} partitions move",
                             plan.members.empty() ? std::string("none")
                                                  : fmt::format("{}", fmt::join(plan.members, ",")),
                             plan.moves.size(), session->partitions)
              << '\n';
    for (const Move& move : plan.moves) std::cout << FormatMove(move) << '\n';
    std::cout.flush();
  }
  if (args.dry_run) {
    if (context.options.json) context.PrintJson(out);
    return kExitOk;
  }

  std::string request = NewRequestId();
  auto started = Clock::now();
  auto deadline = DeadlineAfter(args.timeout_s);
  Result<nlohmann::json> asked = session->functions->Call(
      {"presence_rebalance_request", {store::keys::Rebalance()}, {request}, false});
  if (!asked) return context.Fail(asked.error());
  context.Note(fmt::format("rebalance request {} sent to the leader", request));
  Result<int64_t> generation = WaitForAcknowledgement(*session->redis, request, deadline);
  if (!generation) return context.Fail(generation.error());
  context.Note(fmt::format("leader wrote assignment generation {}", *generation));

  // The moves the leader actually made, then the handoff of each.
  std::vector<Move> made;
  size_t shown = SIZE_MAX;
  while (true) {
    Result<ClusterStatus> now = ReadClusterStatus(*session->redis, session->partitions);
    if (!now) return context.Fail(now.error());
    if (made.empty()) made = DiffAssignments(plan.current, TargetOf(*now));
    std::vector<uint32_t> pending = Pending(*now);
    if (pending.size() != shown) {
      context.Note(
          fmt::format("rebalance: {} partitions not yet held by their new owner", pending.size()));
      shown = pending.size();
    }
    if (pending.empty()) break;
    if (Clock::now() >= deadline) {
      return context.Fail(MakeError(
          "timeout", fmt::format("rebalance: {} partitions still not held by their target after "
                                 "{:g} s (first: p{})",
                                 pending.size(), args.timeout_s, pending.front())));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  out["generation"] = *generation;
  out["moves"] = MovesJson(made);
  out["request"] = request;
  out["seconds"] = seconds;
  if (context.options.json) {
    context.PrintJson(out);
  } else {
    std::cout << fmt::format("rebalanced: generation {}, {} partitions moved, in {:.1f} s",
                             *generation, made.size(), seconds)
              << std::endl;
  }
  return kExitOk;
}

void AddTimeout(CLI::App* command, OperationArgs& args) {
  command->add_option("--timeout", args.timeout_s, "Seconds to wait at most")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
}

}  // namespace

void AddOperationsCommands(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<OperationArgs>();

  CLI::App* drain =
      app.add_subcommand("drain", "Move an instance's partitions away and give it no new ones");
  drain->add_option("INSTANCE", args->instance, "Instance id")->required();
  drain->add_flag("--wait,!--no-wait", args->wait,
                  "Wait until it owns no partition (default) or return at once");
  drain->add_flag("--force", args->force, "Drain an unknown or the last live instance too");
  AddTimeout(drain, *args);
  drain->callback([&context, args] {
    context.SetAction([&context, args] { return RunDrain(context, *args, true); });
  });

  CLI::App* undrain = app.add_subcommand("undrain", "Let a drained instance own partitions again");
  undrain->add_option("INSTANCE", args->instance, "Instance id")->required();
  undrain->callback([&context, args] {
    context.SetAction([&context, args] { return RunDrain(context, *args, false); });
  });

  CLI::App* rebalance =
      app.add_subcommand("rebalance", "Show the moves to a balanced target, then make them");
  rebalance->add_flag("--dry-run", args->dry_run, "Only show the moves");
  AddTimeout(rebalance, *args);
  rebalance->callback([&context, args] {
    context.SetAction([&context, args] { return RunRebalance(context, *args); });
  });
}

}  // namespace presence::ctl
