#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ctl/function_client.h"
#include "ctl/redis_connection.h"
#include "util/result.h"

namespace presence::ctl {

// Documented exit codes (man/presencectl.1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // Redis unreachable, a refused command, bad data
inline constexpr int kExitUsage = 2;    // the command line is wrong

struct GlobalOptions {
  std::string redis = "127.0.0.1:6379";
  std::string redis_user;           // --redis-user (env PRESENCECTL_REDIS_USER)
  std::string redis_password_file;  // --redis-password-file; else env PRESENCECTL_REDIS_PASSWORD
  bool json = false;
  bool quiet = false;
};

// What every command shares: the global options, the action the parsed
// subcommand chose, and the way results and errors are reported.
class CliContext {
 public:
  GlobalOptions options;

  // Adds --redis, --json and -q to the top-level app.
  void AddGlobalOptions(CLI::App& app);

  // Called by a subcommand's parse callback; run once parsing succeeded.
  void SetAction(std::function<int()> action) { action_ = std::move(action); }
  int Run();

  // Connects to --redis and authenticates (--redis-user, the password from
  // --redis-password-file or $PRESENCECTL_REDIS_PASSWORD); the error names the address
  // and the reason.
  Result<std::unique_ptr<RedisConnection>> Connect();

  // "presencectl: error: MESSAGE" on stderr (and with --json an
  // {"ok":false,...} object on stdout); returns kExitFailure.
  int Fail(const Error& error);

  // The Redis user and password the options and the environment give.
  Result<RedisLogin> Login() const;
  // Same as Fail without the JSON object, for a command line that is wrong.
  int Usage(const std::string& message);
  // A message for people on stderr, unless -q.
  void Note(const std::string& message) const;
  // One JSON value on one line of stdout.
  void PrintJson(const nlohmann::json& value) const;

 private:
  std::function<int()> action_;
};

// CLI11 check for a tenant or agent id (`what` names it).
CLI::Validator IdValidator(const std::string& what);

// The command groups; each adds its subcommands to `app`.
void AddAgentsCommands(CLI::App& app, CliContext& context);
void AddPartitionsCommand(CLI::App& app, CliContext& context);
void AddMembersCommand(CLI::App& app, CliContext& context);
void AddEventsCommands(CLI::App& app, CliContext& context);
void AddOperationsCommands(CLI::App& app, CliContext& context);  // drain, undrain, rebalance
void AddRebuildCommand(CLI::App& app, CliContext& context);
void AddStatusCommand(CLI::App& app, CliContext& context);
void AddConfigCommands(CLI::App& app, CliContext& context);
void AddKeysCommands(CLI::App& app, CliContext& context);  // API keys of the REST API

// Prints a parse error (with a "did you mean" for a mistyped subcommand) or
// the help that was asked for, and returns the exit code.
int ReportParseError(const CLI::App& app, const CLI::ParseError& error, int argc,
                     const char* const* argv);

}  // namespace presence::ctl
