// How presencectl reports a command line it cannot parse: CLI11's message
// under the "presencectl: error:" prefix, a suggestion for a mistyped
// subcommand, and exit code 2.
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli_context.h"
#include "ctl/suggest.h"

namespace presence::ctl {
namespace {

// Where the walk down the command tree stopped.
struct CommandPosition {
  std::string path;                // the commands walked through, "agents "
  std::string typed;               // a word that names no subcommand there; empty when none
  std::vector<std::string> names;  // the subcommands expected there
};

// True when `name` is an option of `app` (or a parent it falls through to)
// that takes a value as the next argument.
bool TakesValue(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* option = app->get_option_no_throw(name); option != nullptr) {
      // A flag (--json, -q) expects no value; get_type_size() is not 0 for flags.
      return option->get_items_expected_min() > 0;
    }
  }
  return false;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub :
       app->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
  return list;
}

// Walks the arguments down the command tree, stopping at the first word that
// stands where a subcommand is expected but names none, or at the end.
// nullopt when the walk reaches a command without subcommands.
std::optional<CommandPosition> WalkCommands(const CLI::App& app, int argc,
                                            const char* const* argv) {
  const CLI::App* current = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') == std::string::npos && TakesValue(current, arg)) ++i;
      continue;
    }
    std::vector<std::string> names = SubcommandNames(current);
    if (names.empty()) return std::nullopt;  // positional arguments from here on

    const CLI::App* next = nullptr;
    for (const CLI::App* sub :
         current->get_subcommands([&arg](const CLI::App* s) { return s->check_name(arg); })) {
      if (!sub->get_name().empty()) next = sub;
    }
    if (next == nullptr) return CommandPosition{path, arg, names};
    path += arg + " ";
    current = next;
  }
  std::vector<std::string> names = SubcommandNames(current);
  if (names.empty()) return std::nullopt;
  return CommandPosition{path, "", names};
}

}  // namespace

int ReportParseError(const CLI::App& app, const CLI::ParseError& error, int argc,
                     const char* const* argv) {
  // --help is not a failure: CLI11 prints the help of the chosen subcommand.
  if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    return const_cast<CLI::App&>(app).exit(error);
  }

  // Name the command that is missing or mistyped, else keep CLI11's message.
  std::string message = error.what();
  bool hint_help = true;
  std::optional<CommandPosition> unknown = WalkCommands(app, argc, argv);
  if (unknown && unknown->typed.empty()) {
    std::string after = "presencectl " + unknown->path;
    after.pop_back();  // the path ends with a space
    message = "'" + after + "' needs a command: " + JoinNames(unknown->names);
  } else if (unknown) {
    message = "unknown command '" + unknown->path + unknown->typed + "'";
    if (std::optional<std::string> match = ClosestMatch(unknown->typed, unknown->names)) {
      message += " (did you mean '" + unknown->path + *match + "'?)";
    } else {
      message += "; commands: " + JoinNames(unknown->names);
    }
    hint_help = false;
  }

  // Scripts that asked for JSON get the failure as JSON too.
  for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i) {
    if (std::string(argv[i]) == "--json") {
      std::cout << nlohmann::json{{"ok", false}, {"code", "usage"}, {"message", message}}.dump()
                << std::endl;
      break;
    }
  }
  std::cerr << "presencectl: error: " << message << std::endl;
  if (hint_help) std::cerr << "Run with --help for more information." << std::endl;
  return kExitUsage;
}

}  // namespace presence::ctl
