#include "cli_context.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

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
  app.add_option("--redis-user", options.redis_user, "Redis ACL user (default: the default user)")
      ->envname("PRESENCECTL_REDIS_USER");
  app.add_option("--redis-password-file", options.redis_password_file,
                 "File holding the Redis password (else $PRESENCECTL_REDIS_PASSWORD)");
  app.add_flag("--json", options.json, "Machine-readable JSON output on stdout");
  app.add_flag("-q,--quiet", options.quiet, "Print nothing on success but requested data");
}

int CliContext::Run() {
  if (!action_) {
    return Usage(
        "a command is required (agents, partitions, members, events, drain, undrain, "
        "rebalance, rebuild, status, config, keys)");
  }
  return action_();
}

Result<std::unique_ptr<RedisConnection>> CliContext::Connect() {
  Result<RedisEndpoint> endpoint = ParseRedisEndpoint(options.redis);
  if (!endpoint) return endpoint.error();
  Result<RedisLogin> login = Login();
  if (!login) return login.error();
  return RedisConnection::Connect(*endpoint, std::chrono::milliseconds(5000), *login);
}

Result<RedisLogin> CliContext::Login() const {
  RedisLogin login;
  login.username = options.redis_user;

  // The password never comes from the command line, where ps would show it.
  if (!options.redis_password_file.empty()) {
    std::ifstream in(options.redis_password_file, std::ios::binary);
    std::ostringstream content;
    if (in) content << in.rdbuf();
    if (!in || in.bad()) {
      return MakeError("bad_password_file",
                       fmt::format("--redis-password-file {}: cannot read: {}",
                                   options.redis_password_file, std::strerror(errno)));
    }
    login.password = content.str();
    while (!login.password.empty() &&
           (login.password.back() == '\n' || login.password.back() == '\r')) {
      login.password.pop_back();
    }
    if (login.password.empty()) {
      return MakeError("bad_password_file", fmt::format("--redis-password-file {}: the file is "
                                                        "empty",
                                                        options.redis_password_file));
    }
    return login;
  }
  if (const char* password = std::getenv("PRESENCECTL_REDIS_PASSWORD")) login.password = password;
  return login;
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
