#include "cli_context.h"

#include <chrono>
#include <iostream>

#include "ctl/agent_input.h"
#include "ctl/output.h"

namespace presence::ctl {

void CliContext::AddGlobalOptions(CLI::App& app) {
  app.add_option("--redis", options.redis, "Redis address HOST:PORT")
      ->envname("PRESENCE_REDIS")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            Result<RedisEndpoint> endpoint = ParseRedisEndpoint(value);
            return endpoint ? std::string() : endpoint.error().message;
          },
          "HOST:PORT", "redis_address"));
  app.add_flag("--json", options.json, "Machine-readable JSON output on stdout");
  app.add_flag("-q,--quiet", options.quiet, "Print nothing on success but requested data");
}

int CliContext::Run() {
  if (!action_) {
    return Usage(
        "a command is required (agents, partitions, members, events, drain, undrain, "
        "rebalance, rebuild, status, config)");
  }
  return action_();
}

Result<std::unique_ptr<RedisConnection>> CliContext::Connect() {
  Result<RedisEndpoint> endpoint = ParseRedisEndpoint(options.redis);
  if (!endpoint) return endpoint.error();
  return RedisConnection::Connect(*endpoint, std::chrono::milliseconds(5000));
}

int CliContext::Fail(const Error& error) {
  if (options.json) {
    PrintJson({{"ok", false}, {"code", error.code}, {"message", error.message}});
  }
  std::cerr << "presencectl: error: " << error.message << std::endl;
  return kExitFailure;
}

int CliContext::Usage(const std::string& message) {
  if (options.json) PrintJson({{"ok", false}, {"code", "usage"}, {"message", message}});
  std::cerr << "presencectl: error: " << message << "\n"
            << "Run with --help for more information." << std::endl;
  return kExitUsage;
}

void CliContext::Note(const std::string& message) const {
  if (!options.quiet) std::cerr << message << std::endl;
}

void CliContext::PrintJson(const nlohmann::json& value) const {
  std::cout << JsonLine(value) << std::endl;
}

CLI::Validator IdValidator(const std::string& what) {
  return CLI::Validator(
      [what](std::string& value) -> std::string {
        Status valid = ValidateId(what, value);
        return valid ? std::string() : valid.error().message;
      },
      "ID", what + "_id");
}

}  // namespace presence::ctl
