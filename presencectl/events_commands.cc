// presencectl events tail: the partition event streams, merged by id.
#include <iostream>

#include <fmt/format.h>

#include "cli_context.h"
#include "ctl/deployment.h"
#include "ctl/event_replay.h"
#include "ctl/event_tail.h"
#include "ctl/output.h"
#include "store/keys.h"

namespace presence::ctl {
namespace {

struct TailArgs {
  bool follow = false;
  std::string tenant;
  size_t count = 10;
  std::string from;
};

void Print(const CliContext& context, const Event& event) {
  std::cout << (context.options.json ? JsonLine(event.ToJson()) : event.ToLine()) << '\n';
}

int RunTail(CliContext& context, const TailArgs& args) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<uint32_t> partitions = RequirePartitionCount(**redis);
  if (!partitions) return context.Fail(partitions.error());
  EventQuery query{*partitions, args.count, args.tenant};
  std::optional<StreamId> from;
  if (!args.from.empty()) from = StreamId::Parse(args.from);

  // What is already there: the last N, or the first N from --from.
  std::vector<StreamId> after(*partitions, from ? from->Previous() : StreamId{});
  if (!from || !args.follow) {
    Result<std::vector<Event>> events =
        from ? ReadEventsFrom(**redis, query, *from) : ReadLastEvents(**redis, query, after);
    if (!events) return context.Fail(events.error());
    for (const Event& event : *events) Print(context, event);
    std::cout.flush();
  }
  if (!args.follow) return kExitOk;

  // New events as they come, one flushed line each, until interrupted.
  Status followed = FollowEvents(**redis, query, after, [&context](const Event& event) {
    Print(context, event);
    std::cout.flush();
    return static_cast<bool>(std::cout);
  });
  if (!followed) return context.Fail(followed.error());
  return kExitOk;
}

struct ReplayArgs {
  std::string from;
  std::string to;
  std::string tenant;
  std::string group;
  std::string into;
};

CLI::Validator PositionValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return ParsePosition(value, false) ? std::string()
                                           : "position '" + value +
                                                 "' is not a stream id (MS-SEQ) or a time (MS or "
                                                 "RFC 3339)";
      },
      "ID|TIME", "position");
}

int RunReplay(CliContext& context, const ReplayArgs& args) {
  // A consumer group delivers every entry after its position: it cannot stop
  // at --to or skip other tenants.
  if (!args.group.empty() && (!args.to.empty() || !args.tenant.empty())) {
    return context.Usage(
        "--to and --tenant cannot be enforced by a consumer group (it delivers every entry "
        "after its position, up to the newest); use --into STREAM to copy only the selected "
        "events");
  }
  StreamId from = *ParsePosition(args.from, false);
  std::optional<StreamId> to;
  if (!args.to.empty()) {
    to = ParsePosition(args.to, true);
    if (*to < from) return context.Usage("--to " + args.to + " is before --from " + args.from);
  }
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<uint32_t> partitions = RequirePartitionCount(**redis);
  if (!partitions) return context.Fail(partitions.error());

  if (!args.group.empty()) {
    Result<GroupReplay> replay = ReplayIntoGroup(**redis, *partitions, args.group, from);
    if (!replay) return context.Fail(replay.error());
    if (context.options.json) {
      context.PrintJson({{"ok", true},
                         {"mode", "group"},
                         {"group", args.group},
                         {"from", from.ToString()},
                         {"partitions", replay->partitions},
                         {"created", replay->created},
                         {"reset", replay->reset},
                         {"events", replay->delivered}});
    } else {
      std::cout << fmt::format(
                       "group {} on {} partition streams ({} created, {} reset) positioned "
                       "before {}: {} events to deliver",
                       args.group, replay->partitions, replay->created, replay->reset,
                       from.ToString(), replay->delivered)
                << std::endl;
    }
    return kExitOk;
  }

  if (Status target = CheckReplayTarget(args.into); !target) {
    return context.Usage(target.error().message);
  }
  Result<CopyReplay> replay =
      ReplayIntoStream(**redis, *partitions, {from, to, args.tenant}, args.into);
  if (!replay) return context.Fail(replay.error());
  if (context.options.json) {
    context.PrintJson(
        {{"ok", true},
         {"mode", "stream"},
         {"into", args.into},
         {"from", from.ToString()},
         {"to", to ? nlohmann::json(to->ToString()) : nlohmann::json()},
         {"tenant", args.tenant.empty() ? nlohmann::json() : nlohmann::json(args.tenant)},
         {"scanned", replay->scanned},
         {"events", replay->copied},
         {"per_partition", replay->per_partition}});
  } else {
    std::cout << fmt::format("copied {} events (of {} in range) into {}", replay->copied,
                             replay->scanned, args.into)
              << std::endl;
  }
  return kExitOk;
}

void AddReplayCommand(CLI::App* events, CliContext& context) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* replay = events->add_subcommand(
      "replay", "Deliver past events again: to a consumer group, or copied into a stream");
  replay->add_option("--from", args->from, "First event: stream id, or time (ms or RFC 3339)")
      ->required()
      ->check(PositionValidator());
  replay->add_option("--to", args->to, "Last event, inclusive (only with --into)")
      ->check(PositionValidator());
  replay->add_option("--tenant", args->tenant, "Only events of this tenant (only with --into)")
      ->check(IdValidator("tenant"));
  CLI::Option* group = replay->add_option(
      "--group", args->group, "Create or reset this consumer group on every partition stream");
  CLI::Option* into =
      replay->add_option("--into", args->into, "Copy the selected events into this stream");
  group->excludes(into);
  replay->callback([&context, args] {
    context.SetAction([&context, args] {
      if (args->group.empty() == args->into.empty()) {
        return context.Usage("events replay needs exactly one of --group NAME or --into STREAM");
      }
      return RunReplay(context, *args);
    });
  });
}

}  // namespace

void AddEventsCommands(CLI::App& app, CliContext& context) {
  CLI::App* events = app.add_subcommand("events", "Read the event streams");
  events->require_subcommand(1);
  auto args = std::make_shared<TailArgs>();

  CLI::App* tail = events->add_subcommand("tail", "Print the latest events of all partitions");
  tail->add_flag("-f,--follow", args->follow, "Keep printing new events until interrupted");
  tail->add_option("--tenant", args->tenant, "Only events of this tenant")
      ->check(IdValidator("tenant"));
  tail->add_option("-n,--count", args->count, "How many events to print")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  tail->add_option("--from", args->from, "Start at this stream id (MS-SEQ or MS), inclusive")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            return StreamId::Parse(value) ? std::string()
                                          : "stream id '" + value + "' is not MS-SEQ or MS";
          },
          "ID", "stream_id"));
  tail->callback([&context, args] {
    context.SetAction([&context, args] { return RunTail(context, *args); });
  });
  AddReplayCommand(events, context);
}

}  // namespace presence::ctl
