// presencectl: the operator's tool. It talks to Redis directly through the
// same Functions as presenced; every command lives in one file per group.
#include <CLI/CLI.hpp>

#include "cli_context.h"

int main(int argc, char** argv) {
  using namespace presence::ctl;

  CLI::App app{"Operate a Presence deployment through its Redis", "presencectl"};
  app.fallthrough();  // global options are accepted after the subcommand too
  app.require_subcommand(1);
  CliContext context;
  context.AddGlobalOptions(app);
  AddAgentsCommands(app, context);
  AddPartitionsCommand(app, context);
  AddMembersCommand(app, context);
  AddEventsCommands(app, context);
  AddOperationsCommands(app, context);
  AddRebuildCommand(app, context);
  AddStatusCommand(app, context);
  AddConfigCommands(app, context);
  AddKeysCommands(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return ReportParseError(app, error, argc, argv);
  }
  return context.Run();
}
