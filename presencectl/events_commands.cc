// presencectl events tail: the partition event streams, merged by id.
#include <iostream>

#include "cli_context.h"
#include "ctl/deployment.h"
#include "ctl/event_tail.h"
#include "ctl/output.h"

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
}

}  // namespace presence::ctl
