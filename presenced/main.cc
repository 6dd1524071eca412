// presenced: the presence daemon. Parses the command line and the
// configuration, then hands over to the Daemon.
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "config/config.h"
#include "daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"presenced: tracks agents' Microsoft Teams presence and publishes every change"};
  std::string config_path;
  std::string instance_id, listen, redis;
  bool check_config = false, version = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)")
      ->default_str("/etc/presence/presenced.toml, else ./conf/presenced.toml");
  app.add_option("--instance-id", instance_id, "instance id (overrides [instance] id)");
  app.add_option("--listen", listen, "HTTP listen address HOST:PORT");
  app.add_option("--redis", redis, "Redis address HOST:PORT");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    fmt::print("presenced {}\n", PRESENCE_VERSION);
    return 0;
  }

  auto path = presence::daemon::ResolveConfigPath(config_path);
  auto config = presence::config::LoadConfig(path);
  if (!config) {
    fmt::print(stderr, "presenced: error: {}\n", config.error().message);
    return 2;
  }
  presence::config::ApplyEnvironment(*config);
  if (!instance_id.empty()) config->instance_id = instance_id;
  if (!listen.empty()) config->listen = listen;
  if (!redis.empty()) config->redis_address = redis;
  if (auto valid = presence::config::Validate(*config); !valid) {
    fmt::print(stderr, "presenced: error: {}\n", valid.error().message);
    return 2;
  }
  if (check_config) {
    fmt::print("{}: ok\n", path);
    return 0;
  }
  return presence::daemon::Run(*config);
}
